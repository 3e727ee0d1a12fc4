"""Names, tags and metadata that mark what belongs to a cluster, so the cloud alone finds it.

Servers carry nova tags and metadata; security groups, networks, subnets, routers and floating
IPs carry neutron tags. Keypairs and server groups cannot be tagged: sparkstack gives them the
reserved name ``sparkstack-<cluster>`` (the spec refuses that name for a user keypair).
Server names are ``<cluster>-<group>-<index>``; the index is explicit in each server's metadata
and continues across batches, so a name is never used twice in one cluster.

The cluster's security group also carries its launch state: ``launching`` until a launch has
finished, then ``ready``; ``cleanup`` uses it to tell a launch that died from a live cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sparkstack._version import __version__
from sparkstack.cluster import Expiry
from sparkstack.validation import CLUSTER_NAME

#: Tag on everything sparkstack creates, to list all clusters of a project.
TAG = "sparkstack"
CLUSTER_TAG_PREFIX = "sparkstack:"
STATE_TAG_PREFIX = "sparkstack-state:"

META_CLUSTER = "sparkstack_cluster"
META_VERSION = "sparkstack_version"
META_GROUP = "sparkstack_group"
META_INDEX = "sparkstack_index"
META_ROLES = "sparkstack_roles"
META_SSH_USER = "sparkstack_ssh_user"
META_NETWORK = "sparkstack_network"
META_PRIVATE_KEY = "sparkstack_private_key"
#: How a client reaches the nodes: ``floating-ip`` (through a node that has one) or ``fixed-ip``.
META_REACH = "sparkstack_reach"
#: The digest of the manifest a master holds (see sparkstack.manifest).
META_MANIFEST = "sparkstack_manifest"


class LaunchState(StrEnum):
    LAUNCHING = "launching"
    READY = "ready"


def cluster_tag(cluster: str) -> str:
    """The tag naming one cluster (nova tags: at most 60 characters, no ',' or '/')."""
    return f"{CLUSTER_TAG_PREFIX}{cluster}"


def version_tag() -> str:
    return f"sparkstack-version:{__version__}"


def state_tag(state: LaunchState) -> str:
    return f"{STATE_TAG_PREFIX}{state.value}"


def resource_tags(cluster: str) -> list[str]:
    """Tags for every taggable resource of the cluster."""
    return [TAG, cluster_tag(cluster), version_tag()]


def owned_name(cluster: str) -> str:
    """Name of the cluster's security group, keypair, server group, network and router."""
    return f"sparkstack-{cluster}"


def cluster_of_owned_name(name: str) -> str | None:
    """The cluster a reserved ``sparkstack-<cluster>`` name stands for, if it is one."""
    prefix = owned_name("")
    rest = name[len(prefix) :] if name.startswith(prefix) else ""
    return rest if CLUSTER_NAME.match(rest) else None


def server_name(cluster: str, group: str, index: int) -> str:
    return f"{cluster}-{group}-{index}"


def cluster_from_tags(tags: list[str]) -> str | None:
    """The cluster a tagged resource belongs to, if any."""
    for tag in tags:
        name = tag[len(CLUSTER_TAG_PREFIX) :] if tag.startswith(CLUSTER_TAG_PREFIX) else ""
        if CLUSTER_NAME.match(name):
            return name
    return None


def state_from_tags(tags: list[str]) -> LaunchState | None:
    for tag in tags:
        if tag.startswith(STATE_TAG_PREFIX):
            try:
                return LaunchState(tag[len(STATE_TAG_PREFIX) :])
            except ValueError:
                return None
    return None


def server_metadata(
    cluster: str, ssh_user: str, network: str, private_key: str, floating_ips: bool
) -> dict[str, str]:
    """Metadata every server of a cluster shares (group, index and roles are added per server).

    ``private_key`` is the user's private key file when they brought their own key, else "".
    """
    return {
        META_CLUSTER: cluster,
        META_VERSION: __version__,
        META_SSH_USER: ssh_user,
        META_NETWORK: network,
        META_PRIVATE_KEY: private_key,
        META_REACH: "floating-ip" if floating_ips else "fixed-ip",
    }


def node_metadata(group: str, index: int, roles: list[str]) -> dict[str, str]:
    """The metadata that makes one server a particular node."""
    return {META_GROUP: group, META_INDEX: str(index), META_ROLES: ",".join(roles)}


# ---- expiry: the reaper's deadline and credential, kept in the security group's tags ---------

EXPIRY_TAG_PREFIX = "sparkstack-expiry:"
CREDENTIAL_TAG_PREFIX = "sparkstack-credential:"


def expiry_tags(record: Expiry) -> list[str]:
    deadline = "none" if record.deadline is None else str(record.deadline)
    return [
        f"{EXPIRY_TAG_PREFIX}{deadline}",
        f"{CREDENTIAL_TAG_PREFIX}{record.credential_id}:{record.credential_expires}",
    ]


def expiry_from_tags(tags: list[str]) -> Expiry | None:
    """The record :func:`expiry_tags` wrote, if there is a well-formed one."""
    deadline = next(
        (t[len(EXPIRY_TAG_PREFIX) :] for t in tags if t.startswith(EXPIRY_TAG_PREFIX)), None
    )
    credential = next(
        (t[len(CREDENTIAL_TAG_PREFIX) :] for t in tags if t.startswith(CREDENTIAL_TAG_PREFIX)), ""
    )
    ident, _, expires = credential.partition(":")
    if deadline is None or not (deadline == "none" or deadline.isdigit()) or not expires.isdigit():
        return None
    return Expiry(None if deadline == "none" else int(deadline), ident, int(expires))


def without_expiry(tags: list[str]) -> list[str]:
    return [t for t in tags if not t.startswith((EXPIRY_TAG_PREFIX, CREDENTIAL_TAG_PREFIX))]


# ---- members: which nodes a cluster is meant to have, kept in its security group's tags -------

MEMBERS_TAG_PREFIX = "sparkstack-nodes:"
#: Neutron's limit on one tag.
_TAG_MAX = 255


@dataclass(frozen=True)
class GroupMembers:
    """The indexes a group is meant to have, and the index its next node gets."""

    indexes: tuple[int, ...]
    next_index: int


def _ranges(indexes: list[int]) -> list[str]:
    """``[1, 2, 3, 5]`` -> ``["1-3", "5"]``."""
    spans: list[list[int]] = []
    for i in sorted(set(indexes)):
        if spans and spans[-1][1] == i - 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return [str(low) if low == high else f"{low}-{high}" for low, high in spans]


def members_tags(members: dict[str, GroupMembers]) -> list[str]:
    """Tags recording ``members``; a group with many gaps spreads over several tags."""
    tags = []
    for group, entry in members.items():
        head = f"{MEMBERS_TAG_PREFIX}{group}:{entry.next_index}:"
        chunk: list[str] = []
        for part in _ranges(list(entry.indexes)):
            if len(head) + len(",".join([*chunk, part])) > _TAG_MAX:
                tags.append(head + ",".join(chunk))
                chunk = []
            chunk.append(part)
        tags.append(head + ",".join(chunk))
    return tags


def members_from_tags(tags: list[str]) -> dict[str, GroupMembers]:
    """The members recorded by :func:`members_tags` (malformed tags are ignored)."""
    found: dict[str, tuple[set[int], int]] = {}
    for tag in tags:
        if not tag.startswith(MEMBERS_TAG_PREFIX):
            continue
        group, _, rest = tag[len(MEMBERS_TAG_PREFIX) :].partition(":")
        next_text, _, ranges = rest.partition(":")
        if not next_text.isdigit():
            continue
        indexes, highest = found.get(group, (set(), 0))
        for part in filter(None, ranges.split(",")):
            low, _, high = part.partition("-")
            if low.isdigit() and (high or low).isdigit():
                indexes.update(range(int(low), min(int(high or low), int(low) + 10_000) + 1))
        found[group] = (indexes, max(highest, int(next_text)))
    return {g: GroupMembers(tuple(sorted(i)), n) for g, (i, n) in found.items()}
