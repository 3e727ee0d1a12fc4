"""What a cluster is once it exists: its nodes as read back from the cloud.

These types are shared by every layer: the cloud layer builds them from server tags and metadata,
the node layer reaches the addresses they name, the CLI renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """The part a node plays in the cluster."""

    MASTER = "master"
    WORKER = "worker"


@dataclass(frozen=True)
class Node:
    """One server of a cluster."""

    name: str
    role: Role
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


@dataclass(frozen=True)
class Cluster:
    """A sparkstack cluster found in the cloud by its tags."""

    name: str
    cloud: str
    ssh_user: str
    nodes: tuple[Node, ...]
    expected_masters: int = 1
    expected_workers: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def masters(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role is Role.MASTER)

    @property
    def workers(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.role is Role.WORKER)
