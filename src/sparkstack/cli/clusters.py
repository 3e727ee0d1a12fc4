"""``sparkstack launch | describe | list | destroy | cleanup``: parse flags, call the API, render.

Every command takes ``--cloud NAME`` (else OS_CLOUD, else the OS_* variables). With
``--output json`` the shapes are stable for scripts (``yaml`` is the same data); their JSON
Schemas are ``src/sparkstack/schemas/describe.schema.json`` (describe, and launch once it
succeeds) and ``list.schema.json``, and tests validate real output against them. destroy::

    {"name": str, "cloud": str, "removed": {"floating_ips": int, "servers": int, "ports": int,
     "routers": int, "networks": int, "security_groups": int, "server_groups": int,
     "keypairs": int, "ec2_credentials": int, "application_credentials": int}}
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

import sparkstack
from sparkstack.api.lookup import cloud_name
from sparkstack.cli.expiry import expiry_data, expiry_line
from sparkstack.cli.options import (
    CloudOpt,
    FileOpt,
    HadoopTarballOpt,
    HadoopVersionOpt,
    NameArg,
    OutputOpt,
    ReplicationOpt,
    SparkConfOpt,
    SparkTarballOpt,
    SparkVersionOpt,
    TrustFirstOpt,
    ZooKeeperTarballOpt,
    ZooKeeperVersionOpt,
    pairs,
    software_overrides,
)
from sparkstack.cli.output import (
    OutputFormat,
    console,
    emit_data,
    err_console,
    new_table,
    print_table,
    styled,
)
from sparkstack.cli.progress import ProgressReporter
from sparkstack.cluster import Cluster, Node
from sparkstack.errors import PreflightError, QuotaPreflightError, UsageError
from sparkstack.spec import OnExpiry, ServerGroupPolicy, load_spec
from sparkstack.validation import check_cluster_name


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
        "group": node.group,
        "roles": sorted(r.value for r in node.roles),
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


def groups_data(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {
        group: {
            "expected": len(cluster.expected.get(group, ())),
            "nodes": len(cluster.in_group(group)),
            "roles": sorted({r.value for n in cluster.in_group(group) for r in n.roles}),
        }
        for group in cluster.groups
    }


def cluster_data(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "cloud": cluster.cloud,
        "ssh_user": cluster.ssh_user,
        "state": sparkstack.cluster_state(cluster),
        "launch_state": cluster.launch_state,
        "groups": groups_data(cluster),
        "metadata": dict(cluster.metadata),
        "nodes": [node_data(n) for n in cluster.nodes],
        "expiry": expiry_data(cluster.expiry),
    }


def summary_data(cluster: Cluster) -> dict[str, Any]:
    return {
        "name": cluster.name,
        "cloud": cluster.cloud,
        "state": sparkstack.cluster_state(cluster),
        "nodes": len(cluster.nodes),
        "expected_nodes": sum(len(i) for i in cluster.expected.values()),
        "groups": {
            g: {"nodes": d["nodes"], "expected": d["expected"]}
            for g, d in groups_data(cluster).items()
        },
        "statuses": dict(Counter(n.status for n in cluster.nodes)),
    }


def _spark_data(report: sparkstack.ClusterReport) -> dict[str, Any]:
    """The ``spark`` part of describe's JSON: Spark's own view, or why it cannot be read."""
    status = report.service("spark")
    if isinstance(status, sparkstack.SparkStatus):
        return dataclasses.asdict(status)
    why = status.summary if status else report.unreachable or "not read (--no-spark)"
    return {"status": "unreachable", "master_url": None, "error": why}


def report_data(report: sparkstack.ClusterReport) -> dict[str, Any]:
    return {
        **cluster_data(report.cluster),
        "lost": report.lost,
        "manifest": report.manifest.model_dump(mode="json") if report.manifest else None,
        "unreachable": report.unreachable,
        "services": [dataclasses.asdict(s) for s in report.services],
        "spark": _spark_data(report),
    }


def _show_cluster(cluster: Cluster) -> None:
    groups = ", ".join(f"{d['nodes']}/{d['expected']} {g}" for g, d in groups_data(cluster).items())
    console.print(
        styled("bold", cluster.name),
        f" on {cluster.cloud}: {sparkstack.cluster_state(cluster)}, {groups}, "
        f"ssh user {cluster.ssh_user}",
        sep="",
    )
    table = new_table(
        "node", "group", "roles", "status", "flavor", "fixed IP", "floating IP", "age"
    )
    for node in cluster.nodes:
        table.add_row(
            node.name,
            node.group,
            ",".join(sorted(r.value for r in node.roles)),
            node.status,
            node.flavor,
            node.fixed_ip or "-",
            node.floating_ip or "-",
            _human_age(_age(node.created)),
        )
    print_table(table)
    for node in cluster.nodes:
        if node.fault:
            console.print(styled("red", node.name, f": {node.fault}"))
    if line := expiry_line(cluster.expiry):
        console.print(line)


def _show_report(report: sparkstack.ClusterReport) -> None:
    _show_cluster(report.cluster)
    for lost in report.lost:
        console.print(styled("red", lost, ": lost (deleted outside sparkstack)"))
    if report.unreachable:
        console.print(f"services: not read ({report.unreachable})")
    for status in report.services:
        color = "green" if status.state == "healthy" else "red"
        console.print(styled(color, f"{status.service}: {status.state}", f", {status.summary}"))
        for problem in status.problems:
            console.print(f"  {problem}")
        if isinstance(status, sparkstack.SparkStatus) and len(status.masters) > 1:
            console.print("  masters: " + ", ".join(f"{m.name} {m.status}" for m in status.masters))
        if isinstance(status, sparkstack.SparkStatus) and status.master_url:
            apps = ", ".join(f"{a.name} ({a.id})" for a in status.running_apps) or "none"
            console.print(f"  {status.cores} cores, {status.memory_mb} MB; running apps: {apps}")
    if report.manifest:
        manifest = report.manifest
        made = ", ".join(
            f"{name} {record.filename} (sha512 {record.sha512[:12]}...)"
            for name, record in manifest.artifacts.items()
        )
        console.print(
            f"manifest: {', '.join(manifest.services)}; {made}; updated "
            f"{manifest.updated.isoformat()}"
        )


def launch(
    name: Annotated[str, typer.Argument(help="Cluster name (a-z, 0-9, '-').")],
    file: FileOpt = None,
    masters: Annotated[
        int | None, typer.Option(help="Nodes of the 'master' group.", min=0, max=500)
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Nodes of the 'worker' group.", min=0, max=500)
    ] = None,
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
    ssh_cidr: Annotated[
        str | None,
        typer.Option(help="CIDR allowed to reach SSH (default: this client's own address)."),
    ] = None,
    keypair: Annotated[str | None, typer.Option(help="Existing keypair name.")] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="Local public key file to import.")
    ] = None,
    availability_zone: Annotated[str | None, typer.Option(help="Availability zone.")] = None,
    server_group: Annotated[
        ServerGroupPolicy | None, typer.Option(help="Server group policy.")
    ] = None,
    boot_volume_gb: Annotated[
        int | None, typer.Option(help="Boot from a volume of this size.", min=1)
    ] = None,
    metadata: Annotated[
        list[str] | None, typer.Option(help="Extra server metadata KEY=VALUE (repeatable).")
    ] = None,
    timeout: Annotated[
        int | None, typer.Option(help="Seconds to wait for servers.", min=10)
    ] = None,
    provision_only: Annotated[
        bool, typer.Option("--provision-only", help="Stop after the cloud resources.")
    ] = False,
    keep_on_failure: Annotated[
        bool, typer.Option("--keep-on-failure", help="Do not roll back on failure.")
    ] = False,
    spark_tarball: SparkTarballOpt = None,
    spark_version: SparkVersionOpt = None,
    spark_conf: SparkConfOpt = None,
    zookeeper_tarball: ZooKeeperTarballOpt = None,
    zookeeper_version: ZooKeeperVersionOpt = None,
    hdfs: Annotated[
        bool,
        typer.Option(
            "--hdfs", help="HDFS too: a NameNode on the first master, DataNodes on the workers."
        ),
    ] = False,
    hadoop_tarball: HadoopTarballOpt = None,
    hadoop_version: HadoopVersionOpt = None,
    hdfs_replication: ReplicationOpt = None,
    object_storage: Annotated[
        bool,
        typer.Option(
            "--object-storage",
            help="Jobs read and write s3a://container/path (the cloud's S3 API; EC2 "
            "credentials made for the cluster).",
        ),
    ] = False,
    event_log: Annotated[
        str | None,
        typer.Option(
            "--event-log",
            help="Spark event logs to s3a://container/prefix, and a History Server "
            "(`ui NAME --history`); implies --object-storage.",
            metavar="S3A_URL",
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(help="Delete (or stop) the cluster once it is this old, e.g. 8h."),
    ] = None,
    idle_timeout: Annotated[
        str | None,
        typer.Option(help="Delete (or stop) it after no application ran this long, e.g. 1h."),
    ] = None,
    on_expiry: Annotated[
        OnExpiry | None, typer.Option(help="What the reaper does when the time is up.")
    ] = None,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Launch a cluster: preflight, provision, then its services (rolled back on failure)."""
    overrides: dict[str, Any] = {
        "name": name,
        "cloud": cloud,
        "image": image,
        "ssh_user": ssh_user,
        **_shape(masters, workers, master_flavor, worker_flavor, create_network, no_floating_ip),
        "network": {"name": network, "create": create_network},
        "floating_ip_pool": floating_ip_pool,
        "security_groups": security_group or None,
        "ssh_cidr": ssh_cidr,
        "key": {"keypair": keypair, "public_key_file": public_key},
        "availability_zone": availability_zone,
        "server_group_policy": server_group,
        "boot_volume_gb": boot_volume_gb,
        "metadata": pairs("--metadata", metadata),
        "timeout_seconds": timeout,
        "trust_first_host_key": trust_first_host_key or None,
        "object_storage": {"enabled": object_storage or None, "event_log": event_log},
        "expiry": {"max_age": max_age, "idle_timeout": idle_timeout, "on_expiry": on_expiry},
        **software_overrides(
            spark_tarball,
            spark_version,
            spark_conf,
            zookeeper_tarball,
            zookeeper_version,
            hadoop_tarball=hadoop_tarball,
            hadoop_version=hadoop_version,
            hdfs_replication=hdfs_replication,
            hdfs=hdfs,
        ),
    }
    spec = load_spec(file, overrides)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        cluster = sparkstack.launch(
            spec, provision_only=provision_only, keep_on_failure=keep_on_failure, report=report
        )
    if not emit_data(cluster_data(cluster), output):
        _show_cluster(cluster)


def _shape(
    masters: int | None,
    workers: int | None,
    master_flavor: str | None,
    worker_flavor: str | None,
    create_network: bool | None,
    no_floating_ip: bool | None,
) -> dict[str, Any]:
    """The spec overrides of the flags that give a cluster its shape (launch and quota)."""
    return {
        "masters": {"count": masters, "flavor": master_flavor},
        "workers": {"count": workers, "flavor": worker_flavor},
        "network": {"create": create_network},
        "use_floating_ips": False if no_floating_ip else None,
    }


def quota(
    file: FileOpt = None,
    masters: Annotated[int | None, typer.Option(help="Nodes of the 'master' group.", min=0)] = None,
    workers: Annotated[int | None, typer.Option(help="Nodes of the 'worker' group.", min=0)] = None,
    master_flavor: Annotated[str | None, typer.Option(help="Flavor of the masters.")] = None,
    worker_flavor: Annotated[str | None, typer.Option(help="Flavor of the workers.")] = None,
    image: Annotated[str | None, typer.Option(help="Image name or id.")] = None,
    create_network: Annotated[
        bool | None, typer.Option("--create-network", help="Count a network, subnet and router.")
    ] = None,
    no_floating_ip: Annotated[
        bool | None, typer.Option("--no-floating-ip", help="Count no floating IP.")
    ] = None,
    hdfs: Annotated[bool, typer.Option("--hdfs", help="With HDFS.")] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """What a cluster of that shape (the cluster file and/or flags, as for launch) would take
    from each quota, against what the project has left; creates nothing. Exit 3 if it does
    not fit."""
    base = {"name": "quota"} if file is None else {}
    flags = _shape(masters, workers, master_flavor, worker_flavor, create_network, no_floating_ip)
    overrides = {**base, **flags, "cloud": cloud, "image": image, "hdfs": {"enabled": hdfs or None}}
    found = sparkstack.quota(load_spec(file, overrides))
    data = {
        "cloud": found.cloud,
        "fits": found.fits,
        "problems": found.problems,
        "needs": [
            {"resource": n.resource, "need": n.need, "limit": n.limit, "used": n.used}
            for n in found.needs
        ],
    }
    if not emit_data(data, output):
        table = new_table("resource", "need", "left", "limit", "used", "")
        for need in found.needs:
            left = "unlimited" if need.limit < 0 else str(max(need.limit - need.used, 0))
            mark = "short" if need.problem() else "ok"
            table.add_row(
                need.resource, str(need.need), left, str(need.limit), str(need.used), mark
            )
        print_table(table)
    if not found.fits:
        lines = found.problems + [line for n in found.short if (line := n.problem())]
        raise (PreflightError if found.problems else QuotaPreflightError)(lines)


def describe(
    name: NameArg,
    no_spark: Annotated[
        bool,
        typer.Option(
            "--no-spark", "--cloud-only", help="Cloud view only; do not log in to the nodes."
        ),
    ] = False,
    trust_first_host_key: TrustFirstOpt = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Nodes by group with status, addresses and age; lost nodes; the manifest; services."""
    report = sparkstack.describe(
        name, cloud, with_services=not no_spark, trust_first_host_key=trust_first_host_key
    )
    if not emit_data(report_data(report), output):
        _show_report(report)


def list_(cloud: CloudOpt = None, output: OutputOpt = OutputFormat.TABLE) -> None:
    """Every sparkstack cluster of the project, with counts and states."""
    found = sparkstack.list_clusters(cloud)
    if emit_data([summary_data(c) for c in found], output):
        return
    if not found:
        console.print(f"no sparkstack clusters on {cloud_name(cloud)}")
        return
    table = new_table("cluster", "state", "nodes", "groups", "statuses")
    for cluster in found:
        data = summary_data(cluster)
        table.add_row(
            cluster.name,
            data["state"],
            f"{data['nodes']}/{data['expected_nodes']}",
            ", ".join(f"{g} {d['nodes']}/{d['expected']}" for g, d in data["groups"].items()),
            ", ".join(f"{k} {v}" for k, v in sorted(data["statuses"].items())) or "-",
        )
    print_table(table)


def destroy(
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Delete every resource of the cluster, in order; safe to run again."""
    check_cluster_name(name)
    if not yes:
        typer.confirm(
            f"Destroy cluster '{name}' on {cloud_name(cloud)} (servers, addresses, network "
            "and security resources sparkstack made)?",
            abort=True,
            err=True,
        )
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        removed = sparkstack.destroy(name, cloud, report)
    if emit_data({"name": name, "cloud": cloud_name(cloud), "removed": removed}, output):
        return
    if not any(removed.values()):
        err_console.print(f"nothing left of cluster '{name}' on {cloud_name(cloud)}")
        return
    done = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in removed.items() if n)
    console.print(f"destroyed cluster '{name}': {done}")


#: At most 9 digits: 999999999 days is the longest timedelta.
_DURATION = re.compile(r"^(\d{1,9})([smhd]?)$")


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise UsageError(f"--older-than {text!r}: give a duration such as 90s, 30m, 2h or 1d")
    size = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=int(match.group(1)) * size)


def cleanup(
    names: Annotated[
        list[str] | None, typer.Argument(help="Only these clusters (default: all).")
    ] = None,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Untouched for this long (e.g. 30m, 2h).")
    ] = "1h",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    cloud: CloudOpt = None,
    output: OutputOpt = OutputFormat.TABLE,
) -> None:
    """Remove what killed clients left: clusters whose launch never finished, and remains of
    clusters with no server left. Running clusters are never touched (destroy is for those)."""
    age = _duration(older_than)
    session, found = sparkstack.cleanup_leftovers(cloud, older_than=age, only=names or [])
    rows: list[dict[str, Any]] = [
        {
            "cluster": f.cluster,
            "reason": f.reason,
            "resources": f.resources,
            "newest": f.newest.isoformat() if f.newest else None,
        }
        for f in found
    ]
    if not found:
        if not emit_data({"leftovers": [], "removed": {}}, output):
            console.print(f"no leftovers on {session.name} older than {older_than}")
        return
    if output is OutputFormat.TABLE:
        table = new_table("cluster", "why", "resources", "last change")
        for row in rows:
            counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in row["resources"].items())
            table.add_row(row["cluster"], row["reason"], counts, row["newest"] or "-")
        print_table(table)
    if not yes:
        typer.confirm(f"Remove these {len(found)} leftover cluster(s)?", abort=True, err=True)
    with ProgressReporter(enabled=output is OutputFormat.TABLE) as report:
        removed = sparkstack.remove_leftovers(session, found, report)
    if not emit_data({"leftovers": rows, "removed": removed}, output):
        console.print(f"removed {len(removed)} leftover cluster(s)")


def register(app: typer.Typer) -> None:
    """Attach the cluster commands to the root app."""
    app.command()(launch)
    app.command()(describe)
    app.command("list")(list_)
    app.command()(destroy)
    app.command()(cleanup)
    app.command()(quota)
