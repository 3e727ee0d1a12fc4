"""Nodes joining or leaving a running cluster, in the cloud.

New servers boot into the cluster's own network, security groups, keypair and server group,
with the cluster's shared metadata and indexes that continue its numbering (a name is never
used twice). Leaving servers are deleted with their floating IPs and the ports they leave. The
security group's members tags follow either way, so lost-node detection stays right. Nothing
else of the cluster is touched, so a failed add is undone by removing only what it booted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import for_each
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.console import wait_for_host_keys
from sparkstack.cloud.inventory import read_cluster
from sparkstack.cloud.layout import GroupRequest
from sparkstack.cloud.network import attach_floating_ips
from sparkstack.cloud.preflight import Plan
from sparkstack.cloud.provision import Provisioned
from sparkstack.cloud.security import cluster_group, set_members
from sparkstack.cloud.servers import BootOptions, create_servers
from sparkstack.cloud.teardown import remove_left_ports
from sparkstack.cloud.waiting import list_cluster_servers, wait_for_active, wait_for_gone
from sparkstack.cluster import Cluster, Node
from sparkstack.errors import NotFoundError
from sparkstack.events import Phase, Reporter
from sparkstack.spec import ServerGroupPolicy

#: Metadata that makes a server one particular node, or a keeper of the manifest.
_NODE_KEYS = (naming.META_GROUP, naming.META_INDEX, naming.META_ROLES, naming.META_MANIFEST)


def members(cloud: Cloud, cluster: str) -> dict[str, naming.GroupMembers]:
    """The nodes the cluster is meant to have, as its security group records them."""
    return naming.members_from_tags(list(cluster_group(cloud, cluster).tags or []))


def next_index(recorded: dict[str, naming.GroupMembers], cluster: Cluster, group: str) -> int:
    """The index the group's next node gets: past every recorded and every existing one (a
    server an interrupted add left is never named again)."""
    entry = recorded.get(group)
    existing = [n.index for n in cluster.in_group(group)]
    return max([entry.next_index if entry else 1, *(i + 1 for i in existing)])


def boot_options(
    cloud: Cloud, cluster: Cluster, model: Any, zone: str | None, boot_volume_gb: int | None
) -> BootOptions:
    """What a new node shares with ``model``, a running server of the cluster."""
    groups = tuple(dict.fromkeys(str(g["name"]) for g in model.security_groups or []))
    owned = naming.owned_name(cluster.name)
    with translate_errors("reading the cluster's server group"):
        group = next((g for g in cloud.conn.compute.server_groups() if g.name == owned), None)
    metadata = {k: str(v) for k, v in (model.metadata or {}).items() if k not in _NODE_KEYS}
    return BootOptions(
        cluster=cluster.name,
        network_id=cluster.metadata[naming.META_NETWORK],
        security_group_ids=groups,
        key_name=str(model.key_name),
        metadata=metadata,
        availability_zone=zone,
        server_group_id=str(group.id) if group else None,
        boot_volume_gb=boot_volume_gb,
        one_at_a_time=group is not None and _policy(group) == ServerGroupPolicy.ANTI_AFFINITY,
    )


def _policy(group: Any) -> str | None:
    """A server group's policy (``policy`` since compute API 2.64, ``policies`` before)."""
    policies = getattr(group, "policies", None) or []
    return getattr(group, "policy", None) or (str(policies[0]) if policies else None)


def grow(
    cloud: Cloud,
    cluster: Cluster,
    request: GroupRequest,
    plan: Plan,
    zone: str | None,
    boot_volume_gb: int | None,
    deadline: float,
    trust_first: bool,
    report: Reporter,
) -> Provisioned:
    """Boot ``request``'s servers into ``cluster``; return the cluster as it is now and the
    new servers' host keys. The members tags are recorded by :func:`record` once they serve."""
    with translate_errors("reading the cluster's servers"):
        servers = list_cluster_servers(cloud, cluster.name)
    model = next((s for s in servers if s.status == "ACTIVE"), None)
    if model is None:
        raise NotFoundError(f"cluster {cluster.name} has no ACTIVE server to add nodes beside")
    options = boot_options(cloud, cluster, model, zone, boot_volume_gb)
    names = {naming.server_name(cluster.name, request.group, i) for i in request.indexes}
    with Phase(report, "servers", total=request.count, text="booting") as phase:
        create_servers(cloud, options, [request], plan)
        booted = wait_for_active(
            cloud,
            cluster.name,
            names,
            max(1.0, deadline - time.monotonic()),
            lambda active, _s: phase.set_progress(active, f"{active}/{request.count} ACTIVE"),
        )
    ids = [str(s.id) for s in booted]
    if request.floating_ip and plan.external_network_id:
        with Phase(report, "addresses", total=len(ids), text="floating IPs") as phase:
            attach_floating_ips(cloud, cluster.name, plan.external_network_id, ids)
            phase.set_progress(len(ids), "attached")
    with Phase(report, "host keys", total=len(ids), text="console logs") as phase:
        keys = wait_for_host_keys(
            cloud, ids, time.monotonic() if trust_first else deadline, phase.set_progress
        )
    now = read_cluster(cloud, cluster.name)
    if now is None:
        raise NotFoundError(f"cluster {cluster.name} is gone")
    return Provisioned(now, keys)


def record(
    cloud: Cloud, cluster: str, group: str, added: Iterable[int] = (), removed: Iterable[int] = ()
) -> None:
    """Record that ``group`` gained ``added`` and lost ``removed`` nodes."""
    recorded = members(cloud, cluster)
    entry = recorded.get(group, naming.GroupMembers((), 1))
    gained = list(added)
    indexes = (set(entry.indexes) | set(gained)) - set(removed)
    following = max([entry.next_index, *(i + 1 for i in gained)])
    recorded[group] = naming.GroupMembers(tuple(sorted(indexes)), following)
    set_members(cloud, cluster, recorded)


def read_nodes(cloud: Cloud, cluster: str, names: set[str]) -> list[Node]:
    """The nodes of ``cluster`` named ``names`` that the cloud has now."""
    found = read_cluster(cloud, cluster)
    return [n for n in found.nodes if n.name in names] if found else []


def shrink(cloud: Cloud, cluster: str, nodes: list[Node], timeout: float) -> int:
    """Delete ``nodes``' servers, their floating IPs and the ports they leave; return how many
    servers were deleted."""
    ids = {n.server_id for n in nodes}
    fixed = {n.fixed_ip for n in nodes if n.fixed_ip}
    net = cloud.conn.network
    action = f"removing nodes of cluster {cluster}"
    with translate_errors(action):
        ips = [i for i in net.ips(tags=naming.cluster_tag(cluster)) if i.fixed_ip_address in fixed]
        for_each(ips, net.delete_ip, action)
        deleted = for_each(
            list(ids),
            lambda sid: cloud.conn.compute.delete_server(sid, ignore_missing=True),
            action,
        )
        wait_for_gone(cloud, cluster, timeout, ids)
        remove_left_ports(cloud, set(), ids, settle=False, action=action)
    return deleted
