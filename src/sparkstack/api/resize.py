"""``add-workers`` and ``remove-workers``: a running cluster grows or shrinks, nothing else moves.

Adding: preflight (images, flavors, quota) -> servers booted into the cluster's network and
groups with continuing indexes -> only the new nodes and the masters are reached -> every service
of the group is installed (the tarballs come from the first node, inside the cluster) and
configured on the new nodes alone -> they register (Spark workers ALIVE, DataNodes live). The
cost does not grow with the cluster. Any failure or Ctrl-C removes the new servers only.

Removing: the nodes are picked (idle ones first), every service checks that they can go (HDFS:
enough DataNodes stay for the replication, with room for the blocks), then each moves its work
off them (HDFS decommissions, Spark decommissions its workers: executors finish or hand their
blocks over), and only then are the servers deleted.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass

from sparkstack import validation
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.deploy import (
    DeployReport,
    ServicePlan,
    deploy_on,
    kept_plan,
    reach,
    state_hosts,
)
from sparkstack.api.lifecycle import group_requests, mark_baked, record_manifest
from sparkstack.api.lookup import open_cluster
from sparkstack.api.state import ClusterState, read_state, write_state
from sparkstack.cloud import naming, resize
from sparkstack.cloud.concurrency import sigint_ignored
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.preflight import run_add_preflight
from sparkstack.cluster import Cluster, Role
from sparkstack.errors import Interrupted, SparkstackError, UsageError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.nodes.runner import Fleet
from sparkstack.services import pipeline
from sparkstack.services.base import Deployment, Host
from sparkstack.spec import MAX_GROUP_NODES, ClusterSpec, ServerGroupPolicy

#: The roles a node removed by remove-workers may have: it holds nothing the cluster needs
#: once its work and data have moved.
WORKER_ROLES = frozenset({Role.SPARK_WORKER, Role.HDFS_DATANODE})


@dataclass(frozen=True)
class ResizeReport:
    """What add-workers or remove-workers did: the nodes that joined or left, and time taken."""

    name: str
    added: list[str]
    removed: list[str]
    seconds: float
    deploy: DeployReport | None = None


def _worker_group(spec: ClusterSpec, group: str | None) -> str:
    """The group to grow: ``group``, else the one group of workers."""
    workers = [
        n
        for n, g in spec.groups.items()
        if Role.SPARK_WORKER in g.roles and set(g.roles) <= WORKER_ROLES
    ]
    if group is None:
        if len(workers) != 1:
            shown = ", ".join(workers) or "none"
            raise UsageError(f"name the group to add to with --group (groups of workers: {shown})")
        return workers[0]
    if group not in spec.groups:
        raise UsageError(
            f"no group {validation.shown(group)} in cluster {spec.name}; its groups: "
            + ", ".join(spec.groups)
        )
    if group not in workers:
        roles = ", ".join(spec.groups[group].roles)
        raise UsageError(f"group {group} hosts {roles}: add-workers adds workers only")
    return group


async def _manifest(cloud: Cloud, cluster: Cluster, trust_first: bool) -> ClusterState:
    access = ssh_access(cloud, cluster, trust_first=trust_first)
    keepers = state_hosts(hosts_of(cluster))
    async with Fleet(access) as fleet:
        state, why = await read_state(fleet, keepers)
    if state is None:
        raise SparkstackError(f"cannot read cluster {cluster.name}'s manifest: {why}")
    return state


def add_workers(
    name: str,
    count: int,
    *,
    group: str | None = None,
    flavor: str | None = None,
    cloud: str | None = None,
    trust_first_host_key: bool = False,
    health_timeout: float = 300.0,
    report: Reporter = silent,
) -> ResizeReport:
    """Add ``count`` nodes to a group of workers of cluster ``name`` (``flavor``: of another
    flavor than the group's); on any failure or Ctrl-C only the new servers are removed."""
    validation.check_cluster_name(name)
    if not 1 <= count <= MAX_GROUP_NODES:
        raise UsageError(f"add-workers: give a count from 1 to {MAX_GROUP_NODES}")
    if flavor is not None:
        try:
            validation.cloud_text(flavor)
        except ValueError as exc:
            raise UsageError(f"--flavor {validation.shown(flavor)}: {exc}") from None
    started = time.monotonic()
    session, cluster = open_cluster(name, cloud)
    state = _sync.run(_manifest(session, cluster, trust_first_host_key))
    spec = state.manifest.cluster_spec(session.name)
    chosen = _worker_group(spec, group)
    base = next(r for r in group_requests(spec, pipeline.services_for(spec)) if r.group == chosen)
    recorded = resize.members(session, name)
    first = resize.next_index(recorded, cluster, chosen)
    request = dataclasses.replace(
        base, count=count, flavor=flavor or base.flavor, first_index=first
    )
    in_group = spec.server_group_policy is not ServerGroupPolicy.NONE
    plan = run_add_preflight(session, spec, [request], len(cluster.nodes) if in_group else 0)
    names = {naming.server_name(name, chosen, i) for i in request.indexes}
    grown = ClusterState(
        state.manifest.with_counts({chosen: spec.groups[chosen].count + count}), state.secrets
    )
    try:
        made = resize.grow(
            session,
            cluster,
            request,
            plan,
            spec.availability_zone,
            spec.boot_volume_gb,
            time.monotonic() + spec.timeout_seconds,
            trust_first_host_key,
            report,
        )
        access = ssh_access(
            session, made.cluster, console_keys=made.host_keys, trust_first=trust_first_host_key
        )

        def plan_for(_old: ClusterState | None) -> ServicePlan:
            kept = kept_plan(grown)  # what the new nodes' image holds is checked, not fetched
            mark_baked(kept.services, kept.artifacts, [request], plan.software)
            return kept

        done = _sync.run(
            deploy_on(
                made.cluster,
                access,
                plan_for,
                report,
                health_timeout=health_timeout,
                joining=frozenset(names),
            )
        )
        resize.record(session, name, chosen, added=request.indexes)
        record_manifest(session, made.cluster, grown.manifest)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {_undo(session, name, names, report)}") from None
    except SparkstackError as exc:
        exc.args = (f"{exc}; {_undo(session, name, names, report)}", *exc.args[1:])
        raise
    except BaseException:
        _undo(session, name, names, report)
        raise
    return ResizeReport(name, sorted(names), [], time.monotonic() - started, done)


def _undo(cloud: Cloud, name: str, names: set[str], report: Reporter) -> str:
    """Remove the servers an add made; return a clause for the error line."""
    try:
        with (
            sigint_ignored(),
            Phase(report, "rollback", text=f"removing the {len(names)} new servers"),
        ):
            now = resize.read_nodes(cloud, name, names)
            resize.shrink(cloud, name, now, timeout=300)
    except SparkstackError as exc:
        return (
            f"removing the new servers failed too ({exc}); run `sparkstack remove-workers "
            f"{name} --nodes {' '.join(sorted(names))}` once the cloud answers"
        )
    return "the new servers were removed; the cluster is as it was"


def _pick(
    dep: Deployment, count: int | None, nodes: list[str] | None, busy: set[str]
) -> list[Host]:
    """The workers to remove: those named, else ``count`` of them, idle and newest first."""
    workers = [h for h in dep.hosts if h.has(Role.SPARK_WORKER) and h.node.roles <= WORKER_ROLES]
    if nodes:
        by_name = {h.name: h for h in dep.hosts}
        unknown = [n for n in nodes if n not in by_name]
        if unknown:
            raise UsageError(
                f"no node {validation.shown(unknown[0])} in cluster {dep.cluster}; its workers: "
                + ", ".join(h.name for h in workers)
            )
        masters = [n for n in nodes if by_name[n] not in workers]
        if masters:
            roles = ", ".join(sorted(by_name[masters[0]].node.roles))
            raise UsageError(f"{masters[0]} hosts {roles}: remove-workers removes workers only")
        leaving = [by_name[n] for n in dict.fromkeys(nodes)]
    else:
        assert count is not None
        newest = sorted(workers, key=lambda h: (h.node.group, -h.node.index))
        leaving = sorted(newest, key=lambda h: h.name in busy)[:count]
        if count > len(workers):
            raise UsageError(f"cluster {dep.cluster} has {len(workers)} workers, not {count}")
    if len(leaving) >= len(workers):
        raise UsageError(f"a cluster keeps at least one worker; {dep.cluster} has {len(workers)}")
    return leaving


async def _retire(
    cluster: Cluster,
    cloud: Cloud,
    trust_first: bool,
    count: int | None,
    nodes: list[str] | None,
    timeout: float,
    report: Reporter,
) -> tuple[list[Host], ClusterState]:
    """Pick the leaving nodes, check every service lets them go, move the work off them;
    return them and the manifest with the groups' new counts (written on the masters)."""
    access = ssh_access(cloud, cluster, trust_first=trust_first)
    hosts = hosts_of(cluster)
    keepers = state_hosts(hosts)
    async with Fleet(access) as fleet:
        await reach(fleet, keepers, report)
        state, why = await read_state(fleet, keepers)
        if state is None:
            raise SparkstackError(f"cannot read cluster {cluster.name}'s manifest: {why}")
        spec = state.manifest.cluster_spec()
        services = pipeline.services_for(spec)
        dep = Deployment(cluster.name, hosts, fleet, report)
        for service in services:
            dep.outputs.update(service.outputs(dep))
        with Phase(report, "checks", total=len(services), text="which nodes, can they go") as phase:
            busy: set[str] = set()
            for service in services:
                busy |= await service.busy(dep, hosts)
            leaving = _pick(dep, count, nodes, busy)
            for service in services:
                await service.check_leaving(dep, leaving)
                phase.advance(service.name)
        for service in services:
            await service.retire(dep, leaving, timeout)
        gone = Counter(h.node.group for h in leaving)
        counts = {g: max(0, spec.groups[g].count - n) for g, n in gone.items() if g in spec.groups}
        shrunk = ClusterState(state.manifest.with_counts(counts), state.secrets)
        await write_state(fleet, keepers, shrunk)
    return leaving, shrunk


def remove_workers(
    name: str,
    count: int | None = None,
    *,
    nodes: list[str] | None = None,
    cloud: str | None = None,
    trust_first_host_key: bool = False,
    timeout: float = 900.0,
    report: Reporter = silent,
) -> ResizeReport:
    """Remove ``count`` workers (idle ones first) or the ``nodes`` named, after their data
    and work have moved; refuses, changing nothing, when they cannot go without a loss."""
    validation.check_cluster_name(name)
    if (count is None) == (not nodes):
        raise UsageError("remove-workers: give a count or --nodes NAME..., not both")
    if count is not None and not 1 <= count <= MAX_GROUP_NODES:
        raise UsageError(f"remove-workers: give a count from 1 to {MAX_GROUP_NODES}")
    for node in nodes or []:
        if not validation.SERVER_NAME.match(node):
            raise UsageError(f"--nodes {validation.shown(node)}: not a node name")
    started = time.monotonic()
    session, cluster = open_cluster(name, cloud)
    again = f"run `sparkstack remove-workers {name} ...` again to finish"
    try:
        leaving, shrunk = _sync.run(
            _retire(cluster, session, trust_first_host_key, count, nodes, timeout, report)
        )
        with Phase(report, "servers", total=len(leaving), text="deleting the servers") as phase:
            resize.shrink(session, name, [h.node for h in leaving], timeout)
            phase.set_progress(len(leaving))
        for group, indexes in _by_group(leaving).items():
            resize.record(session, name, group, removed=indexes)
        record_manifest(session, cluster, shrunk.manifest)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {again}") from None
    removed = sorted(h.name for h in leaving)
    return ResizeReport(name, [], removed, time.monotonic() - started)


def _by_group(hosts: list[Host]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for host in hosts:
        found.setdefault(host.node.group, []).append(host.node.index)
    return found
