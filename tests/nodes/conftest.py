"""Fixtures for node-layer tests: SSH test hosts, a Spark tarball, and clusters built on them."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator

import pytest

from sparkstack import paths
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist
from sparkstack.devcloud.testhosts import TestBed, test_hosts

#: The user's cache, read before the tests point SPARKSTACK_CACHE_DIR elsewhere: the tarball build
#: (from a 456 MB sdist) is reused between runs, the product's own downloads are not.
_BUILD_CACHE = paths.cache_dir()
PREFIX = "sspk"
SUBNET = "198.18.252.0/24"
BRIDGE_IP = "198.18.252.1"


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
    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


@pytest.fixture(scope="module")
def bed() -> Iterator[TestBed]:
    with test_hosts(3, prefix=PREFIX, subnet=SUBNET) as testbed:
        yield testbed


@pytest.fixture(scope="session", autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Secrets, known_hosts and downloads of test clusters stay out of the user's directories.

    Session-scoped, so that module-scoped clusters are deployed with these settings too.
    """
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPARKSTACK_DATA_DIR", str(base / "sparkstack-data"))
        patch.setenv("SPARKSTACK_CACHE_DIR", str(base / "sparkstack-cache"))
        yield
