"""Disk images of the devcloud data plane: a server's copy-on-write layers as a Glance image.

A server's disk is overlayfs: its own upper layer over the layers of the image it booted from
over this machine's root. A snapshot packs ``[its upper, *its image's layers]`` as one tar
(``0/``, ``1/``, ... top first) and uploads it as the image's data with the property
``ssdc_disk=layers``. Overlayfs whiteouts (char devices 0:0) are kept as such; opaque
directories keep their xattr in the tar's PAX headers. A server booted from such an image gets
its layers unpacked once per image into a shared cache and stacked, read-only, under its own
upper layer, so what the snapshotted server had installed is there on the new one.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

from . import net

PROPERTY = "ssdc_disk"
LAYERS = "layers"
DIRS = ("etc", "usr", "var", "opt", "root", "srv")  # host_init.sh mounts one overlay each
OPAQUE = "trusted.overlay.opaque"
_PAX_XATTR = "SCHILY.xattr."
_IMAGE_ID = re.compile(r"^[0-9a-f-]{36}$")


def cache_dir() -> Path:
    """Beside the hosts dir, so that ``teardown_dataplane`` removes it with them."""
    return net.hosts_dir().parent / "images"


def is_layered(properties: dict[str, object]) -> bool:
    return properties.get(PROPERTY) == LAYERS


def pack(layers: list[Path], out: Path) -> None:
    """Write the layers (top first) as one tar: ``0/etc/...``, ``1/etc/...``."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for index, layer in enumerate(layers):
            tar.add(layer, arcname=str(index), filter=_keep_opaque(layer, str(index)))


def _keep_opaque(root: Path, arcname: str) -> Callable[[tarfile.TarInfo], tarfile.TarInfo]:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if info.isdir():
            path = root / info.name[len(arcname) :].lstrip("/")
            try:
                value = os.getxattr(path, OPAQUE, follow_symlinks=False)
            except OSError:
                value = b""
            if value:
                info.pax_headers = {**info.pax_headers, _PAX_XATTR + OPAQUE: value.decode()}
        return info

    return keep


def layers_of(image_id: str, download: Callable[[Path], None]) -> list[str]:
    """The unpacked layers of an image (top first), downloading and unpacking it first if this
    machine has not yet; concurrent boots of one image wait for the first."""
    if not _IMAGE_ID.match(image_id):
        raise ValueError(f"not an image id: {image_id!r}")
    target = cache_dir() / image_id
    with net.file_lock(target.with_suffix(".lock")):
        if not target.is_dir():
            data = target.with_suffix(".tar")
            try:
                download(data)
                unpack(data, target)
            finally:
                data.unlink(missing_ok=True)
    return [str(layer) for layer in sorted(target.iterdir(), key=lambda p: int(p.name))]


def unpack(data: Path, target: Path) -> None:
    """Unpack a packed image into ``target`` (atomically: a half unpack is never used)."""
    part = target.with_suffix(".part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    with tarfile.open(data) as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member)
        tar.extractall(part, members=members, filter=_keep_modes)
    for member in members:
        value = member.pax_headers.get(_PAX_XATTR + OPAQUE)
        if member.isdir() and value:
            os.setxattr(part / member.name, OPAQUE, value.encode(), follow_symlinks=False)
    for layer in part.iterdir():
        for name in DIRS:
            (layer / name).mkdir(exist_ok=True)
    part.rename(target)


def _check_member(member: tarfile.TarInfo) -> None:
    """Every entry sits under a layer number and is a plain filesystem object."""
    top = member.name.split("/", 1)[0]
    if not top.isdigit() or not (
        member.isreg() or member.isdir() or member.issym() or member.islnk() or member.ischr()
    ):
        raise ValueError(f"not a devcloud disk layer entry: {member.name!r}")
    if member.ischr() and (member.devmajor, member.devminor) != (0, 0):
        raise ValueError(f"a device other than a whiteout: {member.name!r}")


def _keep_modes(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's ``tar`` filter (no absolute paths, nothing outside ``dest``, links included)
    with the modes kept: a disk's setuid programs must stay setuid."""
    return tarfile.tar_filter(member, dest).replace(mode=member.mode, deep=False)
