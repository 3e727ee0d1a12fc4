"""Fixtures for node-layer tests: SSH test hosts, a Spark tarball, and clusters built on them."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sparkstack.cluster import Cluster, Node, Role
from sparkstack import paths
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist
from sparkstack.devcloud.testhosts import TestBed, test_hosts
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.hostkeys import HostKeyStore

#: The user's cache, read before the tests point SPARKSTACK_CACHE_DIR elsewhere: the tarball build
#: (from a 456 MB sdist) is reused between runs, the product's own downloads are not.
_BUILD_CACHE = paths.cache_dir()
PREFIX = "sspk"
SUBNET = "198.18.252.0/24"
BRIDGE_IP = "198.18.252.1"
#: What a small cloud flavor gives; every test host really sees the machine's CPUs and RAM.
VCPUS, RAM_MB = 2, 2048


def bed_cluster(bed: TestBed, name: str, workers: int | None = None, jump: bool = True) -> Cluster:
    """A Cluster as the cloud layer would read it: host 1 the master, the others workers.

    With ``jump``, the master has a "floating IP" (its own address), so workers are reached
    through it as on a cloud.
    """
    hosts = bed.hosts[: 1 + (len(bed.hosts) - 1 if workers is None else workers)]
    nodes = tuple(
        Node(
            name=h.name,
            role=Role.MASTER if i == 0 else Role.WORKER,
            index=i,
            server_id=h.name,
            status="ACTIVE",
            flavor="bed.small",
            vcpus=VCPUS,
            ram_mb=RAM_MB,
            fixed_ip=h.ip,
            floating_ip=h.ip if i == 0 and jump else None,
        )
        for i, h in enumerate(hosts)
    )
    return Cluster(name, "testhosts", bed.user, nodes, 1, len(nodes) - 1)


def bed_access(bed: TestBed, known_hosts: Path, **kwargs: float) -> SSHAccess:
    """The bed's key; host keys pinned into ``known_hosts``, expected from the consoles."""
    expected = {h.ip: [h.host_key] for h in bed.hosts}
    return SSHAccess(bed.key_path, HostKeyStore(known_hosts, expected), **kwargs)


@pytest.fixture(scope="session")
def spark_dist() -> SparkDist:
    """The Apache-layout tarball built from the PyPI sdist (cached between runs)."""
    return build_spark_dist(cache=_BUILD_CACHE)


@pytest.fixture(scope="session")
def spark_url(spark_dist: SparkDist) -> Iterator[str]:
    """An Apache-archive-shaped URL of the tarball, served on the loopback (the client's side)."""
    handler = functools.partial(_QuietHandler, directory=str(spark_dist.tarball.parents[1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield f"http://127.0.0.1:{port}/{spark_dist.tarball.parent.name}/{spark_dist.tarball.name}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    served: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        _QuietHandler.served.append(self.path)


@pytest.fixture(scope="module")
def bed() -> Iterator[TestBed]:
    with test_hosts(3, prefix=PREFIX, subnet=SUBNET) as testbed:
        yield testbed


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets and known_hosts of test clusters stay out of the user's data dir."""
    data = tmp_path_factory.getbasetemp() / "sparkstack-data"
    monkeypatch.setenv("SPARKSTACK_DATA_DIR", str(data))
    monkeypatch.setenv("SPARKSTACK_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
