"""Provision a checked spec in one cloud session: resources, servers, addresses, host keys.

Independent resources (network, security group, keypair, server group) are created at once,
then every server (one request each, concurrently), then one list call per poll until all are
ACTIVE, then the floating IPs, then the consoles are read until every server shows its SSH host
keys. No rollback here: the caller wraps this in :func:`sparkstack.cloud.teardown.teardown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.console import wait_for_host_keys
from sparkstack.cloud.inventory import build_cluster
from sparkstack.cloud.layout import GroupRequest, total
from sparkstack.cloud.network import attach_floating_ips, create_cluster_network
from sparkstack.cloud.preflight import Plan
from sparkstack.cloud.security import ANYWHERE, PortRange, create_security_group
from sparkstack.cloud.servers import (
    BootOptions,
    create_keypair,
    create_server_group,
    create_servers,
)
from sparkstack.cloud.waiting import wait_for_active
from sparkstack.cluster import Cluster
from sparkstack.events import Phase, Reporter
from sparkstack.spec import ClusterSpec, ServerGroupPolicy


@dataclass(frozen=True)
class KeyChoice:
    """The keypair to boot with: an existing one by name, or a public key to import."""

    keypair: str | None = None
    public_key: str | None = None
    private_key_file: str = ""


@dataclass(frozen=True)
class Provisioned:
    """The cluster as built, and the SSH host keys each new server printed (by server id)."""

    cluster: Cluster
    host_keys: dict[str, list[str]]


def members(groups: list[GroupRequest]) -> dict[str, naming.GroupMembers]:
    """The nodes a launch of ``groups`` makes, as the security group records them."""
    return {g.group: naming.GroupMembers(tuple(g.indexes), g.first_index + g.count) for g in groups}


def _resources(
    cloud: Cloud,
    spec: ClusterSpec,
    plan: Plan,
    key: KeyChoice,
    ports: list[PortRange],
    nodes: dict[str, naming.GroupMembers],
    report: Reporter,
) -> dict[str, Any]:
    """Network (if asked), security group, keypair and server group, created concurrently."""
    calls: dict[str, Callable[[], Any]] = {
        "security group": lambda: create_security_group(
            cloud, spec.name, spec.ssh_cidr or ANYWHERE, ports, spec.open_ports, nodes
        ),
        "server group": lambda: create_server_group(cloud, spec.name, spec.server_group_policy),
    }
    if key.public_key:
        public_key = key.public_key
        calls["keypair"] = lambda: create_keypair(cloud, spec.name, public_key)
    if spec.network.create:
        calls["network"] = lambda: create_cluster_network(
            cloud,
            spec.name,
            spec.network.cidr,
            spec.network.dns_nameservers,
            plan.external_network_id,
        )
    with Phase(report, "resources", total=len(calls), text="network and security") as phase:
        made = concurrently(calls, "creating")
        phase.advance(", ".join(made), by=len(made))
    return made


def provision(
    cloud: Cloud,
    spec: ClusterSpec,
    groups: list[GroupRequest],
    plan: Plan,
    key: KeyChoice,
    ports: list[PortRange],
    report: Reporter,
) -> Provisioned:
    """Create everything ``spec`` asks for; return once every server is ACTIVE, addressed and
    its host keys read (or the launch timeout has passed for them)."""
    deadline = time.monotonic() + spec.timeout_seconds
    nodes = members(groups)
    made = _resources(cloud, spec, plan, key, ports, nodes, report)
    network_id = made.get("network") or plan.network_id
    assert network_id is not None
    options = BootOptions(
        cluster=spec.name,
        network_id=network_id,
        security_group_ids=(made["security group"], *plan.security_group_ids),
        key_name=key.keypair or made["keypair"],
        metadata={
            **spec.metadata,
            **naming.server_metadata(
                spec.name,
                spec.login_user,
                network_id,
                key.private_key_file,
                floating_ips=spec.use_floating_ips and plan.external_network_id is not None,
            ),
        },
        availability_zone=spec.availability_zone,
        server_group_id=made["server group"],
        boot_volume_gb=spec.boot_volume_gb,
        one_at_a_time=spec.server_group_policy is ServerGroupPolicy.ANTI_AFFINITY,
    )
    count = total(groups)
    names = {naming.server_name(spec.name, g.group, i) for g in groups for i in g.indexes}
    with Phase(report, "servers", total=count, text="booting") as phase:
        create_servers(cloud, options, groups, plan)
        phase.message(f"{count} create requests sent")
        servers = wait_for_active(
            cloud,
            spec.name,
            names,
            max(1.0, deadline - time.monotonic()),
            lambda active, _servers: phase.set_progress(active, f"{active}/{count} ACTIVE"),
        )
    ips: list[Any] = []
    floating = {g.group for g in groups if g.floating_ip}
    addressed = [s.id for s in servers if s.metadata.get(naming.META_GROUP) in floating]
    if spec.use_floating_ips and plan.external_network_id and addressed:
        with Phase(report, "addresses", total=len(addressed), text="floating IPs") as phase:
            ips = attach_floating_ips(cloud, spec.name, plan.external_network_id, addressed)
            phase.set_progress(len(ips), "attached")
    ids = [str(s.id) for s in servers]
    wait_until = time.monotonic() if spec.trust_first_host_key else deadline
    with Phase(report, "host keys", total=len(ids), text="console logs") as phase:
        keys = wait_for_host_keys(cloud, ids, wait_until, lambda n: phase.set_progress(n))
    tags = [naming.state_tag(naming.LaunchState.LAUNCHING), *naming.members_tags(nodes)]
    return Provisioned(build_cluster(cloud, spec.name, servers, ips, tags), keys)
