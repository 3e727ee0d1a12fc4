"""The cluster's own network (only when asked) and the floating IPs of its client-facing nodes."""

from __future__ import annotations

import functools
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.tagging import create_tagged
from sparkstack.errors import CloudError


def create_cluster_network(
    cloud: Cloud, cluster: str, cidr: str, dns: list[str], external_id: str | None
) -> str:
    """Network, subnet and a router to the external network, all tagged; return the network id."""
    net = cloud.conn.network
    tags = naming.resource_tags(cluster)
    name = naming.owned_name(cluster)
    with translate_errors("creating the cluster network"):
        network = create_tagged(net.create_network, net, tags, name=name)
        subnet = create_tagged(
            net.create_subnet,
            net,
            tags,
            name=name,
            network_id=network.id,
            ip_version=4,
            cidr=cidr,
            dns_nameservers=dns,
        )
        gateway = {"network_id": external_id} if external_id else None
        router = create_tagged(
            net.create_router, net, tags, name=name, external_gateway_info=gateway
        )
        net.add_interface_to_router(router, subnet=subnet.id)
    return str(network.id)


def _attach_one(cloud: Cloud, cluster: str, pool_id: str, server_id: str) -> Any:
    net = cloud.conn.network
    ports = list(net.ports(device_id=server_id))
    if not ports:
        raise CloudError(f"server {server_id} has no port to attach a floating IP to")
    return create_tagged(
        net.create_ip,
        net,
        naming.resource_tags(cluster),
        floating_network_id=pool_id,
        port_id=ports[0].id,
    )


def attach_floating_ips(
    cloud: Cloud, cluster: str, pool_id: str, server_ids: list[str]
) -> list[Any]:
    """A tagged floating IP on each server's port, all at once; return the floating IPs."""
    made = concurrently(
        {sid: functools.partial(_attach_one, cloud, cluster, pool_id, sid) for sid in server_ids},
        "attaching a floating IP to server",
    )
    return list(made.values())
