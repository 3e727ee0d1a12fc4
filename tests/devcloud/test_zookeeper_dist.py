"""The ZooKeeper test build: Apache's layout from Maven Central jars, and a server that runs.

The build goes into the user's cache (read before any test points SPARKSTACK_CACHE_DIR
elsewhere), like the Spark tarball's: the jars are downloaded from Maven Central once, later runs
reuse them.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkstack import maven, paths
from sparkstack.devcloud import zookeeper_dist
from sparkstack.devcloud.zookeeper_dist import (
    DEFAULT_VERSION,
    ZookeeperDist,
    build_zookeeper_dist,
)

_BUILD_CACHE = paths.cache_dir()
TOP = f"apache-zookeeper-{DEFAULT_VERSION}-bin"


@pytest.fixture(scope="module")
def dist() -> ZookeeperDist:
    return build_zookeeper_dist(cache=_BUILD_CACHE)


def test_layout_and_checksum(dist: ZookeeperDist) -> None:
    assert dist.tarball == (
        zookeeper_dist.dist_root(_BUILD_CACHE) / f"zookeeper-{DEFAULT_VERSION}" / f"{TOP}.tar.gz"
    )
    assert dist.sha512 == hashlib.sha512(dist.tarball.read_bytes()).hexdigest()
    assert dist.sha512_file.read_text() == f"{dist.sha512}  {dist.tarball.name}\n"
    with tarfile.open(dist.tarball) as archive:
        members = archive.getmembers()
    names = {member.name for member in members}
    assert {name.split("/")[0] for name in names} == {TOP}
    assert f"{TOP}/lib/zookeeper-{DEFAULT_VERSION}.jar" in names
    jars = {name for name in names if name.startswith(f"{TOP}/lib/") and name.endswith(".jar")}
    assert len(jars) == len(zookeeper_dist.RUNTIME_JARS)
    assert f"{TOP}/conf/zoo_sample.cfg" in names
    assert f"{TOP}/README_sparkstack.txt" in names
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "root" for m in members)


def test_cached_build_does_not_download(
    dist: ZookeeperDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached build went to the network")

    monkeypatch.setattr(maven.urllib.request, "urlopen", no_network)
    mtime = dist.tarball.stat().st_mtime_ns
    start = time.monotonic()
    again = build_zookeeper_dist(cache=_BUILD_CACHE)
    assert time.monotonic() - start < 1
    assert again == dist
    assert dist.tarball.stat().st_mtime_ns == mtime


def test_jars_from_the_cache_are_not_downloaded_again(
    dist: ZookeeperDist, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new tarball (another cache) built from cached jars: no network, same contents."""
    shutil.copytree(_BUILD_CACHE / "maven", tmp_path / "maven")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached jar was downloaded again")

    monkeypatch.setattr(maven.urllib.request, "urlopen", no_network)
    rebuilt = build_zookeeper_dist(cache=tmp_path)
    assert rebuilt.tarball.name == dist.tarball.name
    with tarfile.open(rebuilt.tarball) as new, tarfile.open(dist.tarball) as old:
        assert sorted(new.getnames()) == sorted(old.getnames())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _four_letter(port: int, word: str) -> str:
    """A four-letter-word command's answer, or "" while the server does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
    except OSError:
        return ""
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def zookeeper(dist: ZookeeperDist, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A standalone server from the tarball, on a free loopback port; stopped by its pid."""
    with tarfile.open(dist.tarball) as archive:
        archive.extractall(tmp_path, filter="tar")
    home = tmp_path / TOP
    port = _free_port()
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(
        "tickTime=2000\n"
        f"dataDir={tmp_path / 'data'}\n"
        "clientPortAddress=127.0.0.1\n"
        f"clientPort={port}\n"
        "admin.enableServer=false\n"
        "4lw.commands.whitelist=srvr,ruok\n"
    )
    log = (tmp_path / "zookeeper.log").open("w")
    server = subprocess.Popen(
        [
            "java",
            "-Xmx64m",
            "-cp",
            f"{home}/lib/*:{home}/conf",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(cfg),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_server_runs_standalone(
    zookeeper: tuple[subprocess.Popen[str], int], tmp_path: Path
) -> None:
    server, port = zookeeper
    log = tmp_path / "zookeeper.log"
    deadline = time.monotonic() + 60
    # ruok answers as soon as the port listens; srvr only once the server serves (data loaded)
    while (answer := _four_letter(port, "ruok")) != "imok" or "Mode:" not in (
        status := _four_letter(port, "srvr")
    ):
        assert server.poll() is None, f"the server exited ({server.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"not serving in 60 s ({answer!r}):\n{log.read_text()}"
        time.sleep(0.2)
    assert "Mode: standalone" in status, status
    assert f"Zookeeper version: {DEFAULT_VERSION}" in status, status
