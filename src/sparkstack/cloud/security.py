"""The cluster's security group: SSH from one CIDR, everything between members, nothing else.

Services may open more (a UI port from some CIDR): they pass ``(port, cidr)`` pairs. Egress
keeps neutron's default (all allowed), so nodes can fetch packages.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.tagging import create_tagged


def _ethertype(cidr: str) -> str:
    return "IPv6" if ipaddress.ip_network(cidr, strict=False).version == 6 else "IPv4"


def ingress_rules(
    group_id: str, ssh_cidr: str, open_ports: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """The rules of a cluster group: member-to-member (v4 and v6), SSH, then extra ports."""
    rules: list[dict[str, Any]] = [
        {"ethertype": ethertype, "remote_group_id": group_id} for ethertype in ("IPv4", "IPv6")
    ]
    for port, cidr in [(22, ssh_cidr), *open_ports]:
        rules.append(
            {
                "ethertype": _ethertype(cidr),
                "protocol": "tcp",
                "port_range_min": port,
                "port_range_max": port,
                "remote_ip_prefix": str(ipaddress.ip_network(cidr, strict=False)),
            }
        )
    return [{"security_group_id": group_id, "direction": "ingress", **rule} for rule in rules]


def create_security_group(
    cloud: Cloud, cluster: str, ssh_cidr: str, open_ports: list[tuple[int, str]]
) -> str:
    """Create the tagged group and its rules in one bulk request; return its id."""
    with translate_errors("creating the security group"):
        group = create_tagged(
            cloud.conn.network.create_security_group,
            cloud.conn.network,
            naming.resource_tags(cluster),
            name=naming.owned_name(cluster),
            description=f"sparkstack cluster {cluster}",
        )
        cloud.conn.network.create_security_group_rules(
            ingress_rules(group.id, ssh_cidr, open_ports)
        )
    return str(group.id)
