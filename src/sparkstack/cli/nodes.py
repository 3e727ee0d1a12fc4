"""``sparkstack configure | submit | login | run-command | copy-file | ui``: parse, call, print."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

import sparkstack
from sparkstack.api.shell import login_command, open_ui_tunnel
from sparkstack.cli.options import (
    CloudOpt,
    FileOpt,
    HadoopTarballOpt,
    HadoopVersionOpt,
    NameArg,
    ReplicationOpt,
    SparkConfOpt,
    SparkTarballOpt,
    SparkVersionOpt,
    TrustFirstOpt,
    ZooKeeperTarballOpt,
    ZooKeeperVersionOpt,
    software_overrides,
)
from sparkstack.cli.output import console, err_console, styled
from sparkstack.cli.progress import ProgressReporter
from sparkstack.cluster import Role
from sparkstack.errors import NodeError, UsageError
from sparkstack.validation import check_cluster_name

MastersOpt = Annotated[bool, typer.Option("--masters", help="Only the masters.")]
WorkersOpt = Annotated[bool, typer.Option("--workers", help="Only the workers.")]
GroupOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Only the nodes of this group (repeatable).")
]


def _selection(masters: bool, workers: bool, groups: list[str] | None) -> sparkstack.Selection:
    if masters and workers:
        raise UsageError("give --masters or --workers, not both (without either: every node)")
    roles = {Role.SPARK_MASTER} if masters else {Role.SPARK_WORKER} if workers else set()
    return sparkstack.Selection(frozenset(roles), frozenset(groups or []))


def _print_line(node: str, line: str) -> None:
    console.print(styled("cyan", node, f" {line}"), soft_wrap=True)


def configure(
    name: NameArg,
    file: FileOpt = None,
    spark_tarball: SparkTarballOpt = None,
    spark_version: SparkVersionOpt = None,
    spark_conf: SparkConfOpt = None,
    zookeeper_tarball: ZooKeeperTarballOpt = None,
    zookeeper_version: ZooKeeperVersionOpt = None,
    hadoop_tarball: HadoopTarballOpt = None,
    hadoop_version: HadoopVersionOpt = None,
    hdfs_replication: ReplicationOpt = None,
    ssh_cidr: Annotated[
        str | None, typer.Option(help="Open SSH to this CIDR instead (before connecting).")
    ] = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Re-apply what the cluster runs (its manifest), or change it with --file or flags;
    restarts only what changed, nothing when nothing did; heals stopped daemons."""
    overrides = software_overrides(
        spark_tarball,
        spark_version,
        spark_conf,
        zookeeper_tarball,
        zookeeper_version,
        hadoop_tarball=hadoop_tarball,
        hadoop_version=hadoop_version,
        hdfs_replication=hdfs_replication,
    )
    with ProgressReporter() as report:
        done = sparkstack.configure(
            name,
            cloud=cloud,
            file=file,
            overrides=overrides,
            ssh_cidr=ssh_cidr,
            trust_first_host_key=trust_first_host_key,
            report=report,
        )
    for line in done.differences:
        console.print(f"changed {line}")
    changed = ", ".join(done.changed_nodes) or "nothing changed"
    url = done.outputs.get("spark.master_url", "")
    console.print(f"{name} healthy in {done.seconds:.1f} s ({changed}) {url}".rstrip())


def submit(
    name: NameArg,
    app: Annotated[Path, typer.Argument(help="Your application: a .py file or a .jar.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments after --.")] = None,
    main_class: Annotated[str | None, typer.Option("--class", help="Main class of a jar.")] = None,
    py_files: Annotated[
        list[Path] | None, typer.Option("--py-files", help="Extra .py/.zip files (repeatable).")
    ] = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Run an application with spark-submit on a master; exits with its exit code."""
    code = sparkstack.submit(
        name,
        app,
        cloud=cloud,
        args=args or [],
        main_class=main_class,
        py_files=py_files or [],
        on_line=lambda _node, line: print(line, flush=True),
        trust_first_host_key=trust_first_host_key,
    )
    raise typer.Exit(code)


def login(
    name: NameArg, trust_first_host_key: TrustFirstOpt = False, cloud: CloudOpt = None
) -> None:
    """An interactive shell on the leading master (the system ssh client, strict host keys)."""
    command = login_command(name, cloud, trust_first_host_key=trust_first_host_key)
    sys.stdout.flush()
    os.execvp(command[0], command)


def run_command(
    name: NameArg,
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    masters: MastersOpt = False,
    workers: WorkersOpt = False,
    group: GroupOpt = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Run a shell command on every node at once; non-zero if any failed."""
    on = _selection(masters, workers, group)
    results = sparkstack.run_command(
        name,
        " ".join(command),
        cloud=cloud,
        on=on,
        on_line=_print_line,
        trust_first_host_key=trust_first_host_key,
    )
    _summary(results)


def copy_file(
    name: NameArg,
    local: Annotated[Path, typer.Argument(help="Local file.")],
    remote: Annotated[str, typer.Argument(help="Path on the nodes.")],
    masters: MastersOpt = False,
    workers: WorkersOpt = False,
    group: GroupOpt = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Copy a local file to every node (or only masters / workers / a group) at once."""
    on = _selection(masters, workers, group)
    results = sparkstack.copy_file(
        name, local, remote, cloud=cloud, on=on, trust_first_host_key=trust_first_host_key
    )
    _summary(results)


def _summary(results: Mapping[str, sparkstack.Result | NodeError | None]) -> None:
    failed = {
        node: str(r) if isinstance(r, NodeError) else f"exit {r.exit_status}"
        for node, r in results.items()
        if isinstance(r, NodeError) or (isinstance(r, sparkstack.Result) and not r.ok)
    }
    for node, why in sorted(failed.items()):
        err_console.print(styled("red", "failed", f" {node}: {why}"))
    ok = len(results) - len(failed)
    err_console.print(f"{ok}/{len(results)} nodes succeeded")
    if failed:
        raise typer.Exit(1)


def ui(
    name: NameArg,
    port: Annotated[
        int, typer.Option("--port", help="Local port (0: any free one).", min=0, max=65535)
    ] = 0,
    service: Annotated[str, typer.Option("--service", help="Whose web UI.")] = "spark",
    history: Annotated[
        bool,
        typer.Option("--history", help="Spark's History Server (with --event-log) instead."),
    ] = False,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
) -> None:
    """Tunnel a service's web UI (Spark's master by default) to a local port; Ctrl-C closes it."""
    check_cluster_name(name)
    which = "history" if history else None

    def ready(url: str) -> None:
        label = f"{service} {which}" if which else f"{service} web UI"
        console.print(Text(f"{label}: {url}  (Ctrl-C to close)"))

    try:
        open_ui_tunnel(
            name,
            ready,
            cloud=cloud,
            service=service,
            which=which,
            local_port=port,
            trust_first_host_key=trust_first_host_key,
        )
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
