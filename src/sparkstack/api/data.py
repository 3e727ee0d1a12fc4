"""``data put``, ``data get`` and ``data ls``: files between this machine and the cloud's object
store (job input and output for ``s3a://container/path``).

Every argument is checked before the network: the container and object names (Swift's rules),
the local file (put: a readable file; get: a free place to write, unless ``force``).
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath

from sparkstack import validation
from sparkstack.cloud import object_store, transfer
from sparkstack.cloud.connection import connect
from sparkstack.cloud.object_store import ContainerInfo, ObjectInfo, Progress, Transfer
from sparkstack.errors import Interrupted, UsageError
from sparkstack.events import Phase, Reporter, silent

#: Files larger than this become Static Large Objects (the CLI's --segment-size default).
DEFAULT_SEGMENT_SIZE = object_store.DEFAULT_SEGMENT_SIZE


def split_target(target: str) -> tuple[str, str]:
    """``CONTAINER[/PATH]`` as (container, path); the path may be empty."""
    container, _, path = target.partition("/")
    return container, path


def _names(container: str, name: str | None) -> tuple[str, str]:
    try:
        validation.container_name(container)
        if name is not None:
            validation.object_name(name)
    except ValueError as exc:
        shown = validation.shown(container if name is None else f"{container}/{name}")
        raise UsageError(f"{shown}: {exc}") from None
    return container, name or ""


def _phase(report: Reporter, name: str, size: int, text: str) -> tuple[Phase, Progress]:
    """A counted phase in MiB and the byte callback that advances it with rate and ETA."""
    phase = Phase(report, name, total=max(1, size >> 20), text=text)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        phase.set_progress(done >> 20, transfer.rate_text(done, total, started))

    return phase, progress


def put(
    file: Path,
    container: str,
    name: str | None = None,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    cloud: str | None = None,
    report: Reporter = silent,
) -> Transfer:
    """Upload ``file`` as ``container/name`` (default: the file's name; a name ending in '/'
    gets it appended), creating the container when missing. Larger than ``segment_size``, it
    becomes a Static Large Object. Checked against Swift's MD5s; a failed or interrupted upload
    leaves nothing behind."""
    try:
        path = validation.existing_file(file)
    except ValueError as exc:
        raise UsageError(f"data put: {exc}") from None
    if not name or name.endswith("/"):
        name = f"{name or ''}{path.name}"
    container, name = _names(container, name)
    if segment_size < 1:
        raise UsageError("--segment-size: a positive number of bytes")
    session = connect(cloud)
    phase, progress = _phase(report, "put", path.stat().st_size, f"uploading {path.name}")
    with phase:
        try:
            done = object_store.upload(session, path, container, name, progress, segment_size)
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted; the partial upload of {validation.shown(name)} was removed"
            ) from None
        phase.message(f"checked: {done.checked}")
    return done


def get(
    container: str,
    name: str,
    file: Path,
    *,
    force: bool = False,
    cloud: str | None = None,
    report: Reporter = silent,
) -> Transfer:
    """Download ``container/name`` to ``file`` (into it, when it is a directory) through a
    temporary file beside it, checked against the object's MD5, then moved in place in one
    step. An existing file is replaced only with ``force``; an interrupted download leaves no
    file."""
    if not name:
        raise UsageError("data get: name the object as CONTAINER/PATH")
    container, name = _names(container, name)
    if str(file) == "-":
        raise UsageError("data get: writing to standard output is not supported; name a file")
    try:
        dest = validation.local_path(file)
    except ValueError as exc:
        raise UsageError(f"data get: {exc}") from None
    if dest.is_dir():
        dest = dest / PurePosixPath(name).name
    if not dest.parent.is_dir():
        raise UsageError(f"data get: no directory {dest.parent} to write {dest.name} in")
    if dest.exists() and not force:
        raise UsageError(f"{dest} exists; pass --force to replace it")
    session = connect(cloud)
    info = object_store.head(session, container, name)
    phase, progress = _phase(report, "get", info.size, f"downloading {dest.name}")
    with phase:
        try:
            done = object_store.download(session, info, dest, progress, force)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; no part of {dest} was left") from None
        phase.message(f"checked: {done.checked}")
    return done


def list_containers(cloud: str | None = None) -> list[ContainerInfo]:
    """The project's containers with their object counts and sizes."""
    return object_store.containers(connect(cloud))


def list_objects(container: str, prefix: str = "", *, cloud: str | None = None) -> list[ObjectInfo]:
    """The objects of ``container`` whose names start with ``prefix``."""
    _names(container, None)
    if prefix:
        _names(container, prefix)
    return object_store.objects(connect(cloud), container, prefix)
