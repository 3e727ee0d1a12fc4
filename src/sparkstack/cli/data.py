"""``sparkstack data put | get | ls``: files in the cloud's object store (Swift).

With ``--output json``: put and get give one transfer
``{"container", "name", "size", "md5", "large", "segments", "checked", "file"}``; ls gives a list
of ``{"name", "size", "modified", "etag"}`` (objects) or ``{"name", "objects", "size"}``
(containers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import sparkstack
from sparkstack import validation
from sparkstack.api.data import DEFAULT_SEGMENT_SIZE, split_target
from sparkstack.cli.options import CloudOpt, OutputOpt
from sparkstack.cli.output import OutputFormat, console, emit_data, new_table, print_table
from sparkstack.cli.progress import ProgressReporter

app = typer.Typer(
    help="Files in the cloud's object store (Swift): job input and output.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _segment_size(value: str) -> int:
    try:
        return validation.byte_size(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{validation.shown(value)}: {exc}") from None


def _data(done: sparkstack.Transfer) -> dict[str, Any]:
    found = done.object
    return {
        "container": found.container,
        "name": found.name,
        "size": found.size,
        "md5": done.md5,
        "large": found.large,
        "segments": done.segments,
        "checked": done.checked,
        "file": str(done.file),
    }


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def put(
    file: Annotated[Path, typer.Argument(help="The local file to upload.", metavar="FILE")],
    target: Annotated[
        str,
        typer.Argument(
            help="CONTAINER or CONTAINER/PATH (default PATH: the file's name; a PATH ending in "
            "'/' gets the file's name appended). The container is created when missing.",
            metavar="CONTAINER[/PATH]",
        ),
    ],
    segment_size: Annotated[
        str,
        typer.Option(
            "--segment-size",
            help="Larger files become a Static Large Object of segments this big (64MiB, 1GiB).",
        ),
    ] = f"{DEFAULT_SEGMENT_SIZE >> 30}GiB",
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Upload a file with progress, checked against Swift's MD5s. A failed or interrupted
    upload leaves nothing behind (no object, no segments, no container it created)."""
    container, name = split_target(target)
    size = _segment_size(segment_size)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.put_file(
            file, container, name, segment_size=size, cloud=cloud, report=report
        )
    if not emit_data(_data(done), output):
        kind = f"large object, {done.segments} segments" if done.object.large else "object"
        _say(
            f"{done.object.container}/{done.object.name}: {done.object.size} bytes ({kind}), "
            f"md5 {done.md5} checked against {done.checked}"
        )


@app.command()
def get(
    source: Annotated[str, typer.Argument(help="The object.", metavar="CONTAINER/PATH")],
    file: Annotated[
        Path, typer.Argument(help="Where to write it (a file, or a directory).", metavar="FILE")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Download an object with progress through a temporary file beside FILE, check its MD5,
    then move it in place in one step. An interrupted download leaves no file."""
    container, name = split_target(source)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.get_file(container, name, file, force=force, cloud=cloud, report=report)
    if not emit_data(_data(done), output):
        _say(
            f"{done.object.container}/{done.object.name} -> {done.file}: {done.object.size} bytes, "
            f"md5 {done.md5} checked against {done.checked}"
        )


@app.command("ls")
def ls(
    container: Annotated[
        str | None,
        typer.Argument(
            help="List this container's objects (default: the containers).", metavar="CONTAINER"
        ),
    ] = None,
    prefix: Annotated[
        str, typer.Argument(help="Only objects whose names start with it.", metavar="PREFIX")
    ] = "",
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """The project's containers, or the objects of one (CONTAINER PREFIX or CONTAINER/PREFIX):
    name, size, modified."""
    if container is None:
        found = sparkstack.list_containers(cloud)
        rows = [{"name": c.name, "objects": c.objects, "size": c.size} for c in found]
        headers = ("container", "objects", "size")
    else:
        if "/" in container and not prefix:  # ``data ls CONTAINER/PREFIX`` reads as meant
            container, prefix = split_target(container)
        listed = sparkstack.list_objects(container, prefix, cloud=cloud)
        rows = [
            {
                "name": o.name,
                "size": o.size,
                "modified": o.modified.isoformat(timespec="seconds") if o.modified else None,
                "etag": o.etag,
            }
            for o in listed
        ]
        headers = ("name", "size", "modified")
    if emit_data(rows, output):
        return
    table = new_table(*headers)
    for row in rows:
        table.add_row(*("-" if row[k] is None else str(row[k]) for k in ("name", *headers[1:])))
    print_table(table)
