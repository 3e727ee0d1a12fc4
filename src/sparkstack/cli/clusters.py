"""``sparkstack launch | describe | list | destroy``: parse flags, call sparkstack.api, render.

Every command takes ``--cloud NAME`` (else OS_CLOUD, else the OS_* variables). With
``--output json`` the shapes below are stable for scripts (``yaml`` is the same data):

describe NAME, and launch once it succeeds::

    {"name": str, "cloud": str, "ssh_user": str,
     "state": "active" | "building" | "error" | "degraded" | "empty",
     "expected": {"masters": int, "workers": int},
     "metadata": {str: str},
     "nodes": [{"name": str, "role": "master" | "worker", "index": int, "server_id": str,
                "status": str, "flavor": str, "vcpus": int, "ram_mb": int,
                "fixed_ip": str | null, "floating_ip": str | null,
                "created": ISO-8601 str | null, "age_seconds": int | null,
                "fault": str | null}],
     # describe only:
     "lost": [str],            # nodes launched but gone from the cloud
     "spark": {"master_url": str | null, "status": str, "alive_workers": int,
               "expected_workers": int, "cores": int, "memory_mb": int,
               "running_apps": [{"id": str, "name": str, "cores": int}]}
              | {"status": "unreachable", "error": str} | {} (with --no-spark)}

list::

    [{"name": str, "cloud": str, "state": str, "masters": int, "workers": int,
      "expected_masters": int, "expected_workers": int, "statuses": {status: count}}]

destroy NAME::

    {"name": str, "cloud": str, "removed": {"floating_ips": int, "servers": int,
     "routers": int, "networks": int, "security_groups": int, "server_groups": int,
     "keypairs": int}}
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from sparkstack.api import clusters as api
from sparkstack.api import status as status_api
from sparkstack.cli.options import (
    CloudOpt,
    OutputOpt,
    SparkTarballOpt,
    SparkVersionOpt,
    spark_overrides,
)
from sparkstack.cli.output import OutputFormat, console, emit_data, err_console
from sparkstack.cli.progress import ProgressReporter
from sparkstack.cloud.connection import cloud_name
from sparkstack.cluster import Cluster, Node
from sparkstack.errors import UsageError
from sparkstack.spec import ServerGroupPolicy, load_spec


def _age(created: datetime | None) -> int | None:
    return int((datetime.now(UTC) - created).total_seconds()) if created else None


def _human_age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def node_data(node: Node) -> dict[str, Any]:
    return {
        "name": node.name,
        "role": node.role.value,
        "index": node.index,
        "server_id": node.server_id,
        "status": node.status,
        "flavor": node.flavor,
        "vcpus": node.vcpus,
        "ram_mb": node.ram_mb,
        "fixed_ip": node.fixed_ip,
        "floating_ip": node.floating_ip,
        "created": node.created.isoformat() if node.created else None,
        "age_seconds": _age(node.created),
        "fault": node.fault,
    }


def cluster_data(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "cloud": cluster.cloud,
        "ssh_user": cluster.ssh_user,
        "state": api.cluster_state(cluster),
        "expected": {"masters": cluster.expected_masters, "workers": cluster.expected_workers},
        "metadata": dict(cluster.metadata),
        "nodes": [node_data(n) for n in cluster.nodes],
    }


def summary_data(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "cloud": cluster.cloud,
        "state": api.cluster_state(cluster),
        "masters": len(cluster.masters),
        "workers": len(cluster.workers),
        "expected_masters": cluster.expected_masters,
        "expected_workers": cluster.expected_workers,
        "statuses": dict(Counter(n.status for n in cluster.nodes)),
    }


def _table(*headers: str) -> Table:
    table = Table()
    for header in headers:
        table.add_column(header, no_wrap=True)
    return table


def _print_table(table: Table) -> None:
    """Print whole cells when output goes to a file or pipe (names and IPs get copied)."""
    if console.is_terminal:
        console.print(table)
        return
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    Console(file=sys.stdout, width=max(console.width, needed)).print(table)


def _show_cluster(cluster: Cluster, output: OutputFormat) -> None:
    if emit_data(cluster_data(cluster), output):
        return
    console.print(
        f"[bold]{cluster.name}[/bold] on {cluster.cloud}: {api.cluster_state(cluster)}, "
        f"{len(cluster.masters)}/{cluster.expected_masters} masters, "
        f"{len(cluster.workers)}/{cluster.expected_workers} workers, ssh user {cluster.ssh_user}"
    )
    table = _table("node", "role", "status", "flavor", "fixed IP", "floating IP", "age")
    for node in cluster.nodes:
        table.add_row(
            node.name,
            node.role.value,
            node.status,
            node.flavor,
            node.fixed_ip or "-",
            node.floating_ip or "-",
            _human_age(_age(node.created)),
        )
    _print_table(table)
    for node in cluster.nodes:
        if node.fault:
            console.print(f"[red]{node.name}[/red]: {node.fault}", highlight=False)


def _metadata(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata {pair!r}: write it as KEY=VALUE")
        parsed[key] = value
    return parsed


def launch(
    name: Annotated[str, typer.Argument(help="Cluster name (a-z, 0-9, '-').")],
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Cluster YAML file.")] = None,
    masters: Annotated[int | None, typer.Option(help="Number of masters.")] = None,
    workers: Annotated[int | None, typer.Option(help="Number of workers.")] = None,
    master_flavor: Annotated[str | None, typer.Option(help="Flavor of the masters.")] = None,
    worker_flavor: Annotated[str | None, typer.Option(help="Flavor of the workers.")] = None,
    image: Annotated[str | None, typer.Option(help="Image name or id.")] = None,
    ssh_user: Annotated[str | None, typer.Option(help="Login user (default: per image).")] = None,
    network: Annotated[str | None, typer.Option(help="Existing network name or id.")] = None,
    create_network: Annotated[
        bool | None, typer.Option("--create-network", help="Make a network, subnet and router.")
    ] = None,
    floating_ip_pool: Annotated[str | None, typer.Option(help="External network.")] = None,
    no_floating_ip: Annotated[
        bool | None, typer.Option("--no-floating-ip", help="Client sits in the tenant network.")
    ] = None,
    security_group: Annotated[
        list[str] | None, typer.Option(help="Extra existing security group (repeatable).")
    ] = None,
    ssh_cidr: Annotated[str | None, typer.Option(help="CIDR allowed to reach SSH.")] = None,
    keypair: Annotated[str | None, typer.Option(help="Existing keypair name.")] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="Local public key file to import.")
    ] = None,
    availability_zone: Annotated[str | None, typer.Option(help="Availability zone.")] = None,
    server_group: Annotated[
        ServerGroupPolicy | None, typer.Option(help="Server group policy.")
    ] = None,
    boot_volume_gb: Annotated[
        int | None, typer.Option(help="Boot from a volume of this size.")
    ] = None,
    metadata: Annotated[
        list[str] | None, typer.Option(help="Extra server metadata KEY=VALUE (repeatable).")
    ] = None,
    timeout: Annotated[int | None, typer.Option(help="Seconds to wait for servers.")] = None,
    provision_only: Annotated[
        bool, typer.Option("--provision-only", help="Stop after the cloud resources.")
    ] = False,
    keep_on_failure: Annotated[
        bool, typer.Option("--keep-on-failure", help="Do not roll back on failure.")
    ] = False,
    spark_tarball: SparkTarballOpt = None,
    spark_version: SparkVersionOpt = None,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Launch a cluster: preflight, provision, then its services (rolled back on failure)."""
    overrides: dict[str, Any] = {
        "name": name,
        "cloud": cloud,
        "image": image,
        "ssh_user": ssh_user,
        "masters": {"count": masters, "flavor": master_flavor},
        "workers": {"count": workers, "flavor": worker_flavor},
        "network": {"name": network, "create": create_network},
        "floating_ip_pool": floating_ip_pool,
        "use_floating_ips": False if no_floating_ip else None,
        "security_groups": security_group or None,
        "ssh_cidr": ssh_cidr,
        "key": {"keypair": keypair, "public_key_file": public_key},
        "availability_zone": availability_zone,
        "server_group_policy": server_group,
        "boot_volume_gb": boot_volume_gb,
        "metadata": _metadata(metadata),
        "timeout_seconds": timeout,
        **spark_overrides(spark_tarball, spark_version),
    }
    spec = load_spec(file, overrides)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        cluster = api.launch(
            spec, provision_only=provision_only, keep_on_failure=keep_on_failure, report=report
        )
    _show_cluster(cluster, output)


def describe(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    no_spark: Annotated[
        bool, typer.Option("--no-spark", help="Cloud view only; do not log in to read Spark.")
    ] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Each node's role, status, flavor, addresses and age; lost nodes; Spark's health."""
    report = status_api.describe(name, cloud, with_spark=not no_spark)
    data = {**cluster_data(report.cluster), "lost": report.lost, "spark": report.spark}
    if emit_data(data, output):
        return
    _show_cluster(report.cluster, output)
    for lost in report.lost:
        console.print(f"[red]{lost}[/red]: lost (deleted outside sparkstack)", highlight=False)
    if report.spark:
        _show_spark(report.spark)


def _show_spark(spark: dict[str, Any]) -> None:
    if spark.get("master_url") is None:
        console.print(f"spark: {spark.get('status')} ({spark.get('error', 'no master answers')})")
        return
    apps = ", ".join(f"{a['name']} ({a['id']})" for a in spark.get("running_apps", [])) or "none"
    console.print(
        f"spark: {spark['master_url']} {spark.get('status')}, "
        f"{spark['alive_workers']}/{spark['expected_workers']} workers alive, "
        f"{spark.get('cores')} cores, {spark.get('memory_mb')} MB; running apps: {apps}",
        highlight=False,
    )


def list_(cloud: CloudOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Every sparkstack cluster of the project, with counts and states."""
    found = api.list_clusters(cloud)
    if emit_data([summary_data(c) for c in found], output):
        return
    if not found:
        console.print(f"no sparkstack clusters on {cloud_name(cloud)}")
        return
    table = _table("cluster", "state", "masters", "workers", "statuses")
    for cluster in found:
        data = summary_data(cluster)
        table.add_row(
            cluster.name,
            data["state"],
            f"{data['masters']}/{data['expected_masters']}",
            f"{data['workers']}/{data['expected_workers']}",
            ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items())) or "-",
        )
    _print_table(table)


def destroy(
    name: Annotated[str, typer.Argument(help="Cluster name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Delete every resource of the cluster, in order; safe to run again."""
    if not yes:
        typer.confirm(
            f"Destroy cluster '{name}' on {cloud_name(cloud)} (servers, addresses, network "
            "and security resources sparkstack made)?",
            abort=True,
            err=True,
        )
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        removed = api.destroy(name, cloud, report)
    if emit_data({"name": name, "cloud": cloud_name(cloud), "removed": removed}, output):
        return
    if not any(removed.values()):
        err_console.print(f"nothing left of cluster '{name}' on {cloud_name(cloud)}")
        return
    done = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in removed.items() if n)
    console.print(f"destroyed cluster '{name}': {done}")


def register(app: typer.Typer) -> None:
    """Attach the cluster commands to the root app."""
    app.command()(launch)
    app.command()(describe)
    app.command("list")(list_)
    app.command()(destroy)
