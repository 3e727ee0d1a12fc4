"""An HDFS runtime assembled from Maven Central jars, for tests and the devcloud demo.

Users get Hadoop from Apache's archive
(``https://archive.apache.org/dist/hadoop/common/hadoop-V/hadoop-V.tar.gz`` + ``.sha512``), but
the test machine reaches only PyPI, Maven Central and Debian's apt repositories. Maven Central
has Hadoop's jars and those of their runtime dependencies; this module downloads a fixed list of
them (each checked against the ``.sha1`` Maven Central publishes beside it; the download and the
packing are ``sparkstack.devcloud.maven``'s, shared with ``zookeeper_dist``) and arranges them in
the layout of Apache's tarball, so the product deploys it as it deploys Apache's::

    hadoop-V/bin/hdfs                       POSIX sh: the foreground part of Apache's bin/hdfs
    hadoop-V/etc/hadoop/                    log4j.properties (stderr, INFO), empty *-site.xml
    hadoop-V/share/hadoop/common/           hadoop-common-V.jar
    hadoop-V/share/hadoop/common/lib/       third-party jars, hadoop-auth, hadoop-annotations
    hadoop-V/share/hadoop/hdfs/             hadoop-hdfs-V.jar, hadoop-hdfs-client-V.jar
    hadoop-V/share/hadoop/hdfs/webapps/     the NameNode's and DataNode's web apps
    hadoop-V/README_sparkstack.txt

Only HDFS is in it (NameNode, DataNode and the ``dfs``/``dfsadmin``/``fsck``/``getconf``/
``version`` commands): no YARN, no MapReduce, no ``sbin/`` scripts, no ``lib/native``. The web
apps (``webapps/hdfs``, ``webapps/datanode``, ``webapps/static``, ...) are not in
``hadoop-hdfs-V.jar``: on Maven Central only the ``tests`` jar holds them, so they are unzipped
from it (the jar itself is left out). The result is NOT an Apache release.

Layout of the cache (the dist part mirrors https://archive.apache.org/dist/hadoop/common/ so that
serving ``dist_root()`` over HTTP gives Apache-shaped URLs)::

    <cache>/maven/<group path>/<artifact>/<version>/<artifact>-<version>[-<classifier>].jar
    <cache>/hadoop-dist/hadoop-V/hadoop-V.tar.gz (+ .sha512, sha512sum format)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sparkstack import paths
from sparkstack.devcloud.maven import (
    BuiltTarball,
    build_lock,
    cached_sha512,
    pack,
)
from sparkstack.errors import DevcloudError, SparkstackError
from sparkstack.maven import MavenJar, fetch_jars

#: The Hadoop that Spark's default build bundles (``jars/hadoop-client-api-3.5.0.jar`` in the
#: tarball of ``spark_dist``), so Spark talks to this HDFS with no extra jars.
DEFAULT_VERSION = "3.5.0"

#: The runtime of HDFS, as ``group:artifact:version[:classifier]`` with ``{hadoop}`` for the
#: Hadoop version. Resolved with ``mvn dependency:list -DincludeScope=runtime`` on
#: ``org.apache.hadoop:hadoop-hdfs``, ``hadoop-hdfs-client`` and ``hadoop-common`` 3.5.0
#: (128 jars; hadoop-hdfs declares the other two "provided", hence all three), minus the natives
#: of other platforms and the classes that only load with them, never used on Linux x86_64:
#: netty-transport-native-epoll linux-aarch_64 and linux-riscv64, netty-transport-native-kqueue
#: and netty-resolver-dns-native-macos (osx-x86_64, osx-aarch_64), netty-transport-classes-kqueue,
#: netty-resolver-dns-classes-macos. Kept although HDFS loads none of their classes (no class
#: outside them refers to them), as Apache's share/hadoop/common/lib has them: netty's rarer
#: codecs and transports (haproxy, memcache, mqtt, redis, smtp, stomp, xml; rxtx, sctp, udt;
#: together 0.4 MB) and netty-all (an empty jar that depends on all of netty).
#: Other Hadoop versions get the same third-party jars: check them before using another.
RUNTIME_JARS: tuple[str, ...] = (
    "ch.qos.reload4j:reload4j:1.2.22",
    "com.fasterxml.jackson.core:jackson-annotations:2.18.6",
    "com.fasterxml.jackson.core:jackson-core:2.18.6",
    "com.fasterxml.jackson.core:jackson-databind:2.18.6",
    "com.fasterxml.woodstox:woodstox-core:5.4.0",
    "com.google.code.findbugs:jsr305:3.0.2",
    "com.google.code.gson:gson:2.9.0",
    "com.google.guava:failureaccess:1.0.3",
    "com.google.guava:guava:33.4.8-jre",
    "com.google.guava:listenablefuture:9999.0-empty-to-avoid-conflict-with-guava",
    "com.google.j2objc:j2objc-annotations:3.0.0",
    "com.google.re2j:re2j:1.1",
    "com.jcraft:jsch:0.1.55",
    "com.nimbusds:nimbus-jose-jwt:10.4",
    "com.sun.activation:jakarta.activation:1.2.2",
    "com.sun.istack:istack-commons-runtime:3.0.12",
    "commons-cli:commons-cli:1.9.0",
    "commons-codec:commons-codec:1.15",
    "commons-daemon:commons-daemon:1.0.13",
    "commons-io:commons-io:2.16.1",
    "commons-logging:commons-logging:1.2",
    "commons-net:commons-net:3.9.0",
    "dnsjava:dnsjava:3.6.1",
    "io.dropwizard.metrics:metrics-core:3.2.4",
    "io.netty:netty-all:4.1.130.Final",
    "io.netty:netty-buffer:4.1.130.Final",
    "io.netty:netty-codec-dns:4.1.130.Final",
    "io.netty:netty-codec-haproxy:4.1.130.Final",
    "io.netty:netty-codec-http2:4.1.130.Final",
    "io.netty:netty-codec-http:4.1.130.Final",
    "io.netty:netty-codec-memcache:4.1.130.Final",
    "io.netty:netty-codec-mqtt:4.1.130.Final",
    "io.netty:netty-codec-redis:4.1.130.Final",
    "io.netty:netty-codec-smtp:4.1.130.Final",
    "io.netty:netty-codec-socks:4.1.130.Final",
    "io.netty:netty-codec-stomp:4.1.130.Final",
    "io.netty:netty-codec-xml:4.1.130.Final",
    "io.netty:netty-codec:4.1.130.Final",
    "io.netty:netty-common:4.1.130.Final",
    "io.netty:netty-handler-proxy:4.1.130.Final",
    "io.netty:netty-handler-ssl-ocsp:4.1.130.Final",
    "io.netty:netty-handler:4.1.130.Final",
    "io.netty:netty-resolver-dns:4.1.130.Final",
    "io.netty:netty-resolver:4.1.130.Final",
    "io.netty:netty-transport-classes-epoll:4.1.130.Final",
    "io.netty:netty-transport-native-epoll:4.1.130.Final",
    "io.netty:netty-transport-native-epoll:4.1.130.Final:linux-x86_64",
    "io.netty:netty-transport-native-unix-common:4.1.130.Final",
    "io.netty:netty-transport-rxtx:4.1.130.Final",
    "io.netty:netty-transport-sctp:4.1.130.Final",
    "io.netty:netty-transport-udt:4.1.130.Final",
    "io.netty:netty-transport:4.1.130.Final",
    "jakarta.activation:jakarta.activation-api:1.2.1",
    "jakarta.annotation:jakarta.annotation-api:1.3.5",
    "jakarta.servlet.jsp:jakarta.servlet.jsp-api:2.3.6",
    "jakarta.servlet:jakarta.servlet-api:4.0.4",
    "jakarta.validation:jakarta.validation-api:2.0.2",
    "jakarta.ws.rs:jakarta.ws.rs-api:2.1.6",
    "jakarta.xml.bind:jakarta.xml.bind-api:2.3.3",
    "javax.servlet:javax.servlet-api:3.1.0",
    "org.apache.avro:avro:1.11.5",
    "org.apache.commons:commons-collections4:4.4",
    "org.apache.commons:commons-compress:1.26.1",
    "org.apache.commons:commons-configuration2:2.10.1",
    "org.apache.commons:commons-lang3:3.18.0",
    "org.apache.commons:commons-math3:3.6.1",
    "org.apache.commons:commons-text:1.14.0",
    "org.apache.curator:curator-client:5.2.0",
    "org.apache.curator:curator-framework:5.2.0",
    "org.apache.curator:curator-recipes:5.2.0",
    "org.apache.hadoop.thirdparty:hadoop-shaded-guava:1.5.0",
    "org.apache.hadoop.thirdparty:hadoop-shaded-protobuf_3_25:1.5.0",
    "org.apache.hadoop:hadoop-annotations:{hadoop}",
    "org.apache.hadoop:hadoop-auth:{hadoop}",
    "org.apache.hadoop:hadoop-common:{hadoop}",
    "org.apache.hadoop:hadoop-hdfs-client:{hadoop}",
    "org.apache.hadoop:hadoop-hdfs:{hadoop}",
    "org.apache.httpcomponents:httpclient:4.5.13",
    "org.apache.httpcomponents:httpcore:4.4.13",
    "org.apache.kerby:kerb-core:2.0.3",
    "org.apache.kerby:kerb-crypto:2.0.3",
    "org.apache.kerby:kerb-util:2.0.3",
    "org.apache.kerby:kerby-asn1:2.0.3",
    "org.apache.kerby:kerby-config:2.0.3",
    "org.apache.kerby:kerby-pkix:2.0.3",
    "org.apache.kerby:kerby-util:2.0.3",
    "org.apache.yetus:audience-annotations:0.12.0",
    "org.apache.zookeeper:zookeeper-jute:3.8.6",
    "org.apache.zookeeper:zookeeper:3.8.6",
    "org.bouncycastle:bcprov-jdk18on:1.82",
    "org.codehaus.woodstox:stax2-api:4.2.1",
    "org.eclipse.jetty:jetty-http:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-io:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-security:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-server:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-servlet:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-util-ajax:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-util:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-webapp:9.4.58.v20250814",
    "org.eclipse.jetty:jetty-xml:9.4.58.v20250814",
    "org.fusesource.leveldbjni:leveldbjni-all:1.8",
    "org.glassfish.hk2.external:aopalliance-repackaged:2.6.1",
    "org.glassfish.hk2.external:jakarta.inject:2.6.1",
    "org.glassfish.hk2:hk2-api:2.6.1",
    "org.glassfish.hk2:hk2-locator:2.6.1",
    "org.glassfish.hk2:hk2-utils:2.6.1",
    "org.glassfish.hk2:osgi-resource-locator:1.0.3",
    "org.glassfish.jaxb:jaxb-runtime:2.3.9",
    "org.glassfish.jaxb:txw2:2.3.9",
    "org.glassfish.jersey.containers:jersey-container-servlet-core:2.46",
    "org.glassfish.jersey.containers:jersey-container-servlet:2.46",
    "org.glassfish.jersey.core:jersey-client:2.46",
    "org.glassfish.jersey.core:jersey-common:2.46",
    "org.glassfish.jersey.core:jersey-server:2.46",
    "org.glassfish.jersey.inject:jersey-hk2:2.46",
    "org.javassist:javassist:3.30.2-GA",
    "org.jspecify:jspecify:1.0.0",
    "org.slf4j:slf4j-api:1.7.36",
    "org.slf4j:slf4j-reload4j:1.7.36",
    "org.xerial.snappy:snappy-java:1.1.10.4",
)

#: The jar with the web apps (only ``webapps/`` is taken from it).
WEBAPPS_JAR = "org.apache.hadoop:hadoop-hdfs:{hadoop}:tests"

#: Where Apache's tarball has Hadoop's own jars; every other jar goes to share/hadoop/common/lib.
_HOME_DIRS = {
    "hadoop-common": "share/hadoop/common",
    "hadoop-hdfs": "share/hadoop/hdfs",
    "hadoop-hdfs-client": "share/hadoop/hdfs",
}

#: Where ``bin/hdfs`` puts ``webapps/`` on the classpath (the directory itself, as Apache's).
WEBAPPS_DIR = "share/hadoop/hdfs"

_BIN_HDFS = r"""#!/bin/sh
# bin/hdfs of sparkstack's HDFS test build (NOT an Apache release): the foreground part of Apache
# Hadoop's bin/hdfs, with its environment contract, in POSIX sh (no libexec/, no bash needed).
#
#   hdfs [--config CONFDIR] [--loglevel LEVEL] COMMAND [ARGS...]
#   COMMAND: namenode datanode dfsadmin dfs fsck getconf version, or a fully qualified class name
#
# Read as Apache's script reads them: HADOOP_HOME (default: this script's ../), HADOOP_CONF_DIR
# (default $HADOOP_HOME/etc/hadoop; first on the classpath; its hadoop-env.sh is sourced),
# JAVA_HOME (else java on PATH), HADOOP_OPTS (default -Djava.net.preferIPv4Stack=true),
# HADOOP_CLIENT_OPTS (not for namenode/datanode), HDFS_<COMMAND>_OPTS (HDFS_NAMENODE_OPTS,
# HDFS_DATANODE_OPTS, ...; the older HADOOP_<COMMAND>_OPTS with a warning), HADOOP_HEAPSIZE_MAX /
# HADOOP_HEAPSIZE / HADOOP_HEAPSIZE_MIN (digits only = MB; no -Xmx/-Xms added when the options
# have one already), HADOOP_LOG_DIR (default $HADOOP_HOME/logs), HADOOP_LOGFILE, HADOOP_LOGLEVEL,
# HADOOP_ROOT_LOGGER (default LEVEL,console), HADOOP_SECURITY_LOGGER, HDFS_AUDIT_LOGGER,
# HADOOP_IDENT_STRING (default $USER), HADOOP_PID_DIR (default /tmp), HADOOP_CLASSPATH,
# HADOOP_USER_CLASSPATH_FIRST, MALLOC_ARENA_MAX (default 4).
# namenode and datanode, as Apache's foreground daemons, create HADOOP_LOG_DIR and HADOOP_PID_DIR,
# refuse to start while the pid file $HADOOP_PID_DIR/hadoop-$HADOOP_IDENT_STRING-COMMAND.pid names
# a live one, and write their pid there. Every command execs java, so the pid of this script is
# the JVM's. Not here: --daemon, --workers, secure (jsvc) DataNodes, user switching, ~/.hadooprc.

err() {
  echo "$*" >&2
}

usage() {
  cat >&2 <<'EOF'
Usage: hdfs [--config confdir] [--loglevel level] COMMAND [ARGS...]
  (sparkstack's HDFS test build: the foreground commands below only)
  namenode    run the DFS namenode (namenode -format: format the DFS filesystem)
  datanode    run a DFS datanode
  dfsadmin    run a DFS admin client
  dfs         run a filesystem command on the file system
  fsck        run a DFS filesystem checking utility
  getconf     get config values from configuration
  version     print the version
  CLASSNAME   run the class named CLASSNAME
EOF
  exit "$1"
}

# add_param KEY VALUE: append VALUE to HADOOP_OPTS unless KEY occurs in it (as Apache's
# hadoop_add_param: options the user set win over the defaults added here).
add_param() {
  case " $HADOOP_OPTS" in
    *"$1"*) ;;
    *) HADOOP_OPTS="${HADOOP_OPTS:+$HADOOP_OPTS }$2" ;;
  esac
}

# add_heap VALUE Xmx|Xms: digits only mean MB
add_heap() {
  case $1 in
    *[!0-9]*) add_param "$2" "-$2$1" ;;
    *) add_param "$2" "-$2${1}m" ;;
  esac
}

if [ -z "${HADOOP_HOME:-}" ]; then
  script=$(readlink -f -- "$0" 2>/dev/null) || script=$0
  HADOOP_HOME=$(cd -P -- "$(dirname -- "$script")/.." && pwd -P) || exit 1
fi
export HADOOP_HOME
export HADOOP_OPTS="${HADOOP_OPTS:--Djava.net.preferIPv4Stack=true}"

while [ $# -gt 0 ]; do
  case $1 in
    --config)
      if [ $# -lt 2 ] || [ -z "$2" ]; then
        err "ERROR: No parameter provided for --config "
        usage 1
      elif [ ! -d "$2" ]; then
        err "ERROR: Cannot find configuration directory \"$2\""
        usage 1
      fi
      HADOOP_CONF_DIR=$2
      shift 2
      ;;
    --loglevel)
      [ $# -ge 2 ] || usage 1
      HADOOP_LOGLEVEL=$2
      shift 2
      ;;
    --help | -help | -h | help | --h | --\? | -\? | \?)
      usage 0
      ;;
    --*)
      err "ERROR: option $1 is not supported by this build of bin/hdfs (foreground runs only)"
      exit 1
      ;;
    *)
      break
      ;;
  esac
done
[ $# -gt 0 ] || usage 1

export HADOOP_CONF_DIR="${HADOOP_CONF_DIR:-$HADOOP_HOME/etc/hadoop}"
if [ -z "${HADOOP_ENV_PROCESSED:-}" ] && [ -f "$HADOOP_CONF_DIR/hadoop-env.sh" ]; then
  export HADOOP_ENV_PROCESSED=true
  # shellcheck disable=SC1091
  . "$HADOOP_CONF_DIR/hadoop-env.sh"
fi
if [ ! -f "$HADOOP_CONF_DIR/log4j.properties" ]; then
  err "WARNING: log4j.properties is not found. HADOOP_CONF_DIR may be incomplete."
fi

export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-4}"
if [ -n "${JAVA_HOME:-}" ]; then
  if [ ! -d "$JAVA_HOME" ]; then
    err "ERROR: JAVA_HOME $JAVA_HOME does not exist."
    exit 1
  fi
  JAVA=$JAVA_HOME/bin/java
  if [ ! -x "$JAVA" ]; then
    err "ERROR: $JAVA is not executable."
    exit 1
  fi
elif ! JAVA=$(command -v java); then
  err "ERROR: JAVA_HOME is not set and java is not on the PATH."
  exit 1
fi

USER=${USER:-$(id -nu)}
HADOOP_IDENT_STRING=${HADOOP_IDENT_STRING:-$USER}
HADOOP_LOG_DIR=${HADOOP_LOG_DIR:-$HADOOP_HOME/logs}
HADOOP_LOGFILE=${HADOOP_LOGFILE:-hadoop.log}
HADOOP_LOGLEVEL=${HADOOP_LOGLEVEL:-INFO}
HADOOP_PID_DIR=${HADOOP_PID_DIR:-/tmp}
HADOOP_ROOT_LOGGER=${HADOOP_ROOT_LOGGER:-$HADOOP_LOGLEVEL,console}
HADOOP_SECURITY_LOGGER=${HADOOP_SECURITY_LOGGER:-INFO,NullAppender}
HDFS_AUDIT_LOGGER=${HDFS_AUDIT_LOGGER:-INFO,NullAppender}
HADOOP_POLICYFILE=${HADOOP_POLICYFILE:-hadoop-policy.xml}

command=$1
shift
daemon=false
case $command in
  namenode)
    daemon=true
    CLASS=org.apache.hadoop.hdfs.server.namenode.NameNode
    add_param hdfs.audit.logger "-Dhdfs.audit.logger=$HDFS_AUDIT_LOGGER"
    ;;
  datanode)
    daemon=true
    CLASS=org.apache.hadoop.hdfs.server.datanode.DataNode
    ;;
  dfsadmin) CLASS=org.apache.hadoop.hdfs.tools.DFSAdmin ;;
  dfs) CLASS=org.apache.hadoop.fs.FsShell ;;
  fsck) CLASS=org.apache.hadoop.hdfs.tools.DFSck ;;
  getconf) CLASS=org.apache.hadoop.hdfs.tools.GetConf ;;
  version) CLASS=org.apache.hadoop.util.VersionInfo ;;
  *.*) CLASS=$command ;;
  *)
    err "ERROR: $command is not a COMMAND of this build nor a fully qualified CLASSNAME."
    usage 1
    ;;
esac

if [ "$daemon" = false ]; then
  HADOOP_OPTS="$HADOOP_OPTS ${HADOOP_CLIENT_OPTS:-}"
fi
case $command in
  *.*) ;;
  *)
    # HDFS_<COMMAND>_OPTS (the command is one of the fixed names above: safe to eval)
    upper=$(echo "$command" | tr '[:lower:]' '[:upper:]')
    eval "old=\${HADOOP_${upper}_OPTS:-}"
    if [ -n "$old" ]; then
      err "WARNING: HADOOP_${upper}_OPTS has been replaced by HDFS_${upper}_OPTS." \
        "Using value of HADOOP_${upper}_OPTS."
      eval "HDFS_${upper}_OPTS=\$old"
    fi
    eval "opts=\${HDFS_${upper}_OPTS:-}"
    if [ -n "$opts" ]; then
      HADOOP_OPTS="$HADOOP_OPTS $opts"
    fi
    ;;
esac

share=$HADOOP_HOME/share/hadoop
CLASSPATH="$HADOOP_CONF_DIR:$share/common/lib/*:$share/common/*:$share/hdfs:$share/hdfs/*"
if [ -n "${HADOOP_CLASSPATH:-}" ] && [ -z "${HADOOP_USE_CLIENT_CLASSLOADER:-}" ]; then
  if [ -n "${HADOOP_USER_CLASSPATH_FIRST:-}" ]; then
    CLASSPATH="$HADOOP_CLASSPATH:$CLASSPATH"
  else
    CLASSPATH="$CLASSPATH:$HADOOP_CLASSPATH"
  fi
fi
export CLASSPATH

if [ -n "${HADOOP_HEAPSIZE_MAX:-}" ]; then
  add_heap "$HADOOP_HEAPSIZE_MAX" Xmx
fi
if [ -n "${HADOOP_HEAPSIZE:-}" ]; then
  add_heap "$HADOOP_HEAPSIZE" Xmx
fi
if [ -n "${HADOOP_HEAPSIZE_MIN:-}" ]; then
  add_heap "$HADOOP_HEAPSIZE_MIN" Xms
fi
add_param hadoop.log.dir "-Dhadoop.log.dir=$HADOOP_LOG_DIR"
add_param hadoop.log.file "-Dhadoop.log.file=$HADOOP_LOGFILE"
add_param hadoop.home.dir "-Dhadoop.home.dir=$HADOOP_HOME"
add_param hadoop.id.str "-Dhadoop.id.str=$HADOOP_IDENT_STRING"
add_param hadoop.root.logger "-Dhadoop.root.logger=$HADOOP_ROOT_LOGGER"
add_param hadoop.policy.file "-Dhadoop.policy.file=$HADOOP_POLICYFILE"
add_param hadoop.security.logger "-Dhadoop.security.logger=$HADOOP_SECURITY_LOGGER"
# Java 17+ (Apache adds these since Hadoop 3.4.1, HADOOP-19310)
add_param IgnoreUnrecognizedVMOptions -XX:+IgnoreUnrecognizedVMOptions
for package in java.io java.lang java.math java.util java.util.zip sun.security.util \
  sun.security.x509; do
  add_param "java.base/$package=" "--add-opens=java.base/$package=ALL-UNNAMED"
done

if [ "$daemon" = true ]; then
  for dir in "$HADOOP_PID_DIR" "$HADOOP_LOG_DIR"; do
    mkdir -p -- "$dir" 2>/dev/null
    if ! touch "$dir/$$" 2>/dev/null; then
      err "ERROR: Unable to write in $dir. Aborting."
      exit 1
    fi
    rm -f -- "$dir/$$"
  done
  pidfile=$HADOOP_PID_DIR/hadoop-$HADOOP_IDENT_STRING-$command.pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null)
    case $pid in
      '' | *[!0-9]*) ;;
      *)
        if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx -- "-Dproc_$command"; then
          err "$command is running as process $pid.  Stop it first and ensure $pidfile" \
            "file is empty before retry."
          exit 1
        fi
        ;;
    esac
    rm -f -- "$pidfile"
  fi
  if ! echo $$ >"$pidfile" 2>/dev/null; then
    err "ERROR:  Cannot write $command pid $pidfile."
  fi
fi

set -f # the options are split at blanks, as Apache's are, but never glob-expanded
# shellcheck disable=SC2086
exec "$JAVA" "-Dproc_$command" $HADOOP_OPTS "$CLASS" "$@"
"""

_LOG4J = """\
# sparkstack's HDFS test build (Apache ships a longer file). bin/hdfs sets hadoop.root.logger
# from HADOOP_ROOT_LOGGER (default INFO,console): everything goes to stderr unless told otherwise.
hadoop.root.logger=INFO,console
hadoop.log.dir=.
hadoop.log.file=hadoop.log
log4j.rootLogger=${hadoop.root.logger}
log4j.threshold=ALL

log4j.appender.NullAppender=org.apache.log4j.varia.NullAppender

log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n

# HADOOP_ROOT_LOGGER=INFO,RFA: a file, HADOOP_LOG_DIR/HADOOP_LOGFILE (default hadoop.log)
log4j.appender.RFA=org.apache.log4j.RollingFileAppender
log4j.appender.RFA.File=${hadoop.log.dir}/${hadoop.log.file}
log4j.appender.RFA.MaxFileSize=256MB
log4j.appender.RFA.MaxBackupIndex=20
log4j.appender.RFA.layout=org.apache.log4j.PatternLayout
log4j.appender.RFA.layout.ConversionPattern=%d{ISO8601} %p %c: %m%n

hadoop.security.logger=INFO,NullAppender
log4j.category.SecurityLogger=${hadoop.security.logger}

hdfs.audit.logger=INFO,NullAppender
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=${hdfs.audit.logger}
log4j.additivity.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=false

# There is no lib/native in this build: Hadoop's pure-Java code paths are used, as they would be
# without the natives; the warning about it at every start says nothing new.
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
"""

_EMPTY_SITE = """\
<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>
<!-- Site-specific property overrides go here (sparkstack's HDFS test build). -->
<configuration>
</configuration>
"""

_HADOOP_ENV = """\
# Sourced by bin/hdfs (POSIX sh, as every other line of bin/hdfs) before anything else is read,
# as Apache's hadoop-env.sh is. sparkstack's HDFS test build: see bin/hdfs for the variables it
# honours, e.g.
# export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
# export HADOOP_HEAPSIZE_MAX=1g
# export HDFS_NAMENODE_OPTS="-XX:+UseG1GC"
"""

_README = """\
This is NOT an Apache Hadoop release.

sparkstack's test bed assembled it from Hadoop {version}'s jars on Maven Central and the jars of
their runtime dependencies (each checked against Maven Central's .sha1), in the layout of Apache's
hadoop-{version}.tar.gz. It holds HDFS only: the NameNode, the DataNode and the client commands.

bin/hdfs is a POSIX sh rewrite of the foreground part of Apache's bin/hdfs: the commands
namenode, datanode, dfsadmin, dfs, fsck, getconf and version (or a class name), with Apache's
environment variables (JAVA_HOME, HADOOP_CONF_DIR, HADOOP_OPTS, HDFS_NAMENODE_OPTS,
HDFS_DATANODE_OPTS, HADOOP_HEAPSIZE_MAX, HADOOP_LOG_DIR, HADOOP_PID_DIR, ...: the script's
header lists them). It has no --daemon, --workers, secure DataNode or user switching, and there
are no sbin/ scripts: start the daemons in the background yourself (bin/hdfs execs java, so the
pid of "bin/hdfs namenode &" is the JVM's).

The web apps in share/hadoop/hdfs/webapps were unzipped from hadoop-hdfs-{version}-tests.jar
(Maven Central has them nowhere else). There is no lib/native. Logging goes to stderr
(etc/hadoop/log4j.properties).

Jars:
{jars}
"""


@dataclass(frozen=True)
class HadoopDist(BuiltTarball):
    """The built Hadoop tarball and its SHA-512 (hex)."""


def runtime_jars(version: str = DEFAULT_VERSION) -> list[MavenJar]:
    """The jars of the HDFS runtime for Hadoop ``version``."""
    return [MavenJar.parse(coordinate.format(hadoop=version)) for coordinate in RUNTIME_JARS]


def webapps_jar(version: str = DEFAULT_VERSION) -> MavenJar:
    return MavenJar.parse(WEBAPPS_JAR.format(hadoop=version))


def dist_root(cache: Path | None = None) -> Path:
    """Directory to serve over HTTP: ``hadoop-V/hadoop-V.tar.gz`` below it."""
    return (cache or paths.cache_dir()) / "hadoop-dist"


def dir_name(version: str) -> str:
    """The tarball's top directory, as in Apache's."""
    return f"hadoop-{version}"


def tarball_name(version: str) -> str:
    return f"{dir_name(version)}.tar.gz"


def build_hadoop_dist(version: str = DEFAULT_VERSION, cache: Path | None = None) -> HadoopDist:
    """Return the cached tarball for ``version``, building it from Maven Central when missing."""
    cache = cache or paths.cache_dir()
    tarball = dist_root(cache) / dir_name(version) / tarball_name(version)
    if (digest := cached_sha512(tarball)) is not None:
        return HadoopDist(tarball, digest)
    with build_lock(tarball.parent):
        if (digest := cached_sha512(tarball)) is not None:  # built while we waited
            return HadoopDist(tarball, digest)
        jars = runtime_jars(version)
        webapps = webapps_jar(version)
        *files, webapps_file = fetch_jars([*jars, webapps], cache / "maven")
        with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".build-") as work:
            root = _assemble(files, jars, webapps_file, webapps, Path(work), version)
            built = pack(root, tarball)
    return HadoopDist(built.tarball, built.sha512)


def jar_dir(jar: MavenJar) -> str:
    """The directory of ``jar`` below the tarball's top directory."""
    if jar.group == "org.apache.hadoop" and jar.artifact in _HOME_DIRS:
        return _HOME_DIRS[jar.artifact]
    return "share/hadoop/common/lib"


def _assemble(
    files: list[Path],
    jars: list[MavenJar],
    webapps_file: Path,
    webapps: MavenJar,
    work: Path,
    version: str,
) -> Path:
    """Arrange everything under ``work`` as ``hadoop-V/``."""
    dest = work / dir_name(version)
    for path, jar in zip(files, jars, strict=True):
        target = dest / jar_dir(jar)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / path.name)
    _unzip_webapps(webapps_file, webapps, dest / WEBAPPS_DIR)
    (dest / "bin").mkdir()
    hdfs = dest / "bin" / "hdfs"
    hdfs.write_text(_BIN_HDFS)
    hdfs.chmod(0o755)
    conf = dest / "etc" / "hadoop"
    conf.mkdir(parents=True)
    (conf / "log4j.properties").write_text(_LOG4J)
    (conf / "core-site.xml").write_text(_EMPTY_SITE)
    (conf / "hdfs-site.xml").write_text(_EMPTY_SITE)
    (conf / "hadoop-env.sh").write_text(_HADOOP_ENV)
    listing = "\n".join(f"  {jar}  ->  {jar_dir(jar)}/" for jar in jars)
    listing += f"\n  {webapps}  ->  webapps/ only, into {WEBAPPS_DIR}/"
    (dest / "README_sparkstack.txt").write_text(_README.format(version=version, jars=listing))
    return dest


def _unzip_webapps(jar_file: Path, jar: MavenJar, dest: Path) -> None:
    """The ``webapps/`` entries of the jar, below ``dest``."""
    count = 0
    try:
        with zipfile.ZipFile(jar_file) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename)
                if name.parts[:1] != ("webapps",) or info.is_dir():
                    continue
                if name.is_absolute() or ".." in name.parts:
                    raise DevcloudError(f"jar {jar} has an unsafe entry {info.filename!r}")
                target = dest.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                count += 1
    except (zipfile.BadZipFile, OSError) as exc:
        raise DevcloudError(
            f"could not read the web apps from jar {jar} ({jar_file}): {exc}"
        ) from exc
    if not count:
        raise DevcloudError(f"jar {jar} ({jar_file}) has no webapps/: HDFS's web servers need them")


def main() -> None:
    """``python -m sparkstack.devcloud.hadoop_dist [VERSION]``: build and print the path."""
    version = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VERSION
    try:
        dist = build_hadoop_dist(version)
    except SparkstackError as exc:
        sys.exit(f"error: {exc}")
    print(dist.tarball)


if __name__ == "__main__":
    main()
