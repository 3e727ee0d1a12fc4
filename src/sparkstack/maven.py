"""Jars from a Maven repository (Maven Central by default), in a local cache in Maven's layout.

Shared by the product (the s3a jars a cluster's Spark needs) and the devcloud (the jars its
stand-in tarballs are built from): a jar is downloaded once, checked against the ``.sha1`` the
repository publishes beside it, and kept with that ``.sha1``; a cached jar is checked again
against it before use, and written under a temporary name first, so an interrupted download
never leaves a file that looks finished.

Layout of the cache::

    <cache>/<group path>/<artifact>/<version>/<artifact>-<version>[-<classifier>].jar (+ .sha1)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sparkstack.errors import ArtifactError

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"

#: Seconds for connecting and for each read of a download.
TIMEOUT = 60

#: Downloads at a time (a cold build fetches 100+ small files: latency, not bandwidth, bounds it).
PARALLEL = 8

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class MavenJar:
    """One jar in a Maven repository; a ``classifier`` names a secondary jar (``tests``...)."""

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


def published_sha1(jar: MavenJar, repo: Path, base_url: str = MAVEN_CENTRAL) -> str:
    """The jar's SHA-1 as the repository publishes it: from the cache's ``.sha1`` when there
    is one (no network), else fetched (a small request)."""
    sidecar = repo / f"{jar.path}.sha1"
    if sidecar.exists():
        return sidecar.read_text().strip()
    url = f"{base_url.rstrip('/')}/{jar.path}.sha1"
    return _parse_sha1(_get(url, jar).decode("ascii", "replace"), jar)


def fetch_jar(jar: MavenJar, repo: Path, base_url: str = MAVEN_CENTRAL) -> Path:
    """The jar in the local Maven-layout cache ``repo``, downloaded from ``base_url`` and SHA-1
    checked if missing (a truncated or altered cached file is fetched anew)."""
    dest = repo / jar.path
    sidecar = dest.with_name(dest.name + ".sha1")
    if dest.exists() and sidecar.exists() and sha1_file(dest) == sidecar.read_text().strip():
        return dest
    url = f"{base_url.rstrip('/')}/{jar.path}"
    expected = _parse_sha1(_get(f"{url}.sha1", jar).decode("ascii", "replace"), jar)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_file(dest)
    try:
        _download(url, part, jar)
        actual = sha1_file(part)
        if actual != expected:
            raise ArtifactError(
                f"jar {jar} from {url} has SHA-1 {actual}, the repository publishes {expected}"
            )
        part.rename(dest)
    finally:
        part.unlink(missing_ok=True)
    write_atomically(sidecar, f"{expected}\n")
    return dest


def fetch_jars(jars: Iterable[MavenJar], repo: Path, base_url: str = MAVEN_CENTRAL) -> list[Path]:
    """``fetch_jar`` for each jar, ``PARALLEL`` at a time; the paths in the order of ``jars``."""
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda jar: fetch_jar(jar, repo, base_url), jars))


def part_file(dest: Path) -> Path:
    """A new empty file beside ``dest``, named for it, to write before renaming it to ``dest``."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp's 0600 would stay on the finished file
    return Path(name)


def write_atomically(dest: Path, text: str) -> None:
    part = part_file(dest)
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
        raise ArtifactError(f"could not download {url} (jar {jar}): {_reason(exc)}") from exc


def _download(url: str, dest: Path, jar: MavenJar) -> None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        raise ArtifactError(f"could not download {url} (jar {jar}): {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _parse_sha1(text: str, jar: MavenJar) -> str:
    """A repository's ``.sha1``: the hex digest, sometimes followed by a file name."""
    words = text.split()
    candidate = words[0].lower() if words else ""
    if not _SHA1.match(candidate):
        raise ArtifactError(f"the published .sha1 of jar {jar} is not a SHA-1: {text[:80]!r}")
    return candidate


def sha1_file(path: Path) -> str:
    digest = hashlib.sha1()  # Maven's checksum: integrity, not security
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
