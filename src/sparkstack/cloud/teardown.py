"""Remove a cluster's resources in dependency order; idempotent; rollback reuses it.

Only resources carrying the cluster's tag (or, for keypair and server group which cannot be
tagged, sparkstack's reserved name for the cluster) are touched, so an existing network, the
user's keypair and their other groups and servers are never affected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openstack import exceptions as os_exc
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.waiting import list_cluster_servers, wait_for_gone

#: The kinds removed, in order; the counts returned by :func:`teardown` use these keys.
KINDS = (
    "floating_ips",
    "servers",
    "routers",
    "networks",
    "security_groups",
    "server_groups",
    "keypairs",
)


def _each(items: Iterable[Any], action: Callable[[Any], object]) -> int:
    """Apply ``action`` to every item concurrently; return how many there were."""
    todo = list(items)
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            list(pool.map(action, todo))
    return len(todo)


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
    removed: dict[str, int] = {}

    def step(kind: str, run: Callable[[], int]) -> None:
        with translate_errors(f"removing {kind.replace('_', ' ')} of cluster {cluster}"):
            removed[kind] = run()
        on_step(kind, removed[kind])

    def servers() -> int:
        count = _each(
            list_cluster_servers(cloud, cluster),
            lambda s: conn.compute.delete_server(s, ignore_missing=True),
        )
        if count:
            wait_for_gone(cloud, cluster, timeout)
        return count

    def keypairs() -> int:
        found = conn.compute.find_keypair(owned, ignore_missing=True)
        return _each([found] if found else [], conn.compute.delete_keypair)

    step("floating_ips", lambda: _each(net.ips(tags=tag), net.delete_ip))
    step("servers", servers)
    step("routers", lambda: _each(net.routers(tags=tag), lambda r: _remove_router(cloud, r)))
    step(
        "networks",
        lambda: _each(net.networks(tags=tag), lambda n: _delete_when_unused(net.delete_network, n)),
    )
    step(
        "security_groups",
        lambda: _each(
            net.security_groups(tags=tag),
            lambda g: _delete_when_unused(net.delete_security_group, g),
        ),
    )
    step(
        "server_groups",
        lambda: _each(
            (g for g in conn.compute.server_groups() if g.name == owned),
            conn.compute.delete_server_group,
        ),
    )
    step("keypairs", keypairs)
    return removed
