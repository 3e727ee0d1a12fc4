"""The runtime tarballs the test bed assembles from Maven jars (see :mod:`sparkstack.maven`).

The test machine reaches only PyPI, Maven Central and Debian's apt repositories, not Apache's
archive, so the devcloud builds stand-ins for Apache's binary tarballs (ZooKeeper in
``zookeeper_dist``, HDFS in ``hadoop_dist``) from a fixed list of jars, fetched with
:mod:`sparkstack.maven` (the download and SHA-1 check the product uses too). This module holds
what those builds share besides: the packing of an assembled directory as a root-owned
``.tar.gz`` with a ``.sha512`` (``sha512sum`` format) beside it, written under a temporary name
first so that an interrupted build never leaves a file that looks finished, and a lock so that
two test sessions building the same tarball at once do not mix their files.
"""

from __future__ import annotations

import contextlib
import fcntl
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sparkstack.maven import part_file, write_atomically
from sparkstack.services.artifacts import sha512_file


@dataclass(frozen=True)
class BuiltTarball:
    """A built tarball and its SHA-512 (hex)."""

    tarball: Path
    sha512: str

    @property
    def sha512_file(self) -> Path:
        return self.tarball.with_name(self.tarball.name + ".sha512")


@contextlib.contextmanager
def build_lock(directory: Path) -> Iterator[None]:
    """Held while one process builds into ``directory`` (created): others wait, then reuse it."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".build.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached_sha512(tarball: Path) -> str | None:
    """The SHA-512 of a tarball built before (from its ``.sha512``), or None when there is none."""
    sidecar = BuiltTarball(tarball, "").sha512_file
    if tarball.exists() and sidecar.exists():
        return sidecar.read_text().split()[0]
    return None


def pack(root: Path, tarball: Path) -> BuiltTarball:
    """``root`` (a directory) as ``tarball`` (.tar.gz) with the top directory ``root.name``.

    Every member is owned by root:root with mode 0755 (directories and owner-executable files) or
    0644 (other files), whatever the umask of the build. The ``.sha512`` beside it is written last:
    its presence marks a finished build (see ``cached_sha512``).
    """
    part = part_file(tarball)
    try:
        # Level 1: the jars inside are zip files already, a higher level buys little and costs CPU.
        with tarfile.open(part, "w:gz", compresslevel=1) as out:
            out.add(root, arcname=root.name, filter=_root_owned)
        part.rename(tarball)
    finally:
        part.unlink(missing_ok=True)
    built = BuiltTarball(tarball, sha512_file(tarball))
    write_atomically(built.sha512_file, f"{built.sha512}  {tarball.name}\n")
    return built


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
    return info
