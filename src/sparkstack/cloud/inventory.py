"""Read clusters back from the cloud alone: servers by tag, floating IPs by tag.

Three list calls describe a cluster of any size, and three list every cluster of the project:
servers, floating IPs and security groups (whose tags say which nodes a cluster is meant to have,
so a cluster whose servers are all gone still shows up, with every node named as lost). What the
cloud returns is data: addresses that are not IP addresses are dropped, unknown roles ignored.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from datetime import datetime
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.waiting import fault_text, list_cluster_servers
from sparkstack.cluster import Cluster, Node, Role


def _ip(value: object) -> str | None:
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        return None


def _addresses(server: Any, kind: str, version: int | None = None) -> list[str]:
    found = []
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            if address.get("OS-EXT-IPS:type", "fixed") != kind:
                continue
            if version is not None and address.get("version") != version:
                continue
            ip = _ip(address.get("addr"))
            if ip:
                found.append(ip)
    return found


def _created(server: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(server.created_at).replace("Z", "+00:00"))
    except ValueError:
        return None


def _roles(metadata: dict[str, str]) -> frozenset[Role]:
    known = {r.value for r in Role}
    return frozenset(Role(r) for r in metadata.get(naming.META_ROLES, "").split(",") if r in known)


def _index(metadata: dict[str, str]) -> int:
    value = metadata.get(naming.META_INDEX, "")
    return int(value) if value.isdigit() else 0


def node_from_server(server: Any, floating: dict[str, str]) -> Node:
    """A Node from a server listed with details, ``floating`` mapping fixed -> floating IP."""
    flavor = server.flavor or {}
    metadata = dict(server.metadata or {})
    fixed = next(iter(_addresses(server, "fixed", 4)), None)
    nova_floating = next(iter(_addresses(server, "floating")), None)
    return Node(
        name=str(server.name),
        group=metadata.get(naming.META_GROUP, ""),
        roles=_roles(metadata),
        index=_index(metadata),
        server_id=str(server.id),
        status=str(server.status),
        flavor=str(flavor.get("original_name") or flavor.get("name") or flavor.get("id") or ""),
        vcpus=int(flavor.get("vcpus") or 0),
        ram_mb=int(flavor.get("ram") or 0),
        fixed_ip=fixed,
        floating_ip=floating.get(fixed or "") or nova_floating,
        created=_created(server) if server.created_at else None,
        fault=fault_text(server) if server.status == "ERROR" else None,
    )


def _sort_key(node: Node) -> tuple[int, str, int, str]:
    """Nodes of the first roles (masters) first, then by group and index."""
    order = list(Role)
    rank = min((order.index(r) for r in node.roles), default=len(order))
    return (rank, node.group, node.index, node.name)


def build_cluster(
    cloud: Cloud, name: str, servers: list[Any], ips: list[Any], group_tags: list[str]
) -> Cluster:
    """Assemble a Cluster from its servers, its floating IPs and its security group's tags
    (which hold the launch state and the nodes it is meant to have)."""
    floating = {
        fixed: ip
        for entry in ips
        if (fixed := _ip(entry.fixed_ip_address)) and (ip := _ip(entry.floating_ip_address))
    }
    nodes = sorted((node_from_server(s, floating) for s in servers), key=_sort_key)
    metadata: dict[str, str] = {}
    for server in servers:  # the cluster-wide keys are the same on every server
        metadata.update(
            {
                k: str(v)
                for k, v in (server.metadata or {}).items()
                if k not in (naming.META_GROUP, naming.META_INDEX, naming.META_ROLES)
            }
        )
    state = naming.state_from_tags(group_tags)
    return Cluster(
        name=name,
        cloud=cloud.name,
        identity=cloud.identity,
        ssh_user=metadata.get(naming.META_SSH_USER, "ubuntu"),
        nodes=tuple(nodes),
        expected={g: m.indexes for g, m in naming.members_from_tags(group_tags).items()},
        launch_state=state.value if state else None,
        metadata=metadata,
        expiry=naming.expiry_from_tags(group_tags),
    )


def read_cluster(cloud: Cloud, name: str) -> Cluster | None:
    """The cluster as the cloud has it, or None when nothing of it is left."""
    tag = naming.cluster_tag(name)
    with translate_errors(f"reading cluster {name}"):
        servers = list_cluster_servers(cloud, name)
        ips = list(cloud.conn.network.ips(tags=tag))
        groups = list(cloud.conn.network.security_groups(tags=tag))
    if not servers and not ips and not groups:
        return None
    return build_cluster(cloud, name, servers, ips, list(groups[0].tags or []) if groups else [])


def read_all(cloud: Cloud) -> list[Cluster]:
    """Every sparkstack cluster of the project, sorted by name."""
    with translate_errors("listing clusters"):
        servers = list(cloud.conn.compute.servers(details=True, tags=naming.TAG))
        ips = list(cloud.conn.network.ips(tags=naming.TAG))
        groups = list(cloud.conn.network.security_groups(tags=naming.TAG))
    by_cluster: dict[str, list[Any]] = defaultdict(list)
    for server in servers:
        name = naming.cluster_from_tags(server.tags or [])
        if name:
            by_cluster[name].append(server)
    tags_of = {n: list(g.tags) for g in groups if (n := naming.cluster_from_tags(g.tags or []))}
    ips_of: dict[str, list[Any]] = defaultdict(list)
    for ip in ips:
        ips_of[naming.cluster_from_tags(ip.tags or []) or ""].append(ip)
    return [
        build_cluster(cloud, n, by_cluster.get(n, []), ips_of[n], tags_of.get(n, []))
        for n in sorted(set(by_cluster) | set(tags_of))
    ]
