"""``sparkstack add-workers | remove-workers``: a running cluster grows or shrinks.

With ``--output json``: ``{"name": str, "added": [str], "removed": [str], "seconds": float}``.
"""

from __future__ import annotations

from typing import Annotated

import typer

import sparkstack
from sparkstack.cli.options import CloudOpt, NameArg, OutputOpt, TrustFirstOpt
from sparkstack.cli.output import OutputFormat, console, emit_data
from sparkstack.cli.progress import ProgressReporter


def _show(done: sparkstack.ResizeReport, output: OutputFormat) -> None:
    data = {
        "name": done.name,
        "added": done.added,
        "removed": done.removed,
        "seconds": round(done.seconds, 1),
    }
    if emit_data(data, output):
        return
    what = f"added {', '.join(done.added)}" if done.added else f"removed {', '.join(done.removed)}"
    console.print(f"{done.name}: {what} in {done.seconds:.1f} s", markup=False, highlight=False)


def add_workers(
    name: NameArg,
    count: Annotated[int, typer.Argument(help="How many workers to add.", min=1)],
    group: Annotated[
        str | None, typer.Option("--group", help="The group of workers to grow (if several).")
    ] = None,
    flavor: Annotated[
        str | None, typer.Option("--flavor", help="Flavor of the new nodes (default: the group's).")
    ] = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Add workers to a running cluster: only the new nodes are set up; a failure removes
    them and leaves the cluster as it was."""
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.add_workers(
            name,
            count,
            group=group,
            flavor=flavor,
            cloud=cloud,
            trust_first_host_key=trust_first_host_key,
            report=report,
        )
    _show(done, output)


def remove_workers(
    name: NameArg,
    count: Annotated[
        int | None, typer.Argument(help="How many workers to remove (idle ones first).", min=1)
    ] = None,
    nodes: Annotated[
        list[str] | None, typer.Option("--nodes", help="Remove these nodes (repeatable).")
    ] = None,
    timeout: Annotated[
        int, typer.Option(help="Seconds to wait for their data and work to move.", min=10)
    ] = 900,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Remove workers after HDFS has copied their blocks elsewhere and Spark has moved their
    work; refuses, changing nothing, when the rest cannot hold the data."""
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        done = sparkstack.remove_workers(
            name,
            count,
            nodes=nodes,
            cloud=cloud,
            trust_first_host_key=trust_first_host_key,
            timeout=timeout,
            report=report,
        )
    _show(done, output)


def register(app: typer.Typer) -> None:
    app.command("add-workers")(add_workers)
    app.command("remove-workers")(remove_workers)
