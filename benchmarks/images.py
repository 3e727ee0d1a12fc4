"""Benchmark: an image upload to Glance, sparkstack against the plain openstacksdk call.

    .venv/bin/python benchmarks/images.py [MIB ...]     (default: 100 400; the devcloud must run)

For each size, one file of random bytes, uploaded three times in turn, in the same run:
  sparkstack: ``upload_image`` (progress events, the SHA-512 computed while Glance reads,
  compared with Glance's, waits for active);
  openstacksdk: ``conn.image.create_image(filename=..., wait=True, validate_checksum=True)``, the
  call a user would write (the sdk hashes the file before it uploads);
  openstacksdk, no checks: the same with ``validate_checksum=False`` (the floor: one read, no hash).
Every image is deleted afterwards. Prints figures; asserts nothing. The target of the issue (a
baked image boots to a healthy cluster in half the time) needs image bake: not here yet.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openstack

import sparkstack
from sparkstack.devcloud import config as devcloud_config

MIB = 1 << 20
PREFIX = "bench-img-"


def _file(folder: Path, mib: int) -> Path:
    path = folder / f"{PREFIX}{mib}.raw"
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MIB))
    return path


def _timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def _clean(conn: openstack.connection.Connection) -> None:
    for image in conn.image.images():
        if str(image.name or "").startswith(PREFIX):
            conn.image.delete_image(str(image.id), ignore_missing=True)


def _sdk_upload(
    conn: openstack.connection.Connection, path: Path, mib: int, checked: bool
) -> float:
    """The call a user would write, timed (``checked``: the sdk hashes the file first)."""
    started = time.monotonic()
    conn.image.create_image(
        f"{PREFIX}sdk-{mib}-{checked}",
        filename=str(path),
        disk_format="raw",
        container_format="bare",
        wait=True,
        validate_checksum=checked,
    )
    return time.monotonic() - started


def _one_size(conn: openstack.connection.Connection, cloud: str, path: Path, mib: int) -> None:
    events: list[object] = []
    ours = _timed(
        lambda: sparkstack.upload_image(
            path, f"{PREFIX}ours-{mib}", disk_format="raw", cloud=cloud, report=events.append
        )
    )
    times = [ours, *(_sdk_upload(conn, path, mib, checked) for checked in (True, False))]
    cells = [f"{t:6.1f} s {mib * MIB / t / 1e6:6.0f} MB/s" for t in times]
    print(f"{mib:>5} MiB {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}", flush=True)
    print(f"         sparkstack: {len(events)} progress events, SHA-512 checked")


def main(sizes: list[int]) -> None:
    cfg = devcloud_config.DevcloudConfig.load()
    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", str(cfg.clouds_yaml))
    cloud = os.environ.get("OS_CLOUD", "devcloud")
    conn = openstack.connect(cloud=cloud)
    print(f"image upload to the devcloud's Glance (file store), 2 cores; sizes {sizes} MiB")
    print(f"{'size':>8} {'sparkstack':>22} {'sdk, checksum':>22} {'sdk, no checks':>22}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for mib in sizes:
                path = _file(Path(tmp), mib)
                _one_size(conn, cloud, path, mib)
                _clean(conn)
                path.unlink()
    finally:
        _clean(conn)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 400])
