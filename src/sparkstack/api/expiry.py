"""Scheduled deletion: the reaper's credential and deadline at launch, and ``extend``.

The deadline of a max age is fixed at launch (and moved by ``extend``); an idle timeout counts
on the node, from the last application. The cluster's application credential expires an hour
after the deadline (with an idle timeout alone: after 30 days, the longest a schedule may
run), so a credential never outlives its cluster by much even when nobody deletes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sparkstack import validation
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.deploy import read_cluster_state
from sparkstack.api.lookup import open_cluster
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.credentials import (
    ClusterCredential,
    create_cluster_credential,
    delete_cluster_credentials,
    delete_credential,
)
from sparkstack.cloud.security import set_expiry
from sparkstack.cluster import Cluster, Expiry
from sparkstack.errors import UsageError
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment
from sparkstack.services.reaper import Reaper, ReaperGrant
from sparkstack.spec import ClusterSpec

#: How long the credential outlives the deadline (the reaper's work takes minutes).
CREDENTIAL_MARGIN = 3600


def _credential(cloud: Cloud, cluster: str, until: int) -> ClusterCredential:
    expires = datetime.fromtimestamp(until + CREDENTIAL_MARGIN, UTC)
    return create_cluster_credential(cloud, cluster, expires)


def _grant(made: ClusterCredential, deadline: int | None, hold_until: int = 0) -> ReaperGrant:
    return ReaperGrant(made.auth_url, made.region, made.id, made.secret, deadline, hold_until)


def _record(made: ClusterCredential, deadline: int | None) -> Expiry:
    return Expiry(deadline, made.id, int(made.expires_at.timestamp()))


def launch_grant(cloud: Cloud, spec: ClusterSpec) -> tuple[ReaperGrant, Expiry] | None:
    """The reaper's credential and deadline for a launch of ``spec``, and their record on the
    cluster's security group (None: the spec schedules nothing)."""
    if spec.expiry is None:
        return None
    now = int(time.time())
    max_age = spec.expiry.max_age_seconds
    deadline = now + max_age if max_age else None
    made = _credential(cloud, spec.name, deadline or now + validation.MAX_DURATION)
    record = _record(made, deadline)
    set_expiry(cloud, spec.name, record)
    return _grant(made, deadline), record


@dataclass(frozen=True)
class Extended:
    """What ``extend`` did: the new max-age deadline (None: idle timeout only), the moment
    before which idleness does not count, and whether the credential was replaced."""

    deadline: datetime | None
    hold_until: datetime
    credential_replaced: bool


async def _write(
    cluster: Cluster, access: SSHAccess, deadline: int | None, hold: int, grant: ReaperGrant | None
) -> None:
    hosts = hosts_of(cluster)
    async with Fleet(access) as fleet:
        state = await read_cluster_state(fleet, hosts)
        dep = Deployment(cluster.name, hosts, fleet)
        await Reaper(state.manifest.cluster_spec()).write_schedule(dep, deadline, hold, grant)


def extend(
    name: str, by: str, cloud: str | None = None, *, trust_first_host_key: bool = False
) -> Extended:
    """Move the cluster's deletion ``by`` (e.g. ``2h``) later: its max-age deadline, and the
    moment from which idleness counts; a credential that would expire first is replaced."""
    validation.check_cluster_name(name)
    try:
        seconds = validation.duration_seconds(by)
    except ValueError as exc:
        raise UsageError(f"extend by {validation.shown(by)}: {exc}") from None
    session, cluster = open_cluster(name, cloud)
    record = cluster.expiry
    if record is None:
        raise UsageError(
            f"cluster {name} has no scheduled deletion (launch it with --max-age or --idle-timeout)"
        )
    now = int(time.time())
    deadline = max(record.deadline, now) + seconds if record.deadline is not None else None
    hold = now + seconds
    access = ssh_access(session, cluster, trust_first=trust_first_host_key)
    made = None
    if (deadline or hold) + CREDENTIAL_MARGIN > record.credential_expires:
        made = _credential(session, name, deadline or hold)
    try:
        grant = _grant(made, deadline, hold) if made else None
        _sync.run(_write(cluster, access, deadline, hold, grant))
        set_expiry(
            session,
            name,
            _record(made, deadline)
            if made
            else Expiry(deadline, record.credential_id, record.credential_expires),
        )
    except BaseException:
        if made is not None:
            delete_credential(session, made.id)
        raise
    if made is not None:
        delete_cluster_credentials(session, name, keep=made.id)
    return Extended(
        datetime.fromtimestamp(deadline, UTC) if deadline is not None else None,
        datetime.fromtimestamp(hold, UTC),
        made is not None,
    )
