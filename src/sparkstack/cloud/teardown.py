"""Remove a cluster's resources in dependency order; idempotent; rollback reuses it.

Only resources carrying the cluster's tag (or, for keypair and server group which cannot be
tagged, sparkstack's reserved name for the cluster; the reaper's application credential by
its reserved name too; for EC2 credentials, the cluster's name in their blob) are touched, plus
ports left behind on the cluster's own security group, so an existing network, the user's
keypair and their other groups and servers are never affected.

What does not depend on anything goes at once (floating IPs, servers, keypair, server group,
EC2 and application credentials); then, once the servers are gone, the ports they left,
routers, networks and the security group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from openstack import exceptions as os_exc
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import concurrently, for_each
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.credentials import delete_cluster_credentials
from sparkstack.cloud.s3 import cluster_credentials, delete_credential
from sparkstack.cloud.waiting import list_cluster_servers, wait_for_gone

#: How long a teardown keeps looking for ports nova makes late (see remove_left_ports).
SETTLE_SECONDS = 15.0
#: The kinds removed; the counts returned by :func:`teardown` use these keys, in this order.
KINDS = (
    "floating_ips",
    "servers",
    "ports",
    "routers",
    "networks",
    "security_groups",
    "server_groups",
    "keypairs",
    "ec2_credentials",
    "application_credentials",
)


def _remove_router(cloud: Cloud, router: Any) -> None:
    net = cloud.conn.network
    for port in net.ports(device_id=router.id, device_owner="network:router_interface"):
        net.remove_interface_from_router(router, port=port.id)
    net.delete_router(router, ignore_missing=True)


@retry(
    retry=retry_if_exception_type(os_exc.ConflictException),
    stop=stop_after_delay(60),
    wait=wait_fixed(1),
    reraise=True,
)
def _delete_when_unused(delete: Callable[..., object], resource: Any) -> None:
    """Delete a network or group; nova frees its ports shortly after a server is gone."""
    delete(resource, ignore_missing=True)


def _left_ports(cloud: Cloud, group_ids: set[str], gone: set[str]) -> list[Any]:
    """Ports of the servers just deleted (``gone``), and ports on the cluster's security group
    that no existing server holds (a server of the user's own that uses the group keeps its)."""
    candidates = [
        p
        for p in cloud.conn.network.ports()
        if p.device_id in gone
        or (
            group_ids & set(p.security_group_ids or [])
            and not str(p.device_owner or "").startswith("network:")
        )
    ]
    if not candidates:
        return []
    live = {s.id for s in cloud.conn.compute.servers(details=False)}
    return [p for p in candidates if not p.device_id or p.device_id not in live]


def remove_left_ports(
    cloud: Cloud, group_ids: set[str], gone: set[str], settle: bool, action: str
) -> int:
    """Delete the ports the servers left. With ``settle`` (a server was deleted before it was
    ACTIVE), list again until none appears for a moment: nova may still be wiring the network
    of a server deleted mid-build, and makes its port after the server has left the list."""
    removed, quiet = 0, 0
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        left = _left_ports(cloud, group_ids, gone)
        removed += for_each(
            left, lambda p: cloud.conn.network.delete_port(p, ignore_missing=True), action
        )
        quiet = 0 if left else quiet + 1
        if not settle or quiet >= 2 or time.monotonic() > deadline:
            return removed
        time.sleep(0.5)


def teardown(
    cloud: Cloud,
    cluster: str,
    on_step: Callable[[str, int], None] = lambda _kind, _n: None,
    timeout: float = 300,
) -> dict[str, int]:
    """Delete everything of ``cluster``; return how many of each kind were removed."""
    conn, net = cloud.conn, cloud.conn.network
    tag = naming.cluster_tag(cluster)
    owned = naming.owned_name(cluster)
    action = f"removing cluster {cluster}"
    removed: dict[str, int] = {}

    def keypairs() -> int:
        found = conn.compute.find_keypair(owned, ignore_missing=True)
        return for_each([found] if found else [], conn.compute.delete_keypair, action)

    def server_groups() -> int:
        mine = [g for g in conn.compute.server_groups() if g.name == owned]
        return for_each(mine, conn.compute.delete_server_group, action)

    deleted: list[Any] = []

    def servers() -> int:
        deleted.extend(list_cluster_servers(cloud, cluster))
        for_each(deleted, lambda s: conn.compute.delete_server(s, ignore_missing=True), action)
        return len(deleted)

    def independent() -> dict[str, int]:
        return concurrently(
            {
                "floating_ips": lambda: for_each(net.ips(tags=tag), net.delete_ip, action),
                "servers": servers,
                "server_groups": server_groups,
                "keypairs": keypairs,
                "ec2_credentials": lambda: for_each(
                    cluster_credentials(cloud, cluster),
                    lambda c: delete_credential(cloud, c),
                    action,
                ),
                "application_credentials": lambda: delete_cluster_credentials(cloud, cluster),
            },
            action,
        )

    with translate_errors(action):
        first = independent()
        for kind in ("floating_ips", "servers"):
            on_step(kind, first[kind])
        if first["servers"]:
            wait_for_gone(cloud, cluster, timeout)
        groups = list(net.security_groups(tags=tag))
        removed["ports"] = remove_left_ports(
            cloud,
            {g.id for g in groups},
            {s.id for s in deleted},
            settle=any(s.status != "ACTIVE" for s in deleted),
            action=action,
        )
        on_step("ports", removed["ports"])
        removed["routers"] = for_each(
            net.routers(tags=tag), lambda r: _remove_router(cloud, r), action
        )
        on_step("routers", removed["routers"])
        last = concurrently(
            {
                "networks": lambda: for_each(
                    net.networks(tags=tag),
                    lambda n: _delete_when_unused(net.delete_network, n),
                    action,
                ),
                "security_groups": lambda: for_each(
                    groups, lambda g: _delete_when_unused(net.delete_security_group, g), action
                ),
            },
            action,
        )
        for kind in KINDS[KINDS.index("networks") :]:  # the rest, in the order reported
            on_step(kind, {**first, **last}[kind])
    counts = {**first, **removed, **last}
    return {kind: counts[kind] for kind in KINDS}
