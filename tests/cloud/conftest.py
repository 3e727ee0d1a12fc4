"""Fixtures for provisioning tests against the devcloud: cloud environment and leak checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import openstack
import pytest

from sparkstack.cloud import naming

Listing = dict[str, dict[str, str]]

#: Every resource these tests make is named with this prefix (sparkstack adds "sparkstack-").
PREFIX = "pt-"


def admin_listing(admin: Any, member: Any) -> Listing:
    """Every server, port, floating IP, security group, keypair, network, router and server
    group the admin can see (keypairs are per user: the member's and the admin's own).
    Each is described as "<name> device=<what it is attached to>", to tell whose it is."""
    compute, net = admin.compute, admin.network
    return {
        "servers": {s.id: f"{s.name} device=" for s in compute.servers(all_projects=True)},
        "ports": {p.id: f"{p.name} device={p.device_id}" for p in net.ports()},
        "floating_ips": {
            i.id: f"{naming.cluster_from_tags(i.tags or []) or ''} device={i.port_id}"
            for i in net.ips()
        },
        "security_groups": {g.id: f"{g.name} device=" for g in net.security_groups()},
        "keypairs": {
            f"{who}:{k.name}": f"{k.name} device="
            for who, conn in (("member", member), ("admin", admin))
            for k in conn.compute.keypairs()
        },
        "networks": {n.id: f"{n.name} device=" for n in net.networks()},
        "routers": {r.id: f"{r.name} device=" for r in net.routers()},
        "server_groups": {
            g.id: f"{g.name} device=" for g in compute.server_groups(all_projects=True)
        },
    }


def foreign(before: Listing, after: Listing) -> set[str]:
    """Ids of what teammates sharing the devcloud made or removed meanwhile: named without our
    prefix, or attached to such a thing. Unnamed, unattached resources count as ours, so a
    leak of ours cannot hide."""
    ids: set[str] = set()
    for kind in ("servers", "ports", "floating_ips", *before):  # attachments first
        for rid, text in {**before[kind], **after[kind]}.items():
            name, _, device = text.partition(" device=")
            if (name and PREFIX not in name) or (device and device in ids):
                ids.add(rid)
    return ids


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


def assert_unchanged(before: Listing, after: Listing) -> None:
    """Fail when ``after`` differs from ``before``, leaving out what others did meanwhile."""
    skip = foreign(before, after)
    diff = {
        kind: {
            "left": {k: v for k, v in after[kind].items() if k not in before[kind]},
            "removed": {k: v for k, v in before[kind].items() if k not in after[kind]},
        }
        for kind in before
    }
    diff = {
        kind: {side: {k: v for k, v in items.items() if k not in skip} for side, items in d.items()}
        for kind, d in diff.items()
    }
    diff = {kind: d for kind, d in diff.items() if d["left"] or d["removed"]}
    assert not diff, f"the test changed the cloud's inventory: {diff}"


@pytest.fixture
def unchanged_cloud(admin: Any, member: Any) -> Iterator[Listing]:
    """Fail the test if the cloud's inventory after it differs from the one before it.

    On a devcloud shared with other work, what others made or removed meanwhile (see
    :func:`foreign`) is left out of the comparison; in CI nothing else runs beside the test.
    """
    before = admin_listing(admin, member)
    yield before
    assert_unchanged(before, admin_listing(admin, member))


@pytest.fixture(scope="module")
def unchanged_cloud_after_module(admin: Any, member: Any) -> Iterator[Listing]:
    """:func:`unchanged_cloud` around a whole module (its tests share one cluster)."""
    before = admin_listing(admin, member)
    yield before
    assert_unchanged(before, admin_listing(admin, member))
