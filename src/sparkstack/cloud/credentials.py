"""The Keystone application credential a cluster's reaper acts with (scheduled deletion).

One per cluster, for the current user: restricted (it cannot make or delete credentials or
trusts), scoped to the project of the token, with only the ``member`` role (enough to delete
and stop the project's servers and network resources), and expiring shortly after the cluster's
deadline. Its name is reserved, ``sparkstack-<cluster>-<project id>-<created>`` (a credential
belongs to the user, across projects; ``extend`` may replace it, and Keystone wants names
unique per user), so teardown finds it without any record; its id is kept on the cluster's
security group too. The secret exists only in this process and in the reaper's file
on the first master: it is never printed, logged or put in server metadata.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openstack import exceptions as os_exc

from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.errors import AuthError

#: The role the reaper needs; Keystone's implied ``reader`` comes with it.
NEEDED_ROLE = "member"


@dataclass(frozen=True)
class ClusterCredential:
    """What the reaper authenticates with: where, as whom, until when."""

    id: str
    secret: str = field(repr=False)
    expires_at: datetime
    #: The catalog's public identity endpoint (the one the nodes reach).
    auth_url: str
    region: str | None


def _identity(cloud: Cloud) -> Any:
    """Keystone v3 (application credentials exist only there) and the current user's id."""
    return cloud.conn.identity


def _user(cloud: Cloud) -> str:
    return str(cloud.conn.current_user_id)


def _prefix(cloud: Cloud, cluster: str) -> str:
    return f"sparkstack-{cluster}-{cloud.project_id}-"


def owner_of(cloud: Cloud, name: str) -> tuple[str, datetime] | None:
    """The cluster a credential name is reserved for, and when it was made (None: not ours)."""
    head, tail = "sparkstack-", f"-{cloud.project_id}-"
    if not name.startswith(head) or tail not in name:
        return None
    cluster, _, made = name[len(head) :].rpartition(tail)
    if not cluster or not made.isdigit():
        return None
    return cluster, datetime.fromtimestamp(int(made), UTC)


def sparkstack_credentials(cloud: Cloud) -> list[Any]:
    """The current user's credentials of sparkstack clusters in this project (none when the
    session may not list them: a restricted credential's own)."""
    with translate_errors("listing your application credentials"):
        try:
            listed = list(_identity(cloud).application_credentials(user=_user(cloud)))
        except os_exc.ForbiddenException:
            return []
    return [c for c in listed if owner_of(cloud, str(c.name or "")) is not None]


def is_cluster_credential(cloud: Cloud, cluster: str, name: str) -> bool:
    """Whether ``name`` is one sparkstack gives a credential of ``cluster``."""
    owner = owner_of(cloud, name)
    return owner is not None and owner[0] == cluster


def reaper_role(cloud: Cloud) -> str:
    """``member``, when the user has it in the project (a credential cannot have more)."""
    with translate_errors("reading your roles in the project"):
        auth: Any = cloud.conn.session.auth
        roles = set(auth.get_access(cloud.conn.session).role_names or [])
    if NEEDED_ROLE not in roles:
        raise AuthError(
            f"scheduled deletion needs the {NEEDED_ROLE} role in the project (you have: "
            f"{', '.join(sorted(roles)) or 'none'}); ask the cloud's admins, or launch without "
            "--max-age/--idle-timeout"
        )
    return NEEDED_ROLE


def create_cluster_credential(
    cloud: Cloud, cluster: str, expires_at: datetime
) -> ClusterCredential:
    """A new restricted credential for the cluster's reaper, expiring at ``expires_at`` (UTC)."""
    role = reaper_role(cloud)
    with translate_errors(f"creating the application credential of cluster {cluster}"):
        auth_url = cloud.conn.endpoint_for("identity", interface="public")
        made = _identity(cloud).create_application_credential(
            user=_user(cloud),
            name=f"{_prefix(cloud, cluster)}{int(time.time())}",
            description=f"sparkstack reaper of cluster {cluster}",
            roles=[{"name": role}],
            expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%S"),
            unrestricted=False,
        )
    return ClusterCredential(
        id=str(made.id),
        secret=str(made.secret),
        expires_at=expires_at,
        auth_url=str(auth_url),
        region=cloud.conn.config.get_region_name("identity"),
    )


def delete_credential(cloud: Cloud, credential_id: str) -> None:
    with translate_errors("deleting an application credential"):
        _identity(cloud).delete_application_credential(
            _user(cloud), credential_id, ignore_missing=True
        )


def delete_cluster_credentials(cloud: Cloud, cluster: str, keep: str | None = None) -> int:
    """Delete the cluster's credentials (but ``keep``); how many were deleted."""
    listed = sparkstack_credentials(cloud)
    found = [c.id for c in listed if is_cluster_credential(cloud, cluster, c.name) and c.id != keep]
    for credential_id in found:
        delete_credential(cloud, credential_id)
    return len(found)
