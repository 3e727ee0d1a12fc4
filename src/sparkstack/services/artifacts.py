"""A service's software (a tarball): resolved and checked in preflight, fetched while the
servers boot, verified before any node gets it.

Resolving never downloads the tarball itself: it checks that the local file exists and matches
its SHA-512, or that the URL answers and its checksum is known (given, in the cache, or the
``.sha512`` file published beside it). :meth:`Artifact.fetch` then downloads it into the local
cache once (a background thread, so the download overlaps the server boot), checks the SHA-512
and hands the verified file over. The nodes check the SHA-512 again after transfer.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sparkstack.errors import ArtifactError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.validation import FILE_NAME

_HEX128 = re.compile(r"^[0-9a-f]{128}$")
TIMEOUT = 60


@dataclass(frozen=True)
class ArtifactSource:
    """Where a service's tarball comes from: a local ``path`` or a ``url``, and its checksum
    if the user gave one; ``hint`` names the setting to fix in error lines."""

    name: str
    url: str | None = None
    path: Path | None = None
    sha512: str | None = None
    hint: str = ""


def sha512_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def parse_sha512(text: str, hint: str = "") -> str:
    """A SHA-512 from a ``.sha512`` file: ``sha512sum`` format, or gpg's ``name: AB CD ...``."""
    if ":" in text:  # gpg --print-md: "file.tgz: 1A2B 3C4D ..." over several lines
        candidate = "".join(text.split(":", 1)[1].split()).lower()
    else:
        candidate = (text.split() or [""])[0].lower()
    if not _HEX128.match(candidate):
        raise ArtifactError(f"the published .sha512 file holds no SHA-512; set {hint} yourself")
    return candidate


def _filename(source: ArtifactSource) -> str:
    name = source.path.name if source.path else Path(urlsplit(source.url or "").path).name
    if not FILE_NAME.match(name):
        raise ArtifactError(
            f"{source.name} tarball name {name!r} is not a plain file name (A-Z, 0-9, '._+-')"
        )
    return name


@dataclass
class Artifact:
    """A resolved tarball: its name, SHA-512 and where it comes from. ``local`` is the verified
    file once there is one (a user's file at once; a download once :meth:`fetch` is done);
    ``origin`` is where to get it when there is none yet. ``baked``: the image the nodes boot
    from holds this tarball's install, so it is fetched only for a node found without it."""

    name: str
    filename: str
    sha512: str
    source: str
    local: Path | None = None
    origin: ArtifactSource | None = None
    cache: Path | None = None
    fetched_bytes: int = 0
    baked: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)

    def start_fetch(self, report: Reporter = silent) -> None:
        """Begin getting the file in the background (nothing to do when it is here)."""
        if self.local is not None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._obtain, args=(report,), name=f"fetch-{self.name}", daemon=True
        )
        self._thread.start()

    def fetch(self, report: Reporter = silent) -> Path:
        """The verified local file, getting it first if needed (blocks)."""
        self.start_fetch(report)
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self.local is not None
        return self.local

    def _obtain(self, report: Reporter) -> None:
        try:
            origin = self.origin
            if origin is None:
                raise ArtifactError(f"the {self.name} tarball ({self.filename}) is not here")
            if origin.path is not None:
                if _resolve_file(origin, self.filename).sha512 != self.sha512:
                    raise ArtifactError(
                        f"{origin.path} is not the {self.name} tarball the cluster was "
                        f"launched with (SHA-512 {self.sha512[:16]}...)"
                    )
                self.local = origin.path
                return
            assert origin.url is not None and self.cache is not None
            if not (self.cache.exists() and sha512_file(self.cache) == self.sha512):
                self.fetched_bytes += download(origin.url, self.cache, self.sha512, report)
            self.local = self.cache
        except BaseException as exc:  # handed to fetch(), in the caller's thread
            self._error = exc


def _cached_path(url: str, cache_dir: Path) -> Path:
    folder = cache_dir / hashlib.sha256(url.encode()).hexdigest()[:16]
    return folder / (Path(urlsplit(url).path).name or "download")


def resolve(source: ArtifactSource, cache_dir: Path) -> Artifact:
    """Check that the artifact exists and what its SHA-512 is, without downloading it."""
    filename = _filename(source)
    if source.path is not None:
        return _resolve_file(source, filename)
    assert source.url is not None
    cached = _cached_path(source.url, cache_dir)
    sidecar = cached.with_name(cached.name + ".sha512")
    fetched = 0
    if source.sha512:
        expected = source.sha512.lower()
    elif sidecar.exists():
        expected = parse_sha512(sidecar.read_text(), source.hint)
    else:
        text = _get(source.url + ".sha512", source).decode(errors="replace")
        fetched = len(text)
        expected = parse_sha512(text, source.hint)
    artifact = Artifact(
        source.name,
        filename,
        expected,
        source.url,
        origin=source,
        cache=cached,
        fetched_bytes=fetched,
    )
    if cached.exists() and sha512_file(cached) == expected:
        artifact.local = cached
    else:
        _head(source.url, source)
    return artifact


def recorded(
    name: str, filename: str, sha512: str, origin: ArtifactSource, cache_dir: Path
) -> Artifact:
    """An artifact known from a manifest: fetched from ``origin`` only if a node lacks it."""
    cache = _cached_path(origin.url, cache_dir) if origin.url else None
    source = origin.url or str(origin.path)
    return Artifact(name, filename, sha512, source, origin=origin, cache=cache)


def _resolve_file(source: ArtifactSource, filename: str) -> Artifact:
    path = source.path
    assert path is not None
    if not path.is_file():
        raise ArtifactError(f"no tarball at {path}; check {source.hint}")
    sidecar = path.with_name(path.name + ".sha512")
    expected = source.sha512 or (
        parse_sha512(sidecar.read_text(), source.hint) if sidecar.exists() else None
    )
    actual = sha512_file(path)
    if expected and actual != expected.lower():
        raise ArtifactError(
            f"{path}: SHA-512 is {actual[:16]}..., expected {expected[:16]}...; "
            "the file is corrupt or not the one you meant; nothing was created"
        )
    return Artifact(source.name, filename, actual, str(path), local=path, origin=source)


def download(url: str, dest: Path, sha512: str, report: Reporter) -> int:
    """Download ``url`` to ``dest`` (via a .part file), check its SHA-512; bytes fetched."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with Phase(report, "download", text=f"download {dest.name}") as phase:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response, part.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
                size = out.tell()
        except (urllib.error.URLError, OSError) as exc:
            part.unlink(missing_ok=True)
            raise ArtifactError(f"cannot download {url}: {_reason(exc)}") from exc
        actual = sha512_file(part)
        if actual != sha512:
            part.unlink()
            raise ArtifactError(
                f"{url}: SHA-512 of the download is {actual[:16]}..., expected {sha512[:16]}...; "
                "nothing was installed; check the URL and the checksum"
            )
        part.rename(dest)
        dest.with_name(dest.name + ".sha512").write_text(f"{sha512}  {dest.name}\n")
        phase.message(f"{size / 1e6:.0f} MB from {urlsplit(url).netloc}")
    return size


def _get(url: str, source: ArtifactSource) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data: bytes = response.read(1 << 16)
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise ArtifactError(
            f"cannot get the checksum of {source.name} from {url}: {_reason(exc)}; "
            f"check {source.hint} (is this version published?)"
        ) from exc


def _head(url: str, source: ArtifactSource) -> None:
    request = urllib.request.Request(url, method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=TIMEOUT).close()
    except (urllib.error.URLError, OSError) as exc:
        raise ArtifactError(
            f"cannot download {source.name} from {url}: {_reason(exc)}; check {source.hint}"
        ) from exc


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc)
