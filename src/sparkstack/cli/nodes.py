"""``sparkstack configure | submit | login | run-command | copy-file | ui``: parse, call, print."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from sparkstack.api import services as api
from sparkstack.api.clusters import find_cluster
from sparkstack.cli.options import CloudOpt, SparkTarballOpt, SparkVersionOpt, spark_overrides
from sparkstack.cli.output import console, err_console
from sparkstack.cli.progress import ProgressReporter
from sparkstack.cluster import Role
from sparkstack.errors import NodeError
from sparkstack.nodes.runner import Result
from sparkstack.spec import load_spec

MastersOpt = Annotated[bool, typer.Option("--masters", help="Only the masters.")]
WorkersOpt = Annotated[bool, typer.Option("--workers", help="Only the workers.")]


def _role(masters: bool, workers: bool) -> Role | None:
    if masters and workers:
        raise typer.BadParameter("give --masters or --workers, not both")
    return Role.MASTER if masters else Role.WORKER if workers else None


def _print_line(node: str, line: str) -> None:
    console.print(f"[cyan]{node}[/cyan] {line}", highlight=False, markup=True, soft_wrap=True)


def configure(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Cluster file (YAML).")] = None,
    cloud: CloudOpt = None,
    spark_tarball: SparkTarballOpt = None,
    spark_version: SparkVersionOpt = None,
) -> None:
    """Install/configure Spark again on a running cluster (no change: no restart)."""
    overrides = {"name": name, "cloud": cloud, **spark_overrides(spark_tarball, spark_version)}
    spec = load_spec(file, overrides)
    with ProgressReporter() as report:
        done = api.configure_cluster(name, spec, spec.cloud, report)
    changed = ", ".join(done.changed) or "nothing changed"
    console.print(f"Spark at {done.master_url} healthy in {done.seconds:.1f} s ({changed})")


def submit(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    app: Annotated[Path, typer.Argument(help="Your application: a .py file or a .jar.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments after --.")] = None,
    main_class: Annotated[str | None, typer.Option("--class", help="Main class of a jar.")] = None,
    py_files: Annotated[
        list[Path] | None, typer.Option("--py-files", help="Extra .py/.zip files (repeatable).")
    ] = None,
    cloud: CloudOpt = None,
) -> None:
    """Run an application with spark-submit on a master; exits with its exit code."""
    cluster = find_cluster(name, cloud)
    code = api.submit(
        cluster,
        app,
        args=args or [],
        main_class=main_class,
        py_files=py_files or [],
        on_line=lambda _node, line: print(line, flush=True),
    )
    raise typer.Exit(code)


def login(
    name: Annotated[str, typer.Argument(help="Cluster name.")], cloud: CloudOpt = None
) -> None:
    """An interactive shell on the first master (the system ssh client, strict host keys)."""
    command = api.login_command(find_cluster(name, cloud))
    sys.stdout.flush()
    os.execvp(command[0], command)


def run_command(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    masters: MastersOpt = False,
    workers: WorkersOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Run a shell command on every node at once; non-zero if any failed."""
    results = api.run_command(
        find_cluster(name, cloud),
        " ".join(command),
        role=_role(masters, workers),
        on_line=_print_line,
    )
    _summary(results)


def copy_file(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    local: Annotated[Path, typer.Argument(help="Local file.")],
    remote: Annotated[str, typer.Argument(help="Path on the nodes.")],
    masters: MastersOpt = False,
    workers: WorkersOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Copy a local file to every node (or only masters / workers) at once."""
    results = api.copy_file(find_cluster(name, cloud), local, remote, role=_role(masters, workers))
    _summary(results)


def _summary(results: Mapping[str, Result | NodeError | None]) -> None:
    failed = {
        node: str(r) if isinstance(r, NodeError) else f"exit {r.exit_status}"
        for node, r in results.items()
        if isinstance(r, NodeError) or (isinstance(r, Result) and not r.ok)
    }
    for node, why in sorted(failed.items()):
        err_console.print(f"[red]failed[/red] {node}: {why}", highlight=False)
    ok = len(results) - len(failed)
    err_console.print(f"{ok}/{len(results)} nodes succeeded", highlight=False)
    if failed:
        raise typer.Exit(1)


def ui(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    port: Annotated[int, typer.Option("--port", help="Local port (0: any free one).")] = 0,
    cloud: CloudOpt = None,
) -> None:
    """Tunnel the master's web UI to a local port over SSH; Ctrl-C closes it."""

    def ready(url: str) -> None:
        console.print(f"Spark master UI: {url}  (Ctrl-C to close)", highlight=False)

    try:
        api.open_ui_tunnel(find_cluster(name, cloud), ready, local_port=port)
    except KeyboardInterrupt:
        console.print("tunnel closed")


def register(app: typer.Typer) -> None:
    """Attach the node commands to the root app."""
    app.command()(configure)
    app.command()(submit)
    app.command()(login)
    app.command("run-command")(run_command)
    app.command("copy-file")(copy_file)
    app.command()(ui)
