"""Provision a checked spec: the cluster's resources, its servers, their floating IPs.

Independent resources (network, security group, keypair, server group) are created at once,
then every server in one request per role, then one list call per poll until all are ACTIVE.
No rollback here: the caller wraps this in :func:`sparkstack.cloud.teardown.teardown`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.inventory import build_cluster
from sparkstack.cloud.network import attach_floating_ips, create_cluster_network
from sparkstack.cloud.preflight import Plan
from sparkstack.cloud.security import create_security_group
from sparkstack.cloud.servers import (
    BootOptions,
    RoleRequest,
    create_keypair,
    create_server_group,
    create_servers,
)
from sparkstack.cloud.waiting import wait_for_active
from sparkstack.cluster import Cluster, Role
from sparkstack.events import Phase, Reporter
from sparkstack.spec import ClusterSpec


@dataclass(frozen=True)
class KeyChoice:
    """The keypair to boot with: an existing one by name, or a public key to import."""

    keypair: str | None = None
    public_key: str | None = None
    private_key_file: str = ""


def _resources(
    cloud: Cloud, spec: ClusterSpec, plan: Plan, key: KeyChoice, report: Reporter
) -> dict[str, Any]:
    """Network (if asked), security group, keypair and server group, created concurrently."""
    calls: dict[str, Callable[[], Any]] = {
        "security group": lambda: create_security_group(
            cloud, spec.name, spec.ssh_cidr, spec.open_ports
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
    with (
        Phase(report, "resources", total=len(calls), text="network and security") as phase,
        ThreadPoolExecutor(max_workers=len(calls)) as pool,
    ):
        futures = {name: pool.submit(call) for name, call in calls.items()}
        results = {}
        for name, future in futures.items():
            results[name] = future.result()
            phase.advance(name)
    return results


def provision(
    cloud: Cloud, spec: ClusterSpec, plan: Plan, key: KeyChoice, report: Reporter
) -> Cluster:
    """Create everything ``spec`` asks for and return the cluster once every server is ACTIVE."""
    made = _resources(cloud, spec, plan, key, report)
    network_id = made.get("network") or plan.network_id
    assert network_id is not None
    options = BootOptions(
        cluster=spec.name,
        image_id=plan.image_id,
        network_id=network_id,
        security_group_ids=(made["security group"], *plan.security_group_ids),
        key_name=key.keypair or made["keypair"],
        metadata={
            **spec.metadata,
            **naming.server_metadata(
                spec.name,
                spec.login_user,
                spec.masters.count,
                spec.workers.count,
                network_id,
                key.private_key_file,
            ),
        },
        availability_zone=spec.availability_zone,
        server_group_id=made["server group"],
        boot_volume_gb=spec.boot_volume_gb,
    )
    total = spec.masters.count + spec.workers.count
    with Phase(report, "servers", total=total, text="booting") as phase:
        create_servers(
            cloud,
            options,
            [
                RoleRequest(Role.MASTER, spec.masters.count, plan.master_flavor),
                RoleRequest(Role.WORKER, spec.workers.count, plan.worker_flavor),
            ],
        )
        servers = wait_for_active(
            cloud,
            spec.name,
            total,
            spec.timeout_seconds,
            lambda active, _servers: phase.set_progress(active, f"{active}/{total} ACTIVE"),
        )
    ips: list[Any] = []
    if spec.use_floating_ips and plan.external_network_id:
        masters = [s.id for s in servers if s.metadata.get(naming.META_ROLE) == Role.MASTER.value]
        with Phase(report, "addresses", total=len(masters), text="floating IPs") as phase:
            ips = attach_floating_ips(cloud, spec.name, plan.external_network_id, masters)
            phase.set_progress(len(ips), "attached")
    return build_cluster(cloud, spec.name, servers, ips)
