"""Files in the cloud's object store (the Swift API): put with progress and checked MD5s, get to
a file atomically, and listings.

Every call goes through openstacksdk's ``object_store`` proxy. A file larger than the segment
size becomes a Static Large Object. Its segments are uploaded here, one after the other from the
calling thread, rather than by openstacksdk's cloud-layer ``create_object``: that one uploads
segments from a thread pool with no progress hook, and on Ctrl-C its threads go on uploading
after the caller has cleaned up. Segments go to ``<container>_segments`` under
``<name>/slo/<token>/`` (python-swiftclient's layout, so ``swift delete`` removes them with the
object), the manifest lists each segment's MD5, and Swift refuses a manifest whose segments
differ.

Each upload carries a one-off token (object metadata) and the file's MD5: a failure or Ctrl-C
deletes what this upload made (its segments, its object if it was written, a container it
created), and ``get`` checks a large object against that MD5 (a plain object against its ETag).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from keystoneauth1 import exceptions as ka_exc
from openstack import exceptions as os_exc

from sparkstack import validation
from sparkstack.cloud.concurrency import sigint_ignored
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.transfer import CHUNK, ProgressReader
from sparkstack.errors import CloudError, NotFoundError, UsageError

SEGMENTS = "_segments"
#: Object metadata keys (``X-Object-Meta-<key>``).
TOKEN_KEY = "sparkstack-upload"
MD5_KEY = "sparkstack-md5"
#: openstacksdk's default segment size would be 5 GiB; a GiB keeps a failed part cheap to redo.
DEFAULT_SEGMENT_SIZE = 1 << 30

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    objects: int
    size: int


@dataclass(frozen=True)
class ObjectInfo:
    """An object as ``data ls`` shows it; ``large`` for a Static Large Object, ``md5`` of its
    content where known (read by :func:`head`: a plain object's ETag, a large one's record)."""

    container: str
    name: str
    size: int
    modified: datetime | None
    etag: str = ""
    large: bool = False
    md5: str = ""
    #: the token of the sparkstack upload that wrote it (for its cleanup)
    token: str = ""


@dataclass(frozen=True)
class Transfer:
    """A finished put or get: the object, the local file, its MD5 and what that was checked
    against; ``segments`` that a put stored (0: a plain object, or a get)."""

    object: ObjectInfo
    file: Path
    md5: str
    segments: int
    checked: str


def require(cloud: Cloud) -> None:
    """Fail with one line when the cloud's catalog has no object store."""
    with translate_errors("reading the service catalog"):
        try:
            endpoint = cloud.conn.endpoint_for("object-store")
        except (ka_exc.EndpointNotFound, os_exc.ServiceDiscoveryException):
            endpoint = None
    if not endpoint:
        raise CloudError(
            f"cloud {cloud.name} has no object storage (no object-store service in its "
            "catalog); use a cloud that offers Swift (the devcloud: `sparkstack devcloud up "
            "--object-storage`)"
        )


def _path(container: str, name: str = "") -> str:
    """The URL path of a container or object below the account (names are data: quoted)."""
    return quote(container, safe="") + (f"/{quote(name, safe='/')}" if name else "")


def _checked(response: Any) -> Any:
    os_exc.raise_from_response(response)
    return response


def _when(value: object) -> datetime | None:
    """Swift says ``2026-12-02T06:20:01.123450`` (UTC) in listings, an HTTP date in headers."""
    if not value:
        return None
    text = str(value)
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        with contextlib.suppress(TypeError, ValueError):
            return parsedate_to_datetime(text)
    return None


def _bare(etag: object) -> str:
    return str(etag or "").strip('"')


def containers(cloud: Cloud) -> list[ContainerInfo]:
    """The project's containers, by name."""
    require(cloud)
    with translate_errors("listing containers"):
        found = [
            ContainerInfo(str(c.name), int(c.count or 0), int(c.bytes or 0))
            for c in cloud.conn.object_store.containers()
        ]
    return sorted(found, key=lambda c: c.name)


def objects(cloud: Cloud, container: str, prefix: str = "") -> list[ObjectInfo]:
    """The objects of ``container`` whose names start with ``prefix``, by name."""
    require(cloud)
    with _missing_named(container), translate_errors(f"listing container {container}"):
        listed = cloud.conn.object_store.objects(container, prefix=prefix or None)
        return [
            ObjectInfo(
                container,
                str(o.name),
                int(o._bytes or 0),
                _when(o._last_modified),
                _bare(o._hash),
            )
            for o in listed
        ]


@contextlib.contextmanager
def _missing_named(container: str, name: str = "") -> Iterator[None]:
    """A 404 as the line that names what is missing."""
    try:
        yield
    except NotFoundError as exc:
        what = f"no object {validation.shown(name)} in" if name else "no"
        raise NotFoundError(
            f"{what} container {validation.shown(container)} in this project; `sparkstack data "
            f"ls{' CONTAINER' if name else ''}` lists what there is",
            status_code=404,
        ) from exc


def head(cloud: Cloud, container: str, name: str) -> ObjectInfo:
    """An object's facts (NotFoundError naming it when missing)."""
    require(cloud)
    with _missing_named(container, name), translate_errors(f"reading {container}/{name}"):
        response = _checked(cloud.conn.object_store.head(_path(container, name)))
    headers = {k.lower(): v for k, v in response.headers.items()}
    large = headers.get("x-static-large-object", "").lower() == "true"
    etag = _bare(headers.get("etag"))
    return ObjectInfo(
        container,
        name,
        int(headers.get("content-length") or 0),
        _when(headers.get("last-modified")),
        etag,
        large,
        headers.get(f"x-object-meta-{MD5_KEY}", "") if large else etag,
        headers.get(f"x-object-meta-{TOKEN_KEY}", ""),
    )


def _exists(cloud: Cloud, container: str) -> bool:
    with translate_errors(f"reading container {container}"):
        response = cloud.conn.object_store.head(_path(container))
        if response.status_code == 404:
            return False
        _checked(response)
    return True


def _put(cloud: Cloud, path: str, what: str, **kwargs: Any) -> dict[str, str]:
    with translate_errors(what):
        response = _checked(cloud.conn.object_store.put(path, **kwargs))
    return {k.lower(): v for k, v in response.headers.items()}


def _ensure_container(cloud: Cloud, container: str, made: list[str]) -> None:
    """Create ``container`` when missing; remember it in ``made`` (for the cleanup)."""
    if not _exists(cloud, container):
        _put(cloud, _path(container), f"creating container {container}")
        made.append(container)


@dataclass
class _Upload:
    """What one upload has made so far, to delete it all when it fails."""

    cloud: Cloud
    container: str
    name: str
    token: str
    containers: list[str]
    segments: list[str]

    def remove(self) -> None:
        """Delete this upload's object (only if it carries the token: an object it failed to
        replace stays), its segments and the containers it created, if they are empty."""
        store = self.cloud.conn.object_store
        with translate_errors(f"removing the partial upload {self.container}/{self.name}"):
            with contextlib.suppress(NotFoundError):
                if head(self.cloud, self.container, self.name).token == self.token:
                    store.delete(_path(self.container, self.name))
            for segment in self.segments:
                store.delete(_path(self.container + SEGMENTS, segment))
            for container in reversed(self.containers):
                # a 409 (not empty: someone else's object meanwhile) keeps it
                store.delete(_path(container))


def _segments_of(cloud: Cloud, container: str, name: str) -> list[str]:
    """The segments (``/container/name`` paths) of the large object at ``container/name``,
    if there is one: replacing it leaves them unused, and they are deleted after the new
    upload (as ``swift upload`` does)."""
    with contextlib.suppress(NotFoundError):
        if not head(cloud, container, name).large:
            return []
        with translate_errors(f"reading the manifest of {container}/{name}"):
            response = cloud.conn.object_store.get(
                _path(container, name), params={"multipart-manifest": "get"}
            )
            return [str(entry["name"]) for entry in _checked(response).json()]
    return []


def _delete_segments(cloud: Cloud, paths: list[str]) -> None:
    with translate_errors("deleting the segments of the replaced object"):
        for path in paths:
            container, _, name = path.lstrip("/").partition("/")
            cloud.conn.object_store.delete(_path(container, name))


def _segment_names(name: str, token: str, size: int, segment: int) -> list[str]:
    count = max(1, -(-size // segment))
    return [f"{name}/slo/{token}/{size}/{segment}/{i:08d}" for i in range(count)]


def upload(
    cloud: Cloud,
    path: Path,
    container: str,
    name: str,
    on_progress: Progress,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> Transfer:
    """Put ``path`` as ``container/name`` (the container made when missing): a plain object,
    or a Static Large Object when it is larger than ``segment_size``. Checked against Swift's
    ETags; any failure or Ctrl-C removes what was made."""
    require(cloud)
    with translate_errors("reading the object store's limits"):
        segment = int(cloud.conn.object_store.get_object_segment_size(segment_size))
    size = path.stat().st_size
    large = size > segment
    if large and len((container + SEGMENTS).encode()) > validation.CONTAINER_MAX:
        raise UsageError(
            f"container {validation.shown(container)}: a large object's segments go to "
            f"'<container>{SEGMENTS}', which would be too long; pick a shorter container name"
        )
    job = _Upload(cloud, container, name, secrets.token_hex(8), [], [])
    md5 = hashlib.md5(usedforsecurity=False)
    meta = {f"X-Object-Meta-{TOKEN_KEY}": job.token}
    try:
        _ensure_container(cloud, container, job.containers)
        replaced = _segments_of(cloud, container, name)
        if large:
            _ensure_container(cloud, container + SEGMENTS, job.containers)
            etag = _put_segments(job, path, size, segment, md5, on_progress)
            meta[f"X-Object-Meta-{MD5_KEY}"] = md5.hexdigest()
            manifest = [
                {"path": f"/{container}{SEGMENTS}/{s}", "etag": e, "size_bytes": n}
                for s, (e, n) in zip(job.segments, etag, strict=True)
            ]
            stored = _put(
                cloud,
                _path(container, name),
                f"storing the manifest of {container}/{name}",
                params={"multipart-manifest": "put"},
                data=json.dumps(manifest),
                headers=meta,
            )
            expected = hashlib.md5("".join(e for e, _ in etag).encode(), usedforsecurity=False)
            checked = f"{len(etag)} segments' MD5s and the manifest's ETag"
        else:
            with ProgressReader(path, on_progress, [md5]) as reader:
                stored = _put(
                    cloud, _path(container, name), f"uploading {path.name}", data=reader,
                    headers={**meta, "Content-Type": "application/octet-stream"},
                )  # fmt: skip
            expected = md5
            checked = "the object's ETag (MD5)"
        if _bare(stored.get("etag")) != expected.hexdigest():
            raise CloudError(
                f"{container}/{name}: Swift's ETag {_bare(stored.get('etag'))} is not the "
                f"upload's MD5 {expected.hexdigest()}: it was damaged on the way and has been "
                "deleted; put it again"
            )
        info = head(cloud, container, name)
    except BaseException:
        with sigint_ignored():
            job.remove()
        raise
    with sigint_ignored():  # the upload is done: a Ctrl-C now must not stop this halfway
        _delete_segments(cloud, replaced)
    return Transfer(info, path, md5.hexdigest(), len(job.segments), checked)


def _put_segments(
    job: _Upload, path: Path, size: int, segment: int, md5: Any, on_progress: Progress
) -> list[tuple[str, int]]:
    """Upload the segments in order; each one's (ETag, size), checked against its MD5."""
    found: list[tuple[str, int]] = []
    for index, segment_name in enumerate(_segment_names(job.name, job.token, size, segment)):
        offset = index * segment
        piece = hashlib.md5(usedforsecurity=False)
        job.segments.append(segment_name)  # before the PUT: an interrupted one may be stored

        def progress(done: int, _total: int, offset: int = offset) -> None:
            on_progress(offset + done, size)

        with ProgressReader(path, progress, [md5, piece], offset=offset, length=segment) as rd:
            headers = _put(
                job.cloud,
                _path(job.container + SEGMENTS, segment_name),
                f"uploading segment {index + 1} of {path.name}",
                data=rd,
            )
            if _bare(headers.get("etag")) != piece.hexdigest():
                raise CloudError(
                    f"segment {index + 1} of {path.name}: Swift's ETag is not its MD5 (damaged "
                    "on the way); the upload was removed, put it again"
                )
            found.append((piece.hexdigest(), rd.size))
    return found


def download(
    cloud: Cloud, info: ObjectInfo, dest: Path, on_progress: Progress, force: bool
) -> Transfer:
    """Stream the object ``info`` (from :func:`head`) to a temporary file beside ``dest``, check
    its MD5, then move it to ``dest`` in one step (an existing ``dest`` only with ``force``).
    Any failure or Ctrl-C removes the temporary file."""
    container, name, expected = info.container, info.name, info.md5
    fd, temp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it 0600; a download is a plain new file
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            _missing_named(container, name),
            translate_errors(f"downloading {container}/{name}"),
        ):
            # stream_object would not quote a '?' or '#' in the name: the same GET, quoted
            response = cloud.conn.object_store.get(_path(container, name), stream=True)
            done = 0
            for chunk in _checked(response).iter_content(CHUNK):
                out.write(chunk)
                md5.update(chunk)
                done += len(chunk)
                on_progress(done, info.size)
        if expected and md5.hexdigest() != expected:
            raise CloudError(
                f"{container}/{name}: the MD5 of what arrived is not the object's {expected} "
                "(damaged on the way, or replaced meanwhile); nothing was written, get it again"
            )
        _place(Path(temp), dest, force)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    if not expected:
        checked = "not checked (a large object without an MD5 record)"
    else:
        checked = "the manifest's MD5 record" if info.large else "the object's ETag (MD5)"
    return Transfer(info, dest, md5.hexdigest(), 0, checked)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _place(temp: Path, dest: Path, force: bool) -> None:
    """Move the finished file to ``dest``: a hard link when it must not replace a file (fails
    if one appeared meanwhile), a rename otherwise; both are one step."""
    if force:
        os.replace(temp, dest)
        return
    try:
        os.link(temp, dest)
    except FileExistsError:
        raise UsageError(f"{dest} exists; pass --force to replace it") from None
    os.unlink(temp)
