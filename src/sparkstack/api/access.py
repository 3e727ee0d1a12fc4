"""Node access: turn a Cluster read from the cloud into SSH targets and credentials.

Nodes with a floating IP are reached at it (the first of them is the jump host), the others at
their fixed IP through the jump host; a cluster without floating IPs is reached at its fixed IPs
directly (the client sits in the tenant network). The key is the cluster's own (or the user's,
when they brought one); host keys are pinned in the cluster's known_hosts, and a host not pinned
yet must show the same key on its console log (unless the user chose to trust first keys).
"""

from __future__ import annotations

import time
from pathlib import Path

from sparkstack import keys, paths, validation
from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.console import wait_for_host_keys
from sparkstack.cloud.power import STOPPED
from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import NodeError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.services.base import Host


def hosts_of(cluster: Cluster) -> list[Host]:
    """Every node with an address, as SSH reaches it from this client; the jump host first."""
    try:
        user = validation.posix_user(cluster.ssh_user)
    except ValueError as exc:
        raise NodeError(
            f"cluster {cluster.name}: its servers name the login user "
            f"{validation.shown(cluster.ssh_user)} ({exc}); it cannot be used"
        ) from None
    nodes = [n for n in cluster.nodes if n.fixed_ip and n.status == "ACTIVE"]
    if cluster.nodes and {n.status for n in cluster.nodes} <= STOPPED:
        raise NodeError(f"cluster {cluster.name} is stopped; run `sparkstack start {cluster.name}`")
    if not nodes:
        raise NodeError(f"cluster {cluster.name} has no running node with an address")
    floating = [n for n in nodes if n.floating_ip]
    if not floating and cluster.metadata.get(naming.META_REACH) == "floating-ip":
        lost = f" (lost: {', '.join(cluster.lost())})" if cluster.lost() else ""
        raise NodeError(
            f"cluster {cluster.name}: no running node has a floating IP{lost}; the others "
            f"cannot be reached from here: `sparkstack destroy {cluster.name}` removes it"
        )
    entry = floating[0] if floating else nodes[0]
    jump = Target(entry.name, str(entry.address), user)
    ordered = [entry, *(n for n in nodes if n is not entry)]

    def target(node: Node) -> Target:
        if node is entry:
            return jump
        if node.floating_ip or not floating:
            return Target(node.name, str(node.address), user)
        return Target(node.name, str(node.fixed_ip), user, via=jump)

    return [Host(n, target(n)) for n in ordered]


def hosts_with(hosts: list[Host], roles: set[Role]) -> list[Host]:
    return [h for h in hosts if h.node.roles & roles]


def known_hosts_path(cluster: Cluster) -> Path:
    return paths.cluster_dir(cluster.identity, cluster.name) / "known_hosts"


def key_path(cluster: Cluster) -> Path:
    """The private key to log in with: the user's own when they brought one, else the
    generated one; either must be here."""
    own = cluster.metadata.get(naming.META_PRIVATE_KEY, "")
    if own:
        try:
            path = validation.existing_file(Path(validation.no_control(own)))
        except ValueError:
            raise NodeError(
                f"cluster {cluster.name} was launched with your own key {validation.shown(own)}, "
                "which is not on this machine"
            ) from None
        return path
    path = keys.cluster_key_path(cluster.identity, cluster.name)
    if not path.is_file():
        raise NodeError(
            f"no SSH key for cluster {cluster.name} on this machine ({path}); it was launched "
            "elsewhere or its files were removed: copy the key from the launching machine"
        )
    return path


def ssh_access(
    cloud: Cloud,
    cluster: Cluster,
    *,
    console_keys: dict[str, list[str]] | None = None,
    trust_first: bool = False,
    ready_timeout: float = 300.0,
    wait_for_keys: float = 0.0,
) -> SSHAccess:
    """Credentials for the cluster's nodes. Hosts not pinned yet are checked against the keys
    their consoles show (``console_keys`` if the caller read them, else read now, for up to
    ``wait_for_keys`` seconds)."""
    store = HostKeyStore(known_hosts_path(cluster))
    new = [h for h in hosts_of(cluster) if not store.pinned(h.target.host)]
    if console_keys is None:
        console_keys = wait_for_host_keys(
            cloud, [h.node.server_id for h in new], time.monotonic() + wait_for_keys
        )
    expected = {h.target.host: console_keys.get(h.node.server_id, []) for h in new}
    return SSHAccess(
        key_path(cluster),
        HostKeyStore(store.path, expected, trust_first=trust_first),
        ready_timeout=ready_timeout,
    )
