"""``sparkstack devcloud ...``: the one-machine OpenStack for trying and testing sparkstack."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sparkstack import devcloud
from sparkstack.cli.output import OutputFormat, console, emit_data, err_console, styled
from sparkstack.cli.progress import ProgressReporter
from sparkstack.devcloud.config import DevcloudConfig
from sparkstack.devcloud.object_storage import REGION
from sparkstack.devcloud.object_storage import catalog_urls as object_storage_urls
from sparkstack.errors import DevcloudError

app = typer.Typer(
    help="A real OpenStack on this machine, for trying and testing sparkstack.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="SPARKSTACK_DEVCLOUD_DIR",
        help="Where the devcloud keeps its venv, data, logs and clouds.yaml"
        " [default: <sparkstack data dir>/devcloud].",
        show_default=False,
    ),
]


def _cfg(data_dir: Path | None) -> DevcloudConfig:
    return DevcloudConfig.load(data_dir)


ObjectStorage = Annotated[
    bool,
    typer.Option(
        "--object-storage",
        help="Swift too: the Swift API (object-store) and the S3 API with Keystone EC2"
        " credentials, on 127.0.0.1.",
    ),
]


@app.command()
def install(object_storage: ObjectStorage = False, data_dir: DataDir = None) -> None:
    """Install MariaDB, RabbitMQ (apt) and the OpenStack services (own venv). Idempotent.
    --object-storage: also memcached (apt) and Swift (a venv of its own)."""
    started = time.monotonic()
    with ProgressReporter() as report:
        devcloud.install(_cfg(data_dir), object_storage=object_storage, report=report)
    console.print(f"devcloud installed ({time.monotonic() - started:.0f}s)")


@app.command()
def up(
    computes: Annotated[
        int | None,
        typer.Option(
            "--computes",
            min=1,
            help="nova-compute services (hosts) [default: 1]. A running devcloud with fewer"
            " gets the missing ones added; computes are never removed.",
            show_default=False,
        ),
    ] = None,
    data_plane: Annotated[
        bool | None,
        typer.Option(
            "--data-plane/--no-data-plane",
            help="Servers as real SSH hosts (default when available), or nova's fake driver.",
            show_default=False,
        ),
    ] = None,
    object_storage: ObjectStorage = False,
    data_dir: DataDir = None,
) -> None:
    """Start the devcloud and bootstrap it, printing the time taken; says so if it already runs
    (and adds computes to it when --computes asks for more than it runs, Swift when
    --object-storage asks for it)."""
    cfg = _cfg(data_dir)
    with ProgressReporter() as report:
        result = devcloud.up(
            cfg,
            computes=computes,
            data_plane=data_plane,
            object_storage=object_storage,
            report=report,
        )
    plane = "data plane" if result.data_plane else "fake driver"
    if result.already_running and result.object_storage_seconds is not None:
        console.print(
            f"devcloud already running: added object storage (Swift) in"
            f" {result.object_storage_seconds:.1f}s"
        )
    if result.computes_added:
        console.print(
            f"devcloud already running: added {result.computes_added} compute(s) in"
            f" {result.seconds:.1f}s ({result.computes} computes, {plane})"
        )
    elif result.already_running and result.object_storage_seconds is None:
        fewer = (
            f"; asked for {result.computes_requested}: computes are never removed, left at"
            f" {result.computes}"
            if 0 < result.computes_requested < result.computes
            else ""
        )
        console.print(f"devcloud already running ({result.computes} computes, {plane}{fewer})")
    else:
        console.print(
            f"devcloud healthy in {result.seconds:.1f}s ({result.computes} computes, {plane})"
        )
    if result.object_storage:
        urls = object_storage_urls(cfg)
        console.print(
            f"Object storage: Swift API {urls['object-store'] % {'project_id': '<project id>'}}"
            f" (catalog: object-store), S3 API"
            f" {urls['s3']} (catalog: s3; region {REGION}, path-style; keys: EC2 credentials)"
        )
    console.print(
        f'Use it with: eval "$(sparkstack devcloud env)"  (clouds.yaml: {result.clouds_yaml})'
    )


@app.command()
def down(
    purge: Annotated[
        bool,
        typer.Option(
            "--purge", help="Also delete the data (databases, logs, passwords); keeps the venv."
        ),
    ] = False,
    purge_install: Annotated[
        bool,
        typer.Option("--purge-install", help="With --purge: also delete the server venv."),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Stop every devcloud process (by pid file) and its data plane."""
    stopped = devcloud.down(
        _cfg(data_dir), purge=purge or purge_install, purge_install=purge_install
    )
    console.print(
        f"devcloud stopped ({len(stopped)} services)" if stopped else "devcloud was not running"
    )


@app.command()
def status(
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, json or yaml.")
    ] = OutputFormat.TABLE,
    data_dir: DataDir = None,
) -> None:
    """Each service: healthy, unhealthy or stopped, with its log file. Exit 1 unless all healthy."""
    states = devcloud.status(_cfg(data_dir))
    data = [{"service": s.name, "state": s.state, "pid": s.pid, "log": s.log} for s in states]
    if not emit_data(data, output):
        table = Table("service", "state", "pid", "log")
        colors = {"healthy": "green", "unhealthy": "yellow", "stopped": "red"}
        for s in states:
            table.add_row(s.name, styled(colors[s.state], s.state), str(s.pid or "-"), s.log)
        console.print(table)
    if not all(s.healthy for s in states):
        raise typer.Exit(1)


@app.command()
def env(data_dir: DataDir = None) -> None:
    """Print the shell lines for a client: eval "$(sparkstack devcloud env)"."""
    for line in devcloud.env_lines(_cfg(data_dir)):
        print(line)


@app.command()
def restart(
    service: Annotated[str, typer.Argument(help="Service name as `status` lists it.")],
    data_dir: DataDir = None,
) -> None:
    """Restart one service (e.g. after changing its code) and wait until it is healthy."""
    cfg = _cfg(data_dir)
    if not devcloud.is_running(cfg):
        raise DevcloudError("the devcloud is not running: start it with `sparkstack devcloud up`")
    devcloud.restart_service(service, cfg)
    err_console.print(f"{service} restarted")
