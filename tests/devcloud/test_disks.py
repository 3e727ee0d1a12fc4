"""Snapshot disks of the data plane: layers packed to a tar and stacked again under overlayfs.

Real overlay mounts as the devcloud's servers use them (root only): what a layer added shows, what
it deleted (a whiteout) stays hidden, an opaque directory hides the lower one's contents.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from sparkstack.devcloud.server import disks

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


def _mount(lower: str, upper: Path, work: Path, at: Path) -> None:
    for path in (upper, work, at):
        path.mkdir(parents=True, exist_ok=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "t", "-o", options, str(at)], check=True)


def test_a_snapshot_stacks_to_the_same_view(tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "gone").mkdir(parents=True)
    (base / "gone" / "old").write_text("old")
    (base / "hidden.txt").write_text("base")
    (base / "kept.txt").write_text("base")
    at = tmp_path / "server"
    _mount(str(base), tmp_path / "upper", tmp_path / "work", at)
    try:
        (at / "opt" / "spark").mkdir(parents=True)
        (at / "opt" / "spark" / "RELEASE").write_text("Spark 4.3.0")
        os.chmod(at / "opt" / "spark" / "RELEASE", 0o4755)
        (at / "hidden.txt").unlink()  # a whiteout in the upper layer
        subprocess.run(["rm", "-rf", str(at / "gone")], check=True)
        (at / "gone").mkdir()  # recreated: opaque
        (at / "gone" / "new").write_text("new")
    finally:
        subprocess.run(["umount", str(at)], check=True)
    packed = tmp_path / "image.tar"
    disks.pack([tmp_path / "upper"], packed)
    target = tmp_path / "cache" / "image"
    disks.unpack(packed, target)
    layers = sorted(target.iterdir())
    assert [p.name for p in layers] == ["0"]
    again = tmp_path / "again"
    _mount(f"{layers[0]}:{base}", tmp_path / "upper2", tmp_path / "work2", again)
    try:
        assert (again / "opt" / "spark" / "RELEASE").read_text() == "Spark 4.3.0"
        assert (again / "opt" / "spark" / "RELEASE").stat().st_mode & 0o4000  # setuid kept
        assert not (again / "hidden.txt").exists()
        assert (again / "kept.txt").read_text() == "base"
        assert sorted(os.listdir(again / "gone")) == ["new"]  # opaque: "old" stays hidden
    finally:
        subprocess.run(["umount", str(again)], check=True)
    assert all((layers[0] / name).is_dir() for name in disks.DIRS)


def test_an_image_that_is_not_a_disk_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    (tmp_path / "passwd").write_text("x")
    with tarfile.open(bad, "w") as tar:
        tar.add(tmp_path / "passwd", arcname="0/../../etc/passwd")
    with pytest.raises(tarfile.OutsideDestinationError):
        disks.unpack(bad, tmp_path / "cache" / "bad")
    with tarfile.open(bad, "w") as tar:
        tar.add(tmp_path / "passwd", arcname="etc/passwd")  # not under a layer number
    with pytest.raises(ValueError, match="not a devcloud disk layer entry"):
        disks.unpack(bad, tmp_path / "cache" / "bad")
    assert not (tmp_path / "cache" / "bad").exists()
