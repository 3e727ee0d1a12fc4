"""What killed clients left behind: clusters whose launch never finished, and the remains of
clusters that have no server any more (a keypair, a security group, a floating IP... or the
credentials of a cluster its reaper deleted: Keystone lets no restricted credential delete
itself).

A cluster is a leftover when nothing of it changed for ``older_than`` and either its launch is
not recorded as finished (the client died mid-launch) or it has no server left. A running
cluster whose launch finished is never one: ``destroy`` is for those.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sparkstack.cloud import credentials, naming, s3
from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud


@dataclass(frozen=True)
class Leftover:
    """One cluster's remains: how many of each kind, why they count as left, how old."""

    cluster: str
    reason: str
    resources: dict[str, int]
    newest: datetime | None = None
    names: list[str] = field(default_factory=list)


def _stamp(resource: Any) -> datetime | None:
    value = getattr(resource, "created_at", None)
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _inventory(cloud: Cloud) -> dict[str, list[Any]]:
    conn, net = cloud.conn, cloud.conn.network
    return concurrently(
        {
            "servers": lambda: list(conn.compute.servers(details=True, tags=naming.TAG)),
            "floating_ips": lambda: list(net.ips(tags=naming.TAG)),
            "security_groups": lambda: list(net.security_groups(tags=naming.TAG)),
            "networks": lambda: list(net.networks(tags=naming.TAG)),
            "routers": lambda: list(net.routers(tags=naming.TAG)),
            "keypairs": lambda: list(conn.compute.keypairs()),
            "server_groups": lambda: list(conn.compute.server_groups()),
            "application_credentials": lambda: credentials.sparkstack_credentials(cloud),
            "ec2_credentials": lambda: s3.sparkstack_credentials(cloud),
        },
        "listing sparkstack resources",
    )


def _owner(cloud: Cloud, kind: str, resource: Any) -> tuple[str | None, datetime | None]:
    """Which cluster a resource belongs to, and when it was made."""
    if kind == "application_credentials":  # no created_at: the name says when
        return credentials.owner_of(cloud, str(resource.name or "")) or (None, None)
    if kind == "ec2_credentials":  # the blob says both
        return s3.owner_of(resource) or (None, None)
    if kind in ("keypairs", "server_groups"):
        return naming.cluster_of_owned_name(str(resource.name or "")), _stamp(resource)
    return naming.cluster_from_tags(list(resource.tags or [])), _stamp(resource)


def find_leftovers(
    cloud: Cloud, older_than: timedelta, only: set[str] | None = None
) -> list[Leftover]:
    """Every leftover cluster of the project (or of the clusters named in ``only``)."""
    found = _inventory(cloud)
    by_cluster: dict[str, dict[str, list[Any]]] = {}
    made: dict[str, list[datetime]] = {}
    for kind, resources in found.items():
        for resource in resources:
            owner, stamp = _owner(cloud, kind, resource)
            if owner and (only is None or owner in only):
                by_cluster.setdefault(owner, {}).setdefault(kind, []).append(resource)
                made.setdefault(owner, []).extend([stamp] if stamp else [])
    now = datetime.now(UTC)
    leftovers = []
    for cluster, kinds in sorted(by_cluster.items()):
        groups = kinds.get("security_groups", [])
        state = naming.state_from_tags(list(groups[0].tags or [])) if groups else None
        if kinds.get("servers") and state is naming.LaunchState.READY:
            continue
        newest = max(made.get(cluster, []), default=None)
        if newest is not None and now - newest < older_than:
            continue
        reason = "its launch never finished" if kinds.get("servers") else "it has no server"
        counts = Counter({kind: len(items) for kind, items in kinds.items()})
        names = sorted(str(r.name) for items in kinds.values() for r in items if r.name)
        leftovers.append(Leftover(cluster, reason, dict(counts), newest, names))
    return leftovers
