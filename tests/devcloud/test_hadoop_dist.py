"""The HDFS test build: Apache's layout from Maven Central jars, and a single-node HDFS that runs.

The build goes into the user's cache (read before any test points SPARKSTACK_CACHE_DIR
elsewhere), like the Spark and ZooKeeper tarballs: the jars are downloaded from Maven Central
once, later runs reuse them. The HDFS runs from the unpacked tarball in a temporary directory, on
127.0.0.1 and free ports only, started as the product starts daemons (``setsid nohup bin/hdfs
... &`` with a pid file) and stopped by that pid.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sparkstack import paths
from sparkstack.devcloud import hadoop_dist
from sparkstack.devcloud.hadoop_dist import DEFAULT_VERSION, HadoopDist, build_hadoop_dist

_BUILD_CACHE = paths.cache_dir()
TOP = f"hadoop-{DEFAULT_VERSION}"
#: Small JVMs, as the product's test clusters run them
JVM_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1"
WAIT = 90


@pytest.fixture(scope="module")
def dist() -> HadoopDist:
    return build_hadoop_dist(cache=_BUILD_CACHE)


def test_layout_and_checksum(dist: HadoopDist) -> None:
    assert dist.tarball == (
        hadoop_dist.dist_root(_BUILD_CACHE) / f"hadoop-{DEFAULT_VERSION}" / f"{TOP}.tar.gz"
    )
    assert dist.sha512 == hashlib.sha512(dist.tarball.read_bytes()).hexdigest()
    assert dist.sha512_file.read_text() == f"{dist.sha512}  {dist.tarball.name}\n"
    with tarfile.open(dist.tarball) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert {name.split("/")[0] for name in members} == {TOP}
    jars = {name for name in members if name.endswith(".jar")}
    assert len(jars) == len(hadoop_dist.RUNTIME_JARS)
    assert jars >= {
        f"{TOP}/share/hadoop/common/hadoop-common-{DEFAULT_VERSION}.jar",
        f"{TOP}/share/hadoop/hdfs/hadoop-hdfs-{DEFAULT_VERSION}.jar",
        f"{TOP}/share/hadoop/hdfs/hadoop-hdfs-client-{DEFAULT_VERSION}.jar",
        f"{TOP}/share/hadoop/common/lib/hadoop-auth-{DEFAULT_VERSION}.jar",
    }
    assert not [name for name in jars if "-tests" in name or "osx" in name or "aarch_64" in name]
    for name in (
        "bin/hdfs",
        "etc/hadoop/log4j.properties",
        "etc/hadoop/core-site.xml",
        "etc/hadoop/hdfs-site.xml",
        "README_sparkstack.txt",
        "share/hadoop/hdfs/webapps/hdfs/dfshealth.html",
        "share/hadoop/hdfs/webapps/hdfs/WEB-INF/web.xml",
        "share/hadoop/hdfs/webapps/datanode/datanode.html",
        "share/hadoop/hdfs/webapps/static/hadoop.css",
    ):
        assert members[f"{TOP}/{name}"].isfile(), name
    assert members[f"{TOP}/bin/hdfs"].mode == 0o755
    assert members[f"{TOP}/etc/hadoop/log4j.properties"].mode == 0o644
    assert all(m.uid == 0 and m.gid == 0 and m.uname == m.gname == "root" for m in members.values())


def test_cached_build_does_not_download(dist: HadoopDist, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached build went to the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)  # what sparkstack.maven calls
    mtime = dist.tarball.stat().st_mtime_ns
    again = build_hadoop_dist(cache=_BUILD_CACHE)
    assert again == dist
    assert dist.tarball.stat().st_mtime_ns == mtime


@pytest.fixture(scope="module")
def home(dist: HadoopDist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball unpacked, as the product unpacks it."""
    root = tmp_path_factory.mktemp("hadoop")
    with tarfile.open(dist.tarball) as archive:
        archive.extractall(root, filter="tar")
    return root / TOP


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _site(props: dict[str, str]) -> str:
    body = "".join(
        f"  <property><name>{name}</name><value>{value}</value></property>\n"
        for name, value in props.items()
    )
    return f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n'


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: the JVMs are not our children, nobody may reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(pid: int) -> None:
    """SIGTERM, then wait for the JVM to end (SIGKILL after 30 s)."""
    for sig, patience in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        if not _alive(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + patience
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


@dataclass
class Hdfs:
    home: Path
    work: Path
    env: dict[str, str]
    rpc_port: int
    http_port: int
    datanode_http_port: int
    pids: dict[str, int]

    def hdfs(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """``bin/hdfs ARGS`` in the foreground; fails the test with its output if it fails."""
        result = subprocess.run(
            [str(self.home / "bin" / "hdfs"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (
            f"hdfs {' '.join(args)}: exit {result.returncode}\n{result.stderr.decode()[-3000:]}"
        )
        return result

    def start(self, daemon: str) -> int:
        """``setsid nohup bin/hdfs DAEMON &`` with its pid (``$!``) in a pid file."""
        log, pidfile = self.work / f"{daemon}.out", self.work / f"{daemon}.pid"
        subprocess.run(
            [
                "sh",
                "-c",
                'setsid nohup "$0" "$1" > "$2" 2>&1 < /dev/null & echo $! > "$3"',
                str(self.home / "bin" / "hdfs"),
                daemon,
                str(log),
                str(pidfile),
            ],
            env=self.env,
            check=True,
            timeout=30,
        )
        pid = int(pidfile.read_text())
        self.pids[daemon] = pid
        return pid

    def log(self, daemon: str) -> str:
        return (self.work / f"{daemon}.out").read_text(errors="replace")[-4000:]

    def check_running(self) -> None:
        for daemon, pid in self.pids.items():
            assert _alive(pid), f"the {daemon} exited:\n{self.log(daemon)}"


@pytest.fixture
def hdfs(home: Path, tmp_path: Path) -> Iterator[Hdfs]:
    """A formatted NameNode and one DataNode, on 127.0.0.1 and free ports; stopped by pid."""
    rpc, http, dn_data, dn_http, dn_ipc = _free_ports(5)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "log4j.properties").write_text((home / "etc/hadoop/log4j.properties").read_text())
    (conf / "core-site.xml").write_text(
        _site({"fs.defaultFS": f"hdfs://127.0.0.1:{rpc}", "hadoop.tmp.dir": f"{tmp_path}/tmp"})
    )
    (conf / "hdfs-site.xml").write_text(
        _site(
            {
                "dfs.replication": "1",
                "dfs.namenode.name.dir": f"file://{tmp_path}/name",
                "dfs.datanode.data.dir": f"file://{tmp_path}/data",
                "dfs.namenode.rpc-address": f"127.0.0.1:{rpc}",
                "dfs.namenode.rpc-bind-host": "127.0.0.1",
                "dfs.namenode.http-address": f"127.0.0.1:{http}",
                "dfs.namenode.http-bind-host": "127.0.0.1",
                "dfs.datanode.address": f"127.0.0.1:{dn_data}",
                "dfs.datanode.http.address": f"127.0.0.1:{dn_http}",
                "dfs.datanode.ipc.address": f"127.0.0.1:{dn_ipc}",
                "dfs.datanode.hostname": "127.0.0.1",
                "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HADOOP_", "HDFS_"))}
    env.pop("CLASSPATH", None)
    env |= {
        "HADOOP_CONF_DIR": str(conf),
        "HADOOP_LOG_DIR": str(tmp_path / "logs"),
        "HADOOP_PID_DIR": str(tmp_path / "run"),
        "HADOOP_HEAPSIZE_MAX": "256",
        "HDFS_NAMENODE_OPTS": JVM_OPTS,
        "HDFS_DATANODE_OPTS": JVM_OPTS,
        "HADOOP_CLIENT_OPTS": JVM_OPTS,
    }
    cluster = Hdfs(home, tmp_path, env, rpc, http, dn_http, {})
    try:
        cluster.hdfs("namenode", "-format", "-nonInteractive")
        cluster.start("namenode")
        cluster.start("datanode")
        yield cluster
    finally:
        for pid in reversed(cluster.pids.values()):
            _stop(pid)


def _get(url: str) -> tuple[int, bytes]:
    """Status and body, or (0, b"") while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except OSError:
        return 0, b""


def _live_datanodes(cluster: Hdfs) -> dict[str, object]:
    status, body = _get(
        f"http://127.0.0.1:{cluster.http_port}/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo"
    )
    if status != 200 or not (beans := json.loads(body).get("beans")):
        return {}
    live: dict[str, object] = json.loads(beans[0].get("LiveNodes") or "{}")
    return live


def test_single_node_hdfs(hdfs: Hdfs, tmp_path: Path) -> None:
    deadline = time.monotonic() + WAIT
    while not _live_datanodes(hdfs):
        hdfs.check_running()
        assert time.monotonic() < deadline, (
            f"no live DataNode after {WAIT} s:\n{hdfs.log('namenode')}\n{hdfs.log('datanode')}"
        )
        time.sleep(0.5)

    # bin/hdfs execs java: the pid of "bin/hdfs namenode &" is the JVM, with Apache's options
    pid = hdfs.pids["namenode"]
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "java"
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
    for option in (
        "-Dproc_namenode",
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-Djava.net.preferIPv4Stack=true",
        f"-Dhadoop.home.dir={hdfs.home}",
        f"-Dhadoop.log.dir={tmp_path / 'logs'}",
    ):
        assert option in argv, (option, argv)
    assert argv[-1] == "org.apache.hadoop.hdfs.server.namenode.NameNode"
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
        if "=" in item
    )
    assert environ["CLASSPATH"].split(":")[0] == hdfs.env["HADOOP_CONF_DIR"]
    # as Apache's foreground daemons, bin/hdfs wrote its own pid file in HADOOP_PID_DIR
    (own,) = (tmp_path / "run").glob("hadoop-*-namenode.pid")
    assert int(own.read_text()) == pid

    data = b"sparkstack\n" + bytes(range(256)) * 400
    (tmp_path / "local.bin").write_bytes(data)
    hdfs.hdfs("dfs", "-put", str(tmp_path / "local.bin"), "/probe.bin")
    assert hdfs.hdfs("dfs", "-cat", "/probe.bin").stdout == data

    conf_value = hdfs.hdfs("getconf", "-confKey", "dfs.namenode.rpc-address").stdout
    assert conf_value.decode().strip() == f"127.0.0.1:{hdfs.rpc_port}"
    assert f"Hadoop {DEFAULT_VERSION}" in hdfs.hdfs("version").stdout.decode()

    # the web apps from the -tests jar are on the classpath: both web UIs serve their pages
    status, body = _get(f"http://127.0.0.1:{hdfs.http_port}/dfshealth.html")
    assert status == 200 and b"dfshealth" in body
    status, _ = _get(f"http://127.0.0.1:{hdfs.datanode_http_port}/datanode.html")
    assert status == 200
    hdfs.check_running()
