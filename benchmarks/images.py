"""Benchmark: images. An upload to Glance, sparkstack against the plain openstacksdk call; and a
launch of 1 master + 2 workers to healthy from a baked image against the vanilla image.

    .venv/bin/python benchmarks/images.py [MIB ...]      (default: 100 400; the devcloud must run)
    .venv/bin/python benchmarks/images.py --bake [--rounds N]

Upload: for each size, one file of random bytes, uploaded three times in turn, in the same run:
  sparkstack: ``upload_image`` (progress events, the SHA-512 computed while Glance reads,
  compared with Glance's, waits for active);
  openstacksdk: ``conn.image.create_image(filename=..., wait=True, validate_checksum=True)``, the
  call a user would write (the sdk hashes the file before it uploads);
  openstacksdk, no checks: the same with ``validate_checksum=False`` (the floor: one read, no hash).

Bake: ``bake_image`` of Spark (timed once), then N rounds of two launches in turn, vanilla image
then baked image, each to healthy (every worker ALIVE) and destroyed before the next; both with
the same local Spark tarball (the devcloud has no internet: a vanilla launch on a real cloud would
also download it from Apache). The target of the issue: baked at most half the vanilla time.

Every image and cluster made here is deleted afterwards. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openstack

import sparkstack
from sparkstack.devcloud import config as devcloud_config
from sparkstack.devcloud.spark_dist import build_spark_dist

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


def _launch_to_healthy(cloud: str, name: str, image: str, tarball: Path) -> tuple[float, int]:
    """Seconds of a launch of 1+2 from ``image`` to healthy, and its install (unpack) steps;
    the cluster is destroyed afterwards."""
    events: list[sparkstack.Event] = []
    spec = sparkstack.load_spec(
        None,
        {"name": name, "cloud": cloud, "image": image, "masters": {"count": 1},
         "workers": {"count": 2}, "spark": {"tarball": tarball}},
    )  # fmt: skip
    try:
        seconds = _timed(lambda: sparkstack.launch(spec, report=events.append))
    finally:
        sparkstack.destroy(name, cloud)
    installs = sum(1 for e in events if e.phase == "install" and e.kind == "step")
    return seconds, installs


def bake_main(rounds: int) -> None:
    cfg = devcloud_config.DevcloudConfig.load()
    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", str(cfg.clouds_yaml))
    cloud = os.environ.get("OS_CLOUD", "devcloud")
    conn = openstack.connect(cloud=cloud)
    tarball = build_spark_dist().tarball
    baked = f"{PREFIX}baked"
    print(f"launch 1+2 to healthy on the devcloud, {os.cpu_count()} cores; Spark {tarball.name}")
    try:
        bake = _timed(
            lambda: sparkstack.bake_image(
                baked, software={"spark": {"tarball": tarball}}, cloud=cloud
            )
        )
        print(f"bake of {baked} (boot, install, clean, stop, snapshot, delete): {bake:.1f} s")
        print(f"{'round':>5} {'vanilla':>18} {'baked':>18} {'baked/vanilla':>14}")
        for n in range(1, rounds + 1):
            vanilla, v_installs = _launch_to_healthy(cloud, f"{PREFIX}v", "ubuntu-24.04", tarball)
            fast, b_installs = _launch_to_healthy(cloud, f"{PREFIX}b", baked, tarball)
            print(
                f"{n:>5} {vanilla:>7.1f} s ({v_installs} unpacks) {fast:>7.1f} s "
                f"({b_installs} unpacks) {fast / vanilla:>13.2f}",
                flush=True,
            )
    finally:
        _clean(conn)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100, 400], help="upload MiB")
    parser.add_argument("--bake", action="store_true", help="baked against vanilla launches")
    parser.add_argument("--rounds", type=int, default=2, help="launch pairs with --bake")
    options = parser.parse_args()
    if options.bake:
        bake_main(options.rounds)
    else:
        main(options.sizes)
