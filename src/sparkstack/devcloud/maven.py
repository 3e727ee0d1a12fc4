"""Jars from Maven Central, and the runtime tarballs the test bed assembles from them.

The test machine reaches only PyPI, Maven Central and Debian's apt repositories, not Apache's
archive, so the devcloud builds stand-ins for Apache's binary tarballs (ZooKeeper in
``zookeeper_dist``, HDFS in ``hadoop_dist``) from a fixed list of jars. This module holds what
those builds share: the download of one jar into a local cache in Maven's layout, checked against
the ``.sha1`` Maven Central publishes beside it, and the packing of an assembled directory as a
root-owned ``.tar.gz`` with a ``.sha512`` (``sha512sum`` format) beside it, both written under
temporary names first so that an interrupted build never leaves a file that looks finished, and
a lock so that two test sessions building the same tarball at once do not mix their files.

Layout of the jar cache::

    <repo>/<group path>/<artifact>/<version>/<artifact>-<version>[-<classifier>].jar (+ .sha1)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sparkstack.errors import DevcloudError
from sparkstack.services.artifacts import sha512_file

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"

#: Seconds for connecting and for each read of a download.
TIMEOUT = 60

#: Downloads at a time (a cold build fetches 100+ small files: latency, not bandwidth, bounds it).
PARALLEL = 8

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class MavenJar:
    """One jar on Maven Central; a ``classifier`` names a secondary jar (``tests``, a platform)."""

    group: str
    artifact: str
    version: str
    classifier: str = ""

    @classmethod
    def parse(cls, coordinate: str) -> MavenJar:
        """``group:artifact:version`` or ``group:artifact:version:classifier``."""
        parts = coordinate.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise ValueError(f"not group:artifact:version[:classifier]: {coordinate!r}")
        return cls(*parts)

    @property
    def filename(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.jar"

    @property
    def path(self) -> str:
        """Path below a Maven repository's root."""
        return f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.filename}"

    def __str__(self) -> str:
        suffix = f":{self.classifier}" if self.classifier else ""
        return f"{self.group}:{self.artifact}:{self.version}{suffix}"


@dataclass(frozen=True)
class BuiltTarball:
    """A built tarball and its SHA-512 (hex)."""

    tarball: Path
    sha512: str

    @property
    def sha512_file(self) -> Path:
        return self.tarball.with_name(self.tarball.name + ".sha512")


def fetch_jar(jar: MavenJar, repo: Path) -> Path:
    """The jar in the local Maven-layout cache ``repo``, downloaded and SHA-1 checked if missing.

    A cached jar is checked again against the ``.sha1`` saved beside it (a truncated or altered
    file is fetched anew).
    """
    dest = repo / jar.path
    sidecar = dest.with_name(dest.name + ".sha1")
    if dest.exists() and sidecar.exists() and _sha1_file(dest) == sidecar.read_text().strip():
        return dest
    url = f"{MAVEN_CENTRAL}/{jar.path}"
    expected = _parse_sha1(_get(f"{url}.sha1", jar).decode("ascii", "replace"), jar)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part(dest)
    try:
        _download(url, part, jar)
        actual = _sha1_file(part)
        if actual != expected:
            raise DevcloudError(
                f"jar {jar} from {url} has SHA-1 {actual}, Maven Central publishes {expected}"
            )
        part.rename(dest)
    finally:
        part.unlink(missing_ok=True)
    _write_atomically(sidecar, f"{expected}\n")
    return dest


def fetch_jars(jars: Iterable[MavenJar], repo: Path) -> list[Path]:
    """``fetch_jar`` for each jar, ``PARALLEL`` at a time; the paths in the order of ``jars``."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda jar: fetch_jar(jar, repo), jars))


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
    part = _part(tarball)
    try:
        # Level 1: the jars inside are zip files already, a higher level buys little and costs CPU.
        with tarfile.open(part, "w:gz", compresslevel=1) as out:
            out.add(root, arcname=root.name, filter=_root_owned)
        part.rename(tarball)
    finally:
        part.unlink(missing_ok=True)
    built = BuiltTarball(tarball, sha512_file(tarball))
    _write_atomically(built.sha512_file, f"{built.sha512}  {tarball.name}\n")
    return built


def _part(dest: Path) -> Path:
    """A new empty file beside ``dest``, named for it, to write before renaming it to ``dest``."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp's 0600 would stay on the finished file
    return Path(name)


def _write_atomically(dest: Path, text: str) -> None:
    part = _part(dest)
    try:
        part.write_text(text)
        part.rename(dest)
    finally:
        part.unlink(missing_ok=True)


def _get(url: str, jar: MavenJar) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise DevcloudError(f"could not download {url} (jar {jar}): {_reason(exc)}") from exc


def _download(url: str, dest: Path, jar: MavenJar) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        raise DevcloudError(f"could not download {url} (jar {jar}): {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _parse_sha1(text: str, jar: MavenJar) -> str:
    """Maven Central's ``.sha1``: the hex digest, sometimes followed by a file name."""
    words = text.split()
    candidate = words[0].lower() if words else ""
    if not _SHA1.match(candidate):
        raise DevcloudError(f"Maven Central's .sha1 of jar {jar} is not a SHA-1: {text[:80]!r}")
    return candidate


def _sha1_file(path: Path) -> str:
    digest = hashlib.sha1()  # Maven Central's checksum: integrity, not security
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
    return info
