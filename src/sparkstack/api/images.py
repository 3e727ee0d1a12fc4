"""``image upload`` and ``image list``: the images clusters boot from.

Every argument is checked before the network: the file (a regular file, readable), the name
(free in the project, so that ``launch --image NAME`` is never ambiguous), the disk format
(given, or told by the file's suffix).
"""

from __future__ import annotations

import time
from pathlib import Path

from sparkstack import validation
from sparkstack.cloud import images, transfer
from sparkstack.cloud.connection import connect, translate_errors
from sparkstack.cloud.images import ImageInfo
from sparkstack.errors import Interrupted, UsageError
from sparkstack.events import Phase, Reporter, silent

#: Disk formats a file's suffix tells.
SUFFIXES = {".qcow2": "qcow2", ".img": "raw", ".raw": "raw", ".iso": "iso", ".vmdk": "vmdk",
            ".vdi": "vdi", ".vhd": "vhd", ".vhdx": "vhdx"}  # fmt: skip


def _disk_format(file: Path, given: str | None) -> str:
    if given is not None:
        if given not in images.DISK_FORMATS:
            raise UsageError(
                f"--disk-format {validation.shown(given)}: one of {', '.join(images.DISK_FORMATS)}"
            )
        return given
    found = SUFFIXES.get(file.suffix.lower())
    if found is None:
        raise UsageError(f"{file.name}: give --disk-format (the file's suffix does not tell it)")
    return found


def upload_image(
    file: Path,
    name: str,
    *,
    disk_format: str | None = None,
    cloud: str | None = None,
    report: Reporter = silent,
) -> ImageInfo:
    """Upload ``file`` as image ``name`` with progress; Glance's SHA-512 must be the file's.
    A failed or interrupted upload leaves no image."""
    try:
        path = validation.existing_file(file)
        validation.cloud_text(name)
    except ValueError as exc:
        raise UsageError(f"image upload: {exc}") from None
    fmt = _disk_format(path, disk_format)
    session = connect(cloud)
    with translate_errors("listing images"):
        taken = any(True for _ in session.conn.image.images(name=name))
    if taken:
        raise UsageError(
            f"an image named {validation.shown(name)} exists already; pick another name (launch "
            "--image would be ambiguous)"
        )
    started = time.monotonic()
    size = path.stat().st_size
    with Phase(report, "upload", total=max(1, size >> 20), text=f"uploading {path.name}") as phase:

        def progress(done: int, total: int) -> None:
            phase.set_progress(done >> 20, transfer.rate_text(done, total, started))

        try:
            return images.upload(session, path, name, fmt, progress)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; the half-uploaded image {name} was deleted") from None


def list_images(cloud: str | None = None) -> list[ImageInfo]:
    """The images the project can boot from, newest first."""
    return images.usable_images(connect(cloud))
