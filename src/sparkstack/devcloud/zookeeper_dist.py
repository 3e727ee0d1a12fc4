"""A ZooKeeper server runtime assembled from Maven Central jars, for tests and the devcloud demo.

Users get ZooKeeper from Apache's archive
(``https://archive.apache.org/dist/zookeeper/zookeeper-V/apache-zookeeper-V-bin.tar.gz``), but
the test machine reaches only PyPI, Maven Central and Debian's apt repositories. Maven Central
has ZooKeeper's jars and those of its runtime dependencies; this module downloads a fixed list of
them (each checked against the ``.sha1`` Maven Central publishes beside it) and arranges them in
the layout of Apache's binary tarball (``lib/*.jar``, ``conf/zoo_sample.cfg``), so the product
deploys it as it deploys Apache's tarball. Only what the server
(``org.apache.zookeeper.server.quorum.QuorumPeerMain``) needs is included: no ``bin/`` scripts,
no TLS natives, no admin server (Jetty). The result is NOT an Apache release. The download of
the jars and the packing are ``sparkstack.devcloud.maven``'s, shared with ``hadoop_dist``.

Layout of the cache (the dist part mirrors https://archive.apache.org/dist/zookeeper/ so that
serving ``dist_root()`` over HTTP gives Apache-shaped URLs)::

    <cache>/maven/<group path>/<artifact>/<version>/<artifact>-<version>.jar (+ .sha1)
    <cache>/zookeeper-dist/zookeeper-V/apache-zookeeper-V-bin.tar.gz (+ .sha512, sha512sum format)
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sparkstack import paths
from sparkstack.devcloud.maven import (
    BuiltTarball,
    build_lock,
    cached_sha512,
    pack,
)
from sparkstack.errors import SparkstackError
from sparkstack.maven import MavenJar, fetch_jars

#: The ZooKeeper this runtime was resolved for. Maven Central lists 3.9.6 too, but without its
#: parent POM (parent-3.9.6.pom: 404), so its dependency versions cannot be resolved there.
DEFAULT_VERSION = "3.9.5"

_NETTY = "4.1.130.Final"

#: The runtime of ZooKeeper 3.9.5's server, as ``group:artifact:version`` with ``{zk}`` for the
#: ZooKeeper version. Resolved with ``mvn dependency:list -DincludeScope=runtime`` on
#: ``org.apache.zookeeper:zookeeper:3.9.5`` (versions from its parent POM), minus what only
#: optional features use, plus what the server needs although the POM does not say so.
#: Other ZooKeeper versions get the same third-party jars: fine for 3.9.x, check before others.
RUNTIME_JARS: tuple[str, ...] = (
    "org.apache.zookeeper:zookeeper:{zk}",
    "org.apache.zookeeper:zookeeper-jute:{zk}",
    "org.apache.yetus:audience-annotations:0.12.0",
    # Netty: only for serverCnxnFactory=NettyServerCnxnFactory and TLS (the default NIO
    # factory starts a standalone server and a 3-server quorum without these jars: tried);
    # kept so that lib/ matches Apache's. Left out: netty-transport-native-epoll and
    # netty-tcnative-boringssl-static (platform natives, only for epoll and TLS).
    f"io.netty:netty-handler:{_NETTY}",
    f"io.netty:netty-buffer:{_NETTY}",
    f"io.netty:netty-common:{_NETTY}",
    f"io.netty:netty-transport:{_NETTY}",
    f"io.netty:netty-codec:{_NETTY}",
    f"io.netty:netty-resolver:{_NETTY}",
    f"io.netty:netty-transport-native-unix-common:{_NETTY}",
    "commons-io:commons-io:2.17.0",
    "org.slf4j:slf4j-api:2.0.13",
    # A binding (Apache ships logback, an optional dependency): without one the server logs
    # nothing at all. slf4j-simple logs INFO and up to stderr and needs no configuration file.
    "org.slf4j:slf4j-simple:2.0.13",
    # "provided" in ZooKeeper's POM, but the server fails at start without them:
    # ClassNotFoundException com.codahale.metrics.Reservoir (the default metrics provider) and
    # org.xerial.snappy.SnappyInputStream (loaded with the snapshot code).
    "io.dropwizard.metrics:metrics-core:4.1.12.1",
    "org.xerial.snappy:snappy-java:1.1.10.5",
)

_ZOO_SAMPLE = """\
# A sample standalone configuration (sparkstack's test build; Apache ships a longer one).
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial synchronization phase can take
initLimit=10
# The number of ticks that can pass between sending a request and getting an acknowledgement
syncLimit=5
# The directory where the snapshot is stored. Do not use /tmp for storage in production.
dataDir=/tmp/zookeeper
# The port at which the clients will connect
clientPort=2181
# For an ensemble, one line per server: server.N=host:quorumPort:electionPort
#server.1=zk1:2888:3888
#server.2=zk2:2888:3888
#server.3=zk3:2888:3888
"""

_README = """\
This is NOT an Apache ZooKeeper release.

sparkstack's test bed assembled it from ZooKeeper {version}'s jars on Maven Central and the jars
of their runtime dependencies (each checked against Maven Central's .sha1), in the layout of
Apache's apache-zookeeper-{version}-bin.tar.gz: lib/*.jar and conf/. It holds only what the
server needs (org.apache.zookeeper.server.quorum.QuorumPeerMain): no bin/ scripts, no TLS
natives, no admin server (set admin.enableServer=false). It logs through slf4j-simple to stderr.

Jars:
{jars}
"""


@dataclass(frozen=True)
class ZookeeperDist(BuiltTarball):
    """The built ZooKeeper tarball and its SHA-512 (hex)."""


def runtime_jars(version: str = DEFAULT_VERSION) -> list[MavenJar]:
    """The jars of the server runtime for ZooKeeper ``version``."""
    return [MavenJar.parse(coordinate.format(zk=version)) for coordinate in RUNTIME_JARS]


def dist_root(cache: Path | None = None) -> Path:
    """Directory to serve over HTTP: ``zookeeper-V/apache-zookeeper-V-bin.tar.gz`` below it."""
    return (cache or paths.cache_dir()) / "zookeeper-dist"


def dir_name(version: str) -> str:
    """The tarball's top directory, as in Apache's."""
    return f"apache-zookeeper-{version}-bin"


def tarball_name(version: str) -> str:
    return f"{dir_name(version)}.tar.gz"


def build_zookeeper_dist(
    version: str = DEFAULT_VERSION, cache: Path | None = None
) -> ZookeeperDist:
    """Return the cached tarball for ``version``, building it from Maven Central when missing."""
    cache = cache or paths.cache_dir()
    tarball = dist_root(cache) / f"zookeeper-{version}" / tarball_name(version)
    if (digest := cached_sha512(tarball)) is not None:
        return ZookeeperDist(tarball, digest)
    with build_lock(tarball.parent):
        if (digest := cached_sha512(tarball)) is not None:  # built while we waited
            return ZookeeperDist(tarball, digest)
        jars = runtime_jars(version)
        files = fetch_jars(jars, cache / "maven")
        with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".build-") as work:
            built = pack(_assemble(files, jars, Path(work), version), tarball)
    return ZookeeperDist(built.tarball, built.sha512)


def _assemble(files: list[Path], jars: list[MavenJar], work: Path, version: str) -> Path:
    """Arrange the jars under ``work`` as ``apache-zookeeper-V-bin/``."""
    dest = work / dir_name(version)
    (dest / "lib").mkdir(parents=True)
    (dest / "conf").mkdir()
    for path in files:
        shutil.copyfile(path, dest / "lib" / path.name)
    (dest / "conf" / "zoo_sample.cfg").write_text(_ZOO_SAMPLE)
    listing = "\n".join(f"  {jar}" for jar in jars)
    (dest / "README_sparkstack.txt").write_text(_README.format(version=version, jars=listing))
    return dest


def main() -> None:
    """``python -m sparkstack.devcloud.zookeeper_dist [VERSION]``: build and print the path."""
    version = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VERSION
    try:
        dist = build_zookeeper_dist(version)
    except SparkstackError as exc:
        sys.exit(f"error: {exc}")
    print(dist.tarball)


if __name__ == "__main__":
    main()
