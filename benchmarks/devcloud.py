"""Figures of the devcloud on this machine: install, up, idle memory, 20 servers ACTIVE.

    .venv/bin/python benchmarks/devcloud.py [--restart] [--fresh-install] [--servers 20]

Uses the default devcloud (SPARKSTACK_DEVCLOUD_DIR). A devcloud that already runs is left
running and `up` is not measured unless --restart (down, then up: disturbs its other users).
One that this script starts is stopped at the end. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import openstack
import psutil
from openstack.config import loader

from sparkstack import devcloud as dc
from sparkstack.devcloud import CLOUD, DevcloudConfig, process
from sparkstack.devcloud.control import services_of

T = TypeVar("T")


def timed(what: str, func: Callable[[], T]) -> T:
    start = time.monotonic()
    result = func()
    print(f"{what:<44} {time.monotonic() - start:7.1f} s", flush=True)
    return result


def connect(cfg: DevcloudConfig) -> Any:
    region = loader.OpenStackConfig(config_files=[str(cfg.clouds_yaml)]).get_one(CLOUD)
    return openstack.connection.Connection(config=region)


def servers_active(cfg: DevcloudConfig, count: int) -> None:
    """Create ``count`` servers at once, time until all are ACTIVE, then delete them."""
    conn = connect(cfg)
    image = conn.image.find_image("ubuntu-24.04")
    flavor = conn.compute.find_flavor("m1.tiny")
    network = conn.network.find_network("private")
    prefix = f"ssdc-bench-{os.getpid()}-"
    start = time.monotonic()

    def create(index: int) -> str:
        server = conn.compute.create_server(
            name=f"{prefix}{index}",
            image_id=image.id,
            flavor_id=flavor.id,
            networks=[{"uuid": network.id}],
        )
        return str(server.id)

    with ThreadPoolExecutor(max_workers=8) as pool:  # as a client tool would, 8 at a time
        ids = list(pool.map(create, range(count)))
    print(f"{'create calls for ' + str(count) + ' servers':<44} {time.monotonic() - start:7.1f} s")
    try:
        while True:
            states = [s.status for s in conn.compute.servers(name=f"^{prefix}") if s.id in ids]
            if states.count("ACTIVE") == count:
                break
            if "ERROR" in states:
                raise RuntimeError(f"a server went to ERROR: {states}")
            if time.monotonic() - start > 600:
                raise RuntimeError(f"servers not ACTIVE after 600 s: {states}")
            time.sleep(0.5)
        label = f"{count} servers ACTIVE (from first create)"
        print(f"{label:<44} {time.monotonic() - start:7.1f} s")
    finally:
        deleted = time.monotonic()
        for server_id in ids:
            conn.compute.delete_server(server_id, ignore_missing=True)
        while any(s.id in ids for s in conn.compute.servers(name=f"^{prefix}")):
            time.sleep(0.5)
        print(f"{str(count) + ' servers deleted':<44} {time.monotonic() - deleted:7.1f} s")


def total_pss(cfg: DevcloudConfig) -> int:
    """Proportional set size of every devcloud process (gunicorn master and worker share pages)."""
    total = 0
    for service in services_of(cfg):
        pgid = service.pid(cfg)
        for proc in process.group_members(pgid) if pgid else []:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_full_info().pss
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restart", action="store_true", help="down then up a running devcloud")
    parser.add_argument(
        "--fresh-install", action="store_true", help="also time an install into a temp dir"
    )
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--computes", type=int, default=2)
    args = parser.parse_args()
    cfg = DevcloudConfig.load()
    print(f"cores: {os.cpu_count()}")
    if args.fresh_install:
        with tempfile.TemporaryDirectory(prefix="ssdc-bench-") as tmp:
            timed(
                "install, fresh (temporary data dir)",
                lambda: dc.install(DevcloudConfig.load(Path(tmp))),
            )
    timed("install, idempotent re-run", lambda: dc.install(cfg))
    was_running = dc.is_running(cfg)
    if was_running and args.restart:
        timed("down (running devcloud)", lambda: dc.down(cfg))
    if was_running and not args.restart:
        print("up: not measured, the devcloud already runs (pass --restart)")
    else:
        result = dc.up(cfg, computes=args.computes)
        plane = "data plane" if result.data_plane else "fake driver"
        print(f"{f'up ({result.computes} computes, {plane})':<44} {result.seconds:7.1f} s")
    time.sleep(15)  # let the services settle into idle
    print(
        f"{'resident memory of all processes, idle (RSS)':<44} {dc.total_rss(cfg) / 2**20:7.0f} MiB"
    )
    print(f"{'same, shared pages split (PSS)':<44} {total_pss(cfg) / 2**20:7.0f} MiB")
    try:
        servers_active(cfg, args.servers)
    finally:
        if not was_running:
            timed("down", lambda: dc.down(cfg))


if __name__ == "__main__":
    main()
