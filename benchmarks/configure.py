"""Benchmark: Spark from sshd-ready hosts to all workers ALIVE, sparkstack vs node after node.

    .venv/bin/python benchmarks/configure.py [WORKERS ...]     (default: 1 3 6; needs root)

For each size, fresh SSH test hosts (1 master + N workers, 2 vCPU / 2 GiB "flavor") and an empty
download cache; the Spark tarball (built from the PyPI sdist) is served by a local HTTP server on
the test bridge that counts the bytes it sends: that server plays Apache's archive.
  sparkstack: ``deploy_services`` on the hosts: the client downloads once, the first node serves
  the others, everything in parallel; then the same call again (nothing changed: the reconfigure
  figure).
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "nodes"))
from spark_bed import bed_access, bed_cluster

from sparkstack.api.access import hosts_of
from sparkstack.api.deploy import deploy_services, resolve_artifacts
from sparkstack.devcloud.spark_dist import build_spark_dist
from sparkstack.devcloud.testhosts import TestBed, test_hosts
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment, template
from sparkstack.services.prepare import prepare_nodes
from sparkstack.services.spark import LOG_DIR, SPARK_LINK, STATE_DIR, SparkStandalone
from sparkstack.services.staging import STAGING_DIR
from sparkstack.spec import load_spec

SUBNET, BRIDGE = "198.18.253.0/24", "198.18.253.1"


class _Counting(http.server.SimpleHTTPRequestHandler):
    sent = 0

    def copyfile(self, source: Any, outputfile: Any) -> None:
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
        spec = load_spec(None, {"name": "bm", "spark": {"url": url}})
        access = bed_access(bed, Path(tmp) / "kh")
        started = time.monotonic()
        report = deploy_services(bed_cluster(bed, "bm"), spec, access=access, health_timeout=600)
        seconds = time.monotonic() - started
        again = time.monotonic()
        deploy_services(bed_cluster(bed, "bm"), spec, access=access)
        return {
            "alive_s": seconds,
            "reconfigure_s": time.monotonic() - again,
            "source_bytes": _Counting.sent,
            "connections": sorted(set(report.connections.values())),
        }


def node_after_node(workers: int, root: Path, rel: str) -> dict[str, object]:
    """Each node fetches from the source itself; install, configure, start one node at a time.

    The same scripts, files and control commands as sparkstack's deploy, without its staging
    (download once, serve from the first node) and without its parallelism.
    """
    with bed_with_source(workers, root, rel) as (bed, url, tmp):
        cluster = bed_cluster(bed, "bm")
        service = SparkStandalone(load_spec(None, {"name": "bm", "spark": {"url": url}}))
        artifact = resolve_artifacts([service])["spark"]  # the checksum only; not counted below
        _Counting.sent = 0

        async def go() -> float:
            started = time.monotonic()
            async with Fleet(bed_access(bed, Path(tmp) / "kh")) as fleet:
                dep = Deployment(cluster.name, hosts_of(cluster), fleet)
                dep.secrets = {"spark": "secret"}
                for host in dep.hosts:
                    one = Deployment(cluster.name, [host], fleet, facts=dep.facts)
                    await prepare_nodes(one, {"spark": SPARK_LINK})
                    user, group = dep.facts[host.name]["user"], dep.facts[host.name]["group"]
                    script = template("install.sh.j2").render(
                        tgz=f"{STAGING_DIR}/{artifact.filename}",
                        fetch_url=url,
                        sha512=artifact.sha512,
                        install_dir=service.install_dir(artifact.sha512),
                        link=SPARK_LINK,
                        owned=["conf"],
                        owner=f"{user}:{group}",
                    )
                    installed = await fleet.run(host.target, "bash -s", input=script)
                    if not installed.ok:
                        raise SystemExit(f"{host.name}: install failed: {installed.tail(5)}")
                    state = (STATE_DIR, f"{STATE_DIR}/work", f"{STATE_DIR}/run", LOG_DIR)
                    dirs = {path: (user, 0o755) for path in state}
                    await dep.write_files(host, service.render(dep, host), dirs)
                    for role in service.daemons(dep, host):
                        await service.ctl(dep, host, role, "ensure", "1")
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
            source_bytes = result["source_bytes"]
            assert isinstance(source_bytes, int)
            cells = (
                f"1+{workers}",
                mode,
                f"{result['alive_s']:.1f}",
                f"{source_bytes / 1e6:.0f}",
                str(result.get("connections", "-")),
                f"{result['reconfigure_s']:.1f}" if "reconfigure_s" in result else "-",
            )
            print("{:<8} {:<16} {:>8} {:>10} {:>14} {:>14}".format(*cells), flush=True)


if __name__ == "__main__":
    main()
