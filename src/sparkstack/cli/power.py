"""``sparkstack stop | start``: a cluster's servers off while it is not used, and on again.

With ``--output json``::

    stop:  {"name": str, "cloud": str, "stopped": [str], "already_stopped": [str],
            "shelved": bool, "services_stopped": bool, "warning": str, "seconds": float}
    start: {"name": str, "cloud": str, "started": [str], "already_running": [str],
            "changed": {service: [node]}, "outputs": {str: str}, "seconds": float}
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

import sparkstack
from sparkstack.api.lookup import find_cluster
from sparkstack.cli.options import CloudOpt, NameArg, OutputOpt, TrustFirstOpt
from sparkstack.cli.output import OutputFormat, console, emit_data, err_console
from sparkstack.cli.progress import ProgressReporter
from sparkstack.errors import UsageError
from sparkstack.validation import check_cluster_name


def needs_terminal(what: str) -> None:
    """A question needs someone to answer it: with stdin not a terminal, refuse (before any
    network call), saying to pass --yes."""
    if not sys.stdin.isatty():
        raise UsageError(f"stdin is not a terminal to confirm on: pass --yes to {what}")


def stop(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    shelve: Annotated[
        bool,
        typer.Option("--shelve", help="Shelve the servers: the cloud may free their hosts."),
    ] = False,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Stop the services cleanly, then the servers; disks, addresses and floating IPs stay.
    `sparkstack start NAME` brings the cluster back."""
    check_cluster_name(name)
    if not yes:
        needs_terminal(f"stop cluster {name}")
        servers = len(find_cluster(name, cloud).nodes)
        typer.confirm(f"Stop cluster {name} ({servers} servers)?", abort=True, err=True)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.stop(
            name, cloud, shelve=shelve, trust_first_host_key=trust_first_host_key, report=report
        )
    data = {
        "name": done.name,
        "cloud": done.cloud,
        "stopped": done.stopped,
        "already_stopped": done.already_stopped,
        "shelved": done.shelved,
        "services_stopped": done.services_stopped,
        "warning": done.warning,
        "seconds": round(done.seconds, 1),
    }
    if emit_data(data, output):
        return
    if not done.stopped:
        err_console.print(f"cluster {name} was already stopped")
        return
    how = "shelved" if done.shelved else "stopped"
    console.print(
        f"{how} cluster {name}: {len(done.stopped)} servers in {done.seconds:.1f} s "
        f"(floating IPs kept); `sparkstack start {name}` starts it again"
    )


def start(
    name: NameArg,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Start the servers (unshelve shelved ones), then the services; returns once they are
    healthy. Safe to run on a running cluster (it heals stopped daemons)."""
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.start(
            name, cloud, trust_first_host_key=trust_first_host_key, report=report
        )
    data = {
        "name": done.name,
        "cloud": done.cloud,
        "started": done.started,
        "already_running": done.already_running,
        "changed": done.deploy.changed,
        "outputs": done.deploy.outputs,
        "seconds": round(done.seconds, 1),
    }
    if emit_data(data, output):
        return
    servers = f"{len(done.started)} servers started" if done.started else "servers already running"
    url = done.deploy.outputs.get("spark.master_url", "")
    console.print(f"{name} healthy in {done.seconds:.1f} s ({servers}) {url}".rstrip())


def register(app: typer.Typer) -> None:
    """Attach stop and start to the root app."""
    app.command()(stop)
    app.command()(start)
