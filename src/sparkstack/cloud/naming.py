"""Names, tags and metadata that mark what belongs to a cluster, so the cloud alone finds it.

Servers carry nova tags and metadata; security groups, networks, subnets, routers, ports and
floating IPs carry neutron tags. Keypairs and server groups cannot be tagged: sparkstack gives
them the reserved name ``sparkstack-<cluster>`` (the spec refuses that name for a user keypair).
Server names are ``<cluster>-<role>-<index>``; with nova multi-create the index is the ``-N``
suffix nova appends, so one request creates a whole role.
"""

from __future__ import annotations

import re

from sparkstack import __version__
from sparkstack.cluster import Role

#: Tag on everything sparkstack creates, to list all clusters of a project.
TAG = "sparkstack"

META_CLUSTER = "sparkstack_cluster"
META_ROLE = "sparkstack_role"
META_VERSION = "sparkstack_version"
META_SSH_USER = "sparkstack_ssh_user"
META_MASTERS = "sparkstack_masters"
META_WORKERS = "sparkstack_workers"
META_NETWORK = "sparkstack_network"
META_PRIVATE_KEY = "sparkstack_private_key"

_INDEX = re.compile(r"-(\d+)$")


def cluster_tag(cluster: str) -> str:
    """The tag naming one cluster (nova tags: at most 60 characters, no ',' or '/')."""
    return f"sparkstack:{cluster}"


def role_tag(role: Role) -> str:
    return f"sparkstack-role:{role.value}"


def version_tag() -> str:
    return f"sparkstack-version:{__version__}"


def resource_tags(cluster: str) -> list[str]:
    """Tags for every neutron resource of the cluster."""
    return [TAG, cluster_tag(cluster), version_tag()]


def server_tags(cluster: str, role: Role) -> list[str]:
    return [*resource_tags(cluster), role_tag(role)]


def owned_name(cluster: str) -> str:
    """Name of the cluster's security group, keypair, server group, network and router."""
    return f"sparkstack-{cluster}"


def server_base_name(cluster: str, role: Role) -> str:
    return f"{cluster}-{role.value}"


def cluster_from_tags(tags: list[str]) -> str | None:
    """The cluster a tagged resource belongs to, if any."""
    prefix = cluster_tag("")
    for tag in tags:
        if tag.startswith(prefix) and len(tag) > len(prefix):
            return tag[len(prefix) :]
    return None


def index_from_name(name: str) -> int | None:
    """The node index nova's multi-create appended to the name (``demo-worker-3`` -> 3)."""
    match = _INDEX.search(name)
    return int(match.group(1)) if match else None


def server_metadata(
    cluster: str, ssh_user: str, masters: int, workers: int, network: str, private_key: str
) -> dict[str, str]:
    """Metadata on every server (the role is added per request): what describe needs.

    ``private_key`` is the user's private key file when they brought their own key, else "".
    """
    return {
        META_CLUSTER: cluster,
        META_VERSION: __version__,
        META_SSH_USER: ssh_user,
        META_MASTERS: str(masters),
        META_WORKERS: str(workers),
        META_NETWORK: network,
        META_PRIVATE_KEY: private_key,
    }
