"""Fixtures for provisioning tests against the devcloud: cloud environment and leak checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

Listing = dict[str, dict[str, str]]


def admin_listing(admin: Any, member: Any) -> Listing:
    """Every server, port, floating IP, security group, keypair, network, router and server
    group the admin can see (keypairs are per user: the member's and the admin's own)."""
    compute, net = admin.compute, admin.network
    return {
        "servers": {s.id: s.name for s in compute.servers(all_projects=True)},
        "ports": {p.id: f"{p.device_owner} {p.fixed_ips}" for p in net.ports()},
        "floating_ips": {i.id: i.floating_ip_address for i in net.ips()},
        "security_groups": {g.id: g.name for g in net.security_groups()},
        "keypairs": {
            f"{who}:{k.name}": k.fingerprint
            for who, conn in (("member", member), ("admin", admin))
            for k in conn.compute.keypairs()
        },
        "networks": {n.id: n.name for n in net.networks()},
        "routers": {r.id: r.name for r in net.routers()},
        "server_groups": {g.id: g.name for g in compute.server_groups(all_projects=True)},
    }


@pytest.fixture(scope="session")
def cloud_env(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for sparkstack against the devcloud, with a private data dir."""
    env = {
        "OS_CLIENT_CONFIG_FILE": str(devcloud.clouds_yaml),
        "SPARKSTACK_DATA_DIR": str(tmp_path_factory.mktemp("sparkstack-data")),
    }
    saved = {k: os.environ.get(k) for k in [*env, "OS_CLOUD"]}
    os.environ.update(env)
    os.environ.pop("OS_CLOUD", None)
    yield {**os.environ, **env}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def admin(devcloud: Any, cloud_env: dict[str, str]) -> Any:
    return openstack.connect(cloud=devcloud.admin_cloud)


@pytest.fixture(scope="session")
def member(devcloud: Any, cloud_env: dict[str, str]) -> Any:
    return openstack.connect(cloud=devcloud.cloud)


@pytest.fixture
def unchanged_cloud(admin: Any, member: Any) -> Iterator[Listing]:
    """Fail the test if the cloud's inventory after it differs from the one before it."""
    before = admin_listing(admin, member)
    yield before
    after = admin_listing(admin, member)
    diff = {
        kind: {
            "left": {k: v for k, v in after[kind].items() if k not in before[kind]},
            "removed": {k: v for k, v in before[kind].items() if k not in after[kind]},
        }
        for kind in before
        if before[kind].keys() != after[kind].keys()
    }
    assert not diff, f"the test changed the cloud's inventory: {diff}"
