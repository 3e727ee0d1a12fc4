"""What a cluster is once it exists: its nodes as read back from the cloud.

These types are shared by every layer: the cloud layer builds them from server tags and metadata,
the node layer reaches the addresses they name, the services give the roles a meaning, the CLI
renders them. Nothing here knows what a role does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """A part a node plays for one service; a node group hosts one or more roles."""

    SPARK_MASTER = "spark-master"
    SPARK_WORKER = "spark-worker"
    ZOOKEEPER = "zookeeper"
    HDFS_NAMENODE = "hdfs-namenode"
    HDFS_DATANODE = "hdfs-datanode"


@dataclass(frozen=True)
class Node:
    """One server of a cluster."""

    name: str
    group: str
    roles: frozenset[Role]
    index: int
    server_id: str
    status: str
    flavor: str
    vcpus: int
    ram_mb: int
    fixed_ip: str | None = None
    floating_ip: str | None = None
    created: datetime | None = None
    fault: str | None = None

    @property
    def address(self) -> str | None:
        """The address a client outside the tenant network uses, if any."""
        return self.floating_ip or self.fixed_ip

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Expiry:
    """Scheduled deletion as the cloud records it: when the max age runs out (None: idle
    timeout only), and the reaper's credential, its id and when it expires (epoch seconds)."""

    deadline: int | None
    credential_id: str
    credential_expires: int


@dataclass(frozen=True)
class Cluster:
    """A sparkstack cluster found in the cloud by its tags.

    ``cloud`` is the name the client used for the cloud (for messages); ``identity`` names the
    cloud and project whatever the client called it (where the cluster's local files live).
    ``expected`` is which node indexes each group is meant to have, as recorded at launch;
    ``launch_state`` is ``launching`` until a launch has finished, then ``ready``.
    """

    name: str
    cloud: str
    identity: str
    ssh_user: str
    nodes: tuple[Node, ...]
    expected: dict[str, tuple[int, ...]] = field(default_factory=dict)
    launch_state: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    #: Set when the cluster deletes (or stops) itself on a schedule.
    expiry: Expiry | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        """Group names, those of the first nodes first."""
        names = [n.group for n in self.nodes] + list(self.expected)
        return tuple(dict.fromkeys(g for g in names if g))

    def lost(self) -> list[str]:
        """Names of nodes the cluster is meant to have that the cloud no longer has."""
        present = {(n.group, n.index) for n in self.nodes}
        return [
            f"{self.name}-{group}-{index}"
            for group, indexes in self.expected.items()
            for index in indexes
            if (group, index) not in present
        ]

    def with_role(self, role: Role) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.has(role))

    def in_group(self, group: str) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.group == group)
