"""Artifacts a service installs (tarballs), fetched once into the local cache and verified.

The SHA-512 is checked on the client before anything reaches a node, so a wrong or corrupted
download is refused before a single node is touched. The nodes check it again after transfer.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sparkstack.errors import ServiceError
from sparkstack.events import Phase, Reporter

_HEX128 = re.compile(r"^[0-9a-f]{128}$")


@dataclass(frozen=True)
class Artifact:
    """A verified local file and its SHA-512; ``fetched_bytes`` counts this call's downloads."""

    path: Path
    sha512: str
    fetched_bytes: int = 0


def sha512_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def parse_sha512(text: str) -> str:
    """A SHA-512 from a ``.sha512`` file: ``sha512sum`` format, or gpg's ``name: AB CD ...``."""
    if ":" in text:  # gpg --print-md: "file.tgz: 1A2B 3C4D ..." over several lines
        text = text.split(":", 1)[1]
        candidate = "".join(text.split()).lower()
    else:
        candidate = (text.split() or [""])[0].lower()
    if not _HEX128.match(candidate):
        raise ServiceError("the published .sha512 file holds no SHA-512; set spark.sha512 yourself")
    return candidate


def local_artifact(path: Path, sha512: str | None) -> Artifact:
    """A file the user gave: verified against ``sha512``, or its ``.sha512`` sidecar if present."""
    if not path.is_file():
        raise ServiceError(f"no tarball at {path}; check --spark-tarball")
    sidecar = path.with_name(path.name + ".sha512")
    expected = sha512 or (parse_sha512(sidecar.read_text()) if sidecar.exists() else None)
    actual = sha512_file(path)
    if expected and actual != expected.lower():
        raise ServiceError(
            f"{path}: SHA-512 is {actual[:16]}..., expected {expected[:16]}...; "
            "the file is corrupt or not the one you meant; nothing was installed"
        )
    return Artifact(path, actual)


def fetch(url: str, sha512: str | None, cache: Path, report: Reporter) -> Artifact:
    """Download ``url`` into ``cache`` once; the SHA-512 comes from ``sha512`` or ``url.sha512``."""
    name = Path(urlsplit(url).path).name or "download"
    folder = cache / hashlib.sha256(url.encode()).hexdigest()[:16]
    path = folder / name
    sidecar = folder / f"{name}.sha512"
    fetched = 0
    if sha512:
        expected = sha512.lower()
    elif sidecar.exists():
        expected = parse_sha512(sidecar.read_text())
    else:
        text = _get(url + ".sha512").decode(errors="replace")
        fetched += len(text)
        expected = parse_sha512(text)
    if path.exists() and sha512_file(path) == expected:
        return Artifact(path, expected, fetched)
    folder.mkdir(parents=True, exist_ok=True)
    part = path.with_name(name + ".part")
    with Phase(report, "download", text=f"download {name}") as phase:
        fetched += _download(url, part)
        actual = sha512_file(part)
        if actual != expected:
            part.unlink()
            raise ServiceError(
                f"{url}: SHA-512 of the download is {actual[:16]}..., expected {expected[:16]}...; "
                "nothing was installed; check spark.url and spark.sha512"
            )
        part.rename(path)
        sidecar.write_text(f"{expected}  {name}\n")
        phase.message(f"{fetched / 1e6:.0f} MB from {urlsplit(url).netloc}")
    return Artifact(path, expected, fetched)


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"cannot download {url}: {_reason(exc)}") from exc


def _download(url: str, dest: Path) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
            return out.tell()
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"cannot download {url}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc)
