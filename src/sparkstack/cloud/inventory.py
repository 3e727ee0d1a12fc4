"""Read clusters back from the cloud alone: servers by tag, floating IPs by tag.

Two list calls describe a cluster of any size; two more list every cluster of the project
(security groups count too, so a cluster whose servers are all gone still shows up).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.waiting import fault_text, list_cluster_servers
from sparkstack.cluster import Cluster, Node, Role


def _fixed_ip(server: Any) -> str | None:
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            if address.get("OS-EXT-IPS:type", "fixed") == "fixed" and address.get("version") == 4:
                return str(address["addr"])
    return None


def _nova_floating_ip(server: Any) -> str | None:
    for addresses in (server.addresses or {}).values():
        for address in addresses:
            if address.get("OS-EXT-IPS:type") == "floating":
                return str(address["addr"])
    return None


def _created(server: Any) -> datetime | None:
    stamp = server.created_at
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _role(server: Any) -> Role:
    value = (server.metadata or {}).get(naming.META_ROLE)
    if value in (Role.MASTER.value, Role.WORKER.value):
        return Role(value)
    return Role.MASTER if naming.role_tag(Role.MASTER) in (server.tags or []) else Role.WORKER


def node_from_server(server: Any, floating: dict[str, str]) -> Node:
    """A Node from a server listed with details, ``floating`` mapping fixed -> floating IP."""
    flavor = server.flavor or {}
    fixed = _fixed_ip(server)
    return Node(
        name=server.name,
        role=_role(server),
        index=naming.index_from_name(server.name) or 0,
        server_id=server.id,
        status=server.status,
        flavor=str(flavor.get("original_name") or flavor.get("name") or flavor.get("id") or ""),
        vcpus=int(flavor.get("vcpus") or 0),
        ram_mb=int(flavor.get("ram") or 0),
        fixed_ip=fixed,
        floating_ip=floating.get(fixed or "") or _nova_floating_ip(server),
        created=_created(server),
        fault=fault_text(server) if server.status == "ERROR" else None,
    )


def build_cluster(cloud: Cloud, name: str, servers: list[Any], ips: list[Any]) -> Cluster:
    """Assemble a Cluster from its servers and its floating IPs (both as listed)."""
    floating = {
        str(ip.fixed_ip_address): str(ip.floating_ip_address) for ip in ips if ip.fixed_ip_address
    }
    nodes = sorted(
        (node_from_server(s, floating) for s in servers),
        key=lambda n: (n.role is not Role.MASTER, n.index, n.name),
    )
    metadata = dict(servers[0].metadata or {}) if servers else {}
    metadata.pop(naming.META_ROLE, None)
    return Cluster(
        name=name,
        cloud=cloud.name,
        ssh_user=metadata.get(naming.META_SSH_USER, "ubuntu"),
        nodes=tuple(nodes),
        expected_masters=int(metadata.get(naming.META_MASTERS, 0) or 0),
        expected_workers=int(metadata.get(naming.META_WORKERS, 0) or 0),
        metadata=metadata,
    )


def read_cluster(cloud: Cloud, name: str) -> Cluster | None:
    """The cluster as the cloud has it, or None when nothing of it is left."""
    tag = naming.cluster_tag(name)
    with translate_errors(f"reading cluster {name}"):
        servers = list_cluster_servers(cloud, name)
        ips = list(cloud.conn.network.ips(tags=tag))
        groups = [] if servers else list(cloud.conn.network.security_groups(tags=tag))
    if not servers and not ips and not groups:
        return None
    return build_cluster(cloud, name, servers, ips)


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
    names = set(by_cluster) | {n for g in groups if (n := naming.cluster_from_tags(g.tags or []))}
    ips_of: dict[str, list[Any]] = defaultdict(list)
    for ip in ips:
        ips_of[naming.cluster_from_tags(ip.tags or []) or ""].append(ip)
    return [build_cluster(cloud, n, by_cluster.get(n, []), ips_of[n]) for n in sorted(names)]
