"""The cluster's security group: SSH from the client, the services' ports between members only,
and nothing else.

The services declare their ports (``sparkstack.services``); the API hands them over as plain
port ranges. SSH is open to ``ssh_cidr``; when the user gave none, it starts open to everyone
and is narrowed to the client's own address (as the first master saw it) right after first
contact. Egress keeps neutron's default (all allowed), so nodes can fetch packages.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.tagging import create_tagged
from sparkstack.cluster import Expiry
from sparkstack.errors import NotFoundError

SSH_PORT = 22
ANYWHERE = "0.0.0.0/0"


@dataclass(frozen=True)
class PortRange:
    """TCP ports ``first``..``last`` that members of the cluster may reach on each other."""

    first: int
    last: int
    purpose: str


def _ethertype(cidr: str) -> str:
    return "IPv6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "IPv4"


def _from_cidr(group_id: str, port: int, cidr: str) -> dict[str, Any]:
    return {
        "security_group_id": group_id,
        "direction": "ingress",
        "ethertype": _ethertype(cidr),
        "protocol": "tcp",
        "port_range_min": port,
        "port_range_max": port,
        "remote_ip_prefix": str(ipaddress.ip_network(cidr, strict=False)),
    }


def ingress_rules(
    group_id: str, ssh_cidr: str, members: list[PortRange], open_ports: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """SSH from ``ssh_cidr``, each member port range from the group itself (v4 and v6), then
    the user's extra ports."""
    rules = [_from_cidr(group_id, SSH_PORT, ssh_cidr)]
    for ports in [PortRange(SSH_PORT, SSH_PORT, "ssh through the jump host"), *members]:
        for ethertype in ("IPv4", "IPv6"):
            rules.append(
                {
                    "security_group_id": group_id,
                    "direction": "ingress",
                    "ethertype": ethertype,
                    "protocol": "tcp",
                    "port_range_min": ports.first,
                    "port_range_max": ports.last,
                    "remote_group_id": group_id,
                    "description": ports.purpose[:255],
                }
            )
    rules += [_from_cidr(group_id, port, cidr) for port, cidr in open_ports]
    return rules


def rule_count(members: list[PortRange], open_ports: list[tuple[int, str]]) -> int:
    """How many rules :func:`create_security_group` makes (for the quota check)."""
    return 1 + 2 * (1 + len(members)) + len(open_ports)


def create_security_group(
    cloud: Cloud,
    cluster: str,
    ssh_cidr: str,
    members: list[PortRange],
    open_ports: list[tuple[int, str]],
    nodes: dict[str, naming.GroupMembers],
) -> str:
    """Create the tagged group and its rules in one bulk request. Its tags say the launch is
    under way and which ``nodes`` the cluster is meant to have."""
    tags = [
        *naming.resource_tags(cluster),
        naming.state_tag(naming.LaunchState.LAUNCHING),
        *naming.members_tags(nodes),
    ]
    with translate_errors("creating the security group"):
        group = create_tagged(
            cloud.conn.network.create_security_group,
            cloud.conn.network,
            tags,
            name=naming.owned_name(cluster),
            description=f"sparkstack cluster {cluster}",
        )
        cloud.conn.network.create_security_group_rules(
            ingress_rules(group.id, ssh_cidr, members, open_ports)
        )
    return str(group.id)


def cluster_group(cloud: Cloud, cluster: str) -> Any:
    """The cluster's own security group (found by its tag)."""
    with translate_errors(f"reading the security group of cluster {cluster}"):
        groups = list(cloud.conn.network.security_groups(tags=naming.cluster_tag(cluster)))
    if not groups:
        raise NotFoundError(f"cluster {cluster} has no security group of its own any more")
    return groups[0]


def set_launch_state(cloud: Cloud, cluster: str, state: naming.LaunchState) -> None:
    """Record on the security group whether the cluster's launch has finished."""
    group = cluster_group(cloud, cluster)
    tags = [t for t in group.tags or [] if not t.startswith(naming.STATE_TAG_PREFIX)]
    with translate_errors("recording the cluster's state"):
        cloud.conn.network.set_tags(group, [*tags, naming.state_tag(state)])


def set_members(cloud: Cloud, cluster: str, nodes: dict[str, naming.GroupMembers]) -> None:
    """Record which nodes the cluster is meant to have (after nodes are added or removed)."""
    group = cluster_group(cloud, cluster)
    tags = [t for t in group.tags or [] if not t.startswith(naming.MEMBERS_TAG_PREFIX)]
    with translate_errors("recording the cluster's nodes"):
        cloud.conn.network.set_tags(group, [*tags, *naming.members_tags(nodes)])


def set_expiry(cloud: Cloud, cluster: str, record: Expiry) -> None:
    """Record the cluster's deadline and its reaper's credential (launch, extend)."""
    group = cluster_group(cloud, cluster)
    tags = naming.without_expiry(list(group.tags or []))
    with translate_errors("recording the cluster's expiry"):
        cloud.conn.network.set_tags(group, [*tags, *naming.expiry_tags(record)])


def open_ssh_to(cloud: Cloud, cluster: str, cidr: str) -> None:
    """Make ``cidr`` the only source SSH is open to (the rule for the new one comes first, so
    there is no moment without access)."""
    group = cluster_group(cloud, cluster)
    wanted = str(ipaddress.ip_network(cidr, strict=False))
    net = cloud.conn.network
    with translate_errors("changing who may reach SSH"):
        rules = list(net.security_group_rules(security_group_id=group.id))
        ssh = [r for r in rules if r.port_range_min == SSH_PORT and r.remote_ip_prefix]
        if not any(r.remote_ip_prefix == wanted for r in ssh):
            net.create_security_group_rule(**_from_cidr(group.id, SSH_PORT, wanted))
        for rule in ssh:
            if rule.remote_ip_prefix != wanted:
                net.delete_security_group_rule(rule, ignore_missing=True)
