"""Benchmark: ``data put``/``data get`` against the plain openstacksdk calls, on the same file.

    .venv/bin/python benchmarks/data.py [MIB ...]     (default: 64 256; the devcloud must run
                                                       with object storage)

For each size, one file of random bytes, in the same run:
  put, plain object: sparkstack's ``put_file`` (progress, MD5 while sending, checked against the
  ETag) against openstacksdk's cloud-layer ``conn.create_object(filename=...)`` (which hashes the
  file first, MD5 and SHA-256);
  put, large object in 16 MiB segments: the same two with ``segment_size`` (sparkstack uploads
  the segments one after the other, openstacksdk in its thread pool);
  get: sparkstack's ``get_file`` (MD5 checked, atomic rename) against
  ``conn.object_store.download_object`` written to a file.
Everything is made in a container ``bench-data-*`` and deleted afterwards. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import openstack

import sparkstack
from sparkstack.devcloud import config as devcloud_config

MIB = 1 << 20
SEGMENT = 16 * MIB


def _timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def _rate(mib: int, seconds: float) -> str:
    return f"{seconds:6.1f} s {mib * MIB / seconds / 1e6:5.0f} MB/s"


def _clean(conn: openstack.connection.Connection, prefix: str) -> None:
    store = conn.object_store
    for container in store.containers():
        if str(container.name).startswith(prefix):
            for obj in store.objects(container.name):
                store.delete(f"{quote(container.name)}/{quote(obj.name)}")
            store.delete(quote(container.name))


def _one_size(conn: openstack.connection.Connection, cloud: str, tmp: Path, mib: int) -> None:
    path = tmp / f"bench-{mib}.bin"
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MIB))
    container = f"bench-data-{uuid.uuid4().hex[:6]}"
    conn.object_store.create_container(container)
    rows = {
        "put plain": (
            lambda: sparkstack.put_file(path, container, "ours", cloud=cloud),
            lambda: conn.create_object(container, "sdk", filename=str(path)),
        ),
        "put 16 MiB segments": (
            lambda: sparkstack.put_file(
                path, container, "ours-slo", segment_size=SEGMENT, cloud=cloud
            ),
            lambda: conn.create_object(
                container, "sdk-slo", filename=str(path), segment_size=SEGMENT
            ),
        ),
        "get plain": (
            lambda: sparkstack.get_file(container, "ours", tmp / "ours.out", cloud=cloud),
            lambda: (tmp / "sdk.out").write_bytes(
                conn.object_store.download_object("sdk", container)
            ),
        ),
    }
    for label, (ours, sdk) in rows.items():
        print(
            f"{mib:>5} MiB {label:<20} {_rate(mib, _timed(ours)):>20} {_rate(mib, _timed(sdk)):>20}"
        )
    for name in ("ours.out", "sdk.out", path.name):
        (tmp / name).unlink()


def main(sizes: list[int]) -> None:
    cfg = devcloud_config.DevcloudConfig.load()
    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", str(cfg.clouds_yaml))
    cloud = os.environ.get("OS_CLOUD", "devcloud")
    conn = openstack.connect(cloud=cloud)
    print(f"data put/get on the devcloud's Swift (one device, one replica), 2 cores; {sizes} MiB")
    print(f"{'size':>9} {'':<20} {'sparkstack':>20} {'openstacksdk':>20}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mib in sizes:
                _one_size(conn, cloud, Path(tmp), mib)
    finally:
        _clean(conn, "bench-data-")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [64, 256])
