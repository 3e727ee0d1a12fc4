"""Benchmark: Spark from sshd-ready hosts to all workers ALIVE, sparkstack vs node after node.

    .venv/bin/python benchmarks/configure.py [WORKERS ...]     (default: 1 3 6; needs root)

For each size, fresh SSH test hosts (1 master + N workers, 2 vCPU / 2 GiB "flavor") and an empty
download cache; the Spark tarball (built from the PyPI sdist) is served by a local HTTP server on
the test bridge that counts the bytes it sends: that server plays Apache's archive.
  sparkstack: client downloads once, master serves the workers, everything in parallel.
  node after node: every node downloads from the source itself, installs, is configured and
  started, one after the other (what a shell loop over ssh does).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "nodes"))
from spark_bed import bed_access, bed_cluster

from sparkstack.api import services as api
from sparkstack.devcloud.spark_dist import build_spark_dist
from sparkstack.devcloud.testhosts import TestBed, test_hosts
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment
from sparkstack.services.prepare import prepare_nodes
from sparkstack.services.spark import LOG_DIR, SPARK_LINK, STATE_DIR, SparkStandalone
from sparkstack.spec import ClusterSpec, SparkSpec

SUBNET, BRIDGE = "198.18.253.0/24", "198.18.253.1"


class _Counting(http.server.SimpleHTTPRequestHandler):
    sent = 0

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        before = source.tell()
        super().copyfile(source, outputfile)
        _Counting.sent += source.tell() - before

    def log_message(self, format: str, *args: object) -> None:
        """quiet"""


@contextmanager
def source_server(root: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        (BRIDGE, 0), functools.partial(_Counting, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{BRIDGE}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def bed_with_source(workers: int, root: Path, rel: str) -> Iterator[tuple[TestBed, str, str]]:
    """Fresh hosts, the source server on their bridge, and empty sparkstack data/cache dirs."""
    with (
        test_hosts(1 + workers, prefix="ssbm", subnet=SUBNET) as bed,
        source_server(root) as base,
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ["SPARKSTACK_DATA_DIR"] = f"{tmp}/data"
        os.environ["SPARKSTACK_CACHE_DIR"] = f"{tmp}/cache"
        _Counting.sent = 0
        yield bed, f"{base}/{rel}", tmp


def sparkstack_run(workers: int, root: Path, rel: str) -> dict[str, object]:
    with bed_with_source(workers, root, rel) as (bed, url, tmp):
        spec = ClusterSpec(name="bm", spark=SparkSpec(url=url))
        started = time.monotonic()
        report = api.deploy_services(
            bed_cluster(bed, "bm"),
            spec,
            access=bed_access(bed, Path(tmp) / "kh"),
            health_timeout=600,
        )
        seconds = time.monotonic() - started
        again = time.monotonic()
        api.deploy_services(bed_cluster(bed, "bm"), spec, access=bed_access(bed, Path(tmp) / "kh"))
        return {
            "alive_s": seconds,
            "reconfigure_s": time.monotonic() - again,
            "source_bytes": _Counting.sent,
            "connections": sorted(set(report.connections.values())),
        }


def node_after_node(workers: int, root: Path, rel: str) -> dict[str, object]:
    """Each node fetches from the source itself; install, configure, start one node at a time."""
    with bed_with_source(workers, root, rel) as (bed, url, tmp):
        cluster = bed_cluster(bed, "bm")
        spec = SparkSpec(url=url)
        artifact = api.spark_artifact(spec)  # only for the checksum; not counted below
        _Counting.sent = 0

        async def go() -> float:
            started = time.monotonic()
            async with Fleet(bed_access(bed, Path(tmp) / "kh")) as fleet:
                dep = Deployment(cluster, api.hosts_of(cluster), fleet)
                service = SparkStandalone(spec, artifact, "secret")
                for host in dep.hosts:
                    one = Deployment(cluster, [host], fleet, facts=dep.facts)
                    await prepare_nodes(one, {"spark": SPARK_LINK})
                    staged = f"/var/tmp/sparkstack/{artifact.path.name}"
                    await service._install_on(dep, host, staged, url)
                    user = dep.facts[host.name]["user"]
                    dirs = {STATE_DIR: user, f"{STATE_DIR}/work": user, f"{STATE_DIR}/run": user}
                    await dep.write_files(host, service.render(dep, host), {**dirs, LOG_DIR: user})
                    await service.ctl(dep, host, "ensure", "1")
                await service.health(dep, 600)
            return time.monotonic() - started

        seconds = asyncio.run(go())
        return {"alive_s": seconds, "source_bytes": _Counting.sent}


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1, 3, 6]
    dist = build_spark_dist()
    rel = f"{dist.tarball.parent.name}/{dist.tarball.name}"
    print(f"cores: {os.cpu_count()}  tarball: {dist.tarball.stat().st_size / 1e6:.0f} MB")
    head = ("cluster", "mode", "ALIVE s", "source MB", "ssh conn/node", "reconfigure s")
    print("{:<8} {:<16} {:>8} {:>10} {:>14} {:>14}".format(*head))
    for workers in sizes:
        for mode, run in (("sparkstack", sparkstack_run), ("node-after-node", node_after_node)):
            result = run(workers, dist.tarball.parents[1], rel)
            cells = (
                f"1+{workers}",
                mode,
                f"{result['alive_s']:.1f}",
                f"{result['source_bytes'] / 1e6:.0f}",  # type: ignore[operator]
                str(result.get("connections", "-")),
                f"{result['reconfigure_s']:.1f}" if "reconfigure_s" in result else "-",
            )
            print("{:<8} {:<16} {:>8} {:>10} {:>14} {:>14}".format(*cells), flush=True)


if __name__ == "__main__":
    main()
