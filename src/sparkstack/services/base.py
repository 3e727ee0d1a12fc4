"""The uniform shape of a service (Spark today; ZooKeeper and HDFS later) and what they share.

A service says which ports it listens on (so the security group can open them between members),
and goes through the same four steps on a cluster's nodes: install, configure, start, health.
Configuring returns the nodes whose files changed, so ``start`` restarts only those: running
``configure`` twice changes nothing the second time.
"""

from __future__ import annotations

import json
import shlex
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2

from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import ServiceError
from sparkstack.events import Reporter, silent
from sparkstack.nodes.connection import Target
from sparkstack.nodes.runner import Fleet
from sparkstack.templating import environment


@dataclass(frozen=True)
class Port:
    """A TCP port a service listens on, on nodes of ``role`` (None: every node)."""

    number: int
    purpose: str
    role: Role | None = None


@dataclass(frozen=True)
class Host:
    """A node of the cluster and how SSH reaches it."""

    node: Node
    target: Target

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def ip(self) -> str:
        """The private address the services bind to and advertise."""
        if not self.node.fixed_ip:
            raise ServiceError(f"{self.node.name} has no fixed IP; is the server ACTIVE?")
        return self.node.fixed_ip


@dataclass(frozen=True)
class NodeFacts:
    """What node preparation found on one node."""

    values: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def systemd(self) -> bool:
        return self.values.get("systemd") == "1"


@dataclass
class Deployment:
    """Everything a service step needs: the nodes, their connections, facts, and where to report."""

    cluster: Cluster
    hosts: list[Host]
    fleet: Fleet
    report: Reporter = silent
    facts: dict[str, NodeFacts] = field(default_factory=dict)

    @property
    def masters(self) -> list[Host]:
        return [h for h in self.hosts if h.node.role is Role.MASTER]

    @property
    def workers(self) -> list[Host]:
        return [h for h in self.hosts if h.node.role is Role.WORKER]

    async def write_files(
        self,
        host: Host,
        files: Mapping[str, tuple[str, int, str]],
        dirs: Mapping[str, str] | None = None,
    ) -> set[str]:
        """Write {path: (content, mode, owner)} on ``host`` where different; the changed paths.

        ``dirs`` ({path: owner}) are created first and given to their owner (logs, pid files).
        """
        payload = {
            "dirs": dict(dirs or {}),
            "files": {p: {"content": c, "mode": m, "owner": o} for p, (c, m, o) in files.items()},
        }
        script = shlex.quote(template("write_files.py.j2").render())
        result = await self.fleet.run(
            host.target, f"{sudo(host)} python3 -c {script}", input=json.dumps(payload)
        )
        if not result.ok:
            raise ServiceError(f"{host.name}: cannot write configuration files: {result.tail()}")
        return {
            line.split(" ", 1)[1] for line in result.stdout.splitlines() if line[:8] == "CHANGED "
        }


class Service(ABC):
    """One service on a cluster, e.g. Spark standalone."""

    name: str

    @abstractmethod
    def ports(self) -> list[Port]:
        """Ports that cluster members must reach on each other."""

    @abstractmethod
    async def install(self, dep: Deployment) -> None:
        """Put the service's software on every node that lacks this version."""

    @abstractmethod
    async def configure(self, dep: Deployment) -> set[str]:
        """Render and write the configuration; return the names of nodes where it changed."""

    @abstractmethod
    async def start(self, dep: Deployment, changed: set[str]) -> None:
        """Start stopped daemons and restart those of ``changed`` nodes."""

    @abstractmethod
    async def health(self, dep: Deployment, timeout: float) -> None:
        """Wait until the service is healthy on every node, or raise ServiceError saying why."""


def sudo(host: Host) -> str:
    """Prefix for a root command: nothing for root, else non-interactive sudo."""
    return "" if host.target.user == "root" else "sudo -n"


def template(name: str) -> jinja2.Template:
    """A template from services/templates."""
    return environment("sparkstack.services").get_template(name)
