"""The shape every service has (Spark today; ZooKeeper and HDFS next) and what they share.

A service declares, before anything runs: the roles it gives a meaning to, which of them a
client reaches (they get floating IPs; submit, ui and login go there), the services it depends
on, the artifacts it installs (resolved in preflight), the ports its roles listen on (the
security group opens them between members only) and the secrets it needs. Then it goes through
the same steps on the nodes that host its roles: install, configure (returns the nodes whose
files changed), start (restarts only those), health; ``status`` reads it for describe, and
``outputs`` publishes what services after it need (a master URL, a quorum, ``fs.defaultFS``).

A service is configured over SSH only (sparkstack.nodes), whatever the cloud.
"""

from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jinja2

from sparkstack.cluster import Node, Role
from sparkstack.errors import ServiceError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.nodes.connection import Target
from sparkstack.nodes.files import FileSpec, write_files
from sparkstack.nodes.runner import Fleet, each
from sparkstack.services.artifacts import Artifact, ArtifactSource
from sparkstack.spec import ClusterSpec
from sparkstack.templating import environment

#: Below this RAM a node is "small": its JVMs get serial GC, C1 only, a small code cache and
#: stacks. Measured on the test bed: a Spark worker JVM idles at ~170 MiB with these and a 128m
#: heap, ~235 MiB with the defaults.
SMALL_NODE_MB = 4096
SMALL_JVM_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=32m -Xss512k"


@dataclass(frozen=True)
class Port:
    """TCP ports ``first``..``last`` a service listens on, on nodes of ``role``."""

    first: int
    last: int
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

    def has(self, role: Role) -> bool:
        return self.node.has(role)


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
    """Everything a service step needs: the nodes and their connections, what preparation found,
    the resolved artifacts, the cluster's secrets, earlier services' outputs, where to report."""

    cluster: str
    hosts: list[Host]
    fleet: Fleet
    report: Reporter = silent
    facts: dict[str, NodeFacts] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    #: The nodes this deploy acts on (None: all); the others are only read, e.g. when workers
    #: join a running cluster, so that the cost of an add does not grow with the cluster.
    scope: frozenset[str] | None = None
    #: What the caller made for particular services, by service name (the reaper's cloud
    #: credential): never recorded in the cluster's state, never in outputs.
    given: Mapping[str, object] = field(default_factory=dict)

    def acting(self, hosts: list[Host]) -> list[Host]:
        """Those of ``hosts`` this deploy may change."""
        return [h for h in hosts if self.scope is None or h.name in self.scope]

    def with_role(self, role: Role) -> list[Host]:
        return [h for h in self.hosts if h.has(role)]

    def first_with(self, role: Role, missing: str) -> Host:
        """The first node with ``role``; a ServiceError saying ``missing`` when none has it."""
        found = self.with_role(role)
        if not found:
            raise ServiceError(missing)
        return found[0]

    @property
    def entry(self) -> Host:
        """The node the client reaches first (the jump host): artifacts are staged there."""
        return self.hosts[0]

    def artifact(self, name: str) -> Artifact:
        try:
            return self.artifacts[name]
        except KeyError:
            raise ServiceError(f"artifact {name} was not resolved before the deploy") from None

    async def write_files(
        self,
        host: Host,
        files: Mapping[str, FileSpec],
        dirs: Mapping[str, tuple[str, int]] | None = None,
    ) -> set[str]:
        """Have ``files`` on ``host`` (written only where they differ); the paths written."""
        return await write_files(self.fleet, host.target, files, dirs)


@dataclass(frozen=True)
class ServiceStatus:
    """A service as describe shows it: ``state`` is healthy, degraded, down or unreachable."""

    service: str
    state: str
    summary: str
    problems: list[str] = field(default_factory=list)


class Service(ABC):
    """One service on a cluster, e.g. Spark standalone; built from the cluster's spec."""

    name: ClassVar[str]
    #: The roles this service gives a meaning to.
    roles: ClassVar[tuple[Role, ...]]
    #: Roles a client reaches: they get floating IPs; submit, ui and login go there.
    client_roles: ClassVar[tuple[Role, ...]] = ()
    #: Symlinks to the installed software ({fact name: path}): node preparation reports where
    #: they point, so install can tell what is there already without another round trip.
    installed_links: ClassVar[dict[str, str]] = {}
    #: The section of the cluster file that holds this service's settings (``configure`` may
    #: change it; the rest of a cluster's spec stays as launched).
    settings_key: ClassVar[str]
    #: Whether ``submit`` runs applications through this service (see :meth:`job_argv`).
    runs_jobs: ClassVar[bool] = False
    #: The port of the web UI ``ui`` tunnels to, on the node :meth:`leader` names.
    web_ui_port: ClassVar[int | None] = None
    #: Other web UIs ({name: port}), on the node :meth:`ui_host` names for each.
    web_uis: ClassVar[dict[str, int]] = {}

    def __init__(self, spec: ClusterSpec):
        self.spec = spec

    @classmethod
    def carry_over(cls, launched: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any] | None:
        """The settings ``configure`` applies when the user asks for ``wanted`` on a cluster
        launched with ``launched`` (both as JSON; None: unset); by default, ``wanted``."""
        return wanted

    @classmethod
    def wanted(cls, spec: ClusterSpec) -> bool:
        """True when some group of ``spec`` hosts one of this service's roles."""
        return any(spec.count(role) for role in cls.roles)

    def depends_on(self) -> tuple[str, ...]:
        """Names of services that must be running before this one starts."""
        return ()

    def artifacts(self) -> list[ArtifactSource]:
        """Software to install, resolved (and checked) in preflight."""
        return []

    def secrets(self) -> tuple[str, ...]:
        """Names of per-cluster secrets this service needs (made once, kept on the cluster)."""
        return ()

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
    async def stop(self, dep: Deployment) -> None:
        """Stop the service's daemons cleanly (before its servers are stopped)."""

    @abstractmethod
    async def health(self, dep: Deployment, timeout: float) -> None:
        """Wait until the service is healthy on every node, or raise ServiceError saying why."""

    @abstractmethod
    async def status(self, dep: Deployment) -> ServiceStatus:
        """The service's state for describe; never raises for a broken cluster."""

    def outputs(self, dep: Deployment) -> dict[str, str]:
        """What later services need from this one (e.g. ``spark.master_url``)."""
        return {}

    async def busy(self, dep: Deployment, hosts: list[Host]) -> set[str]:
        """Those of ``hosts`` doing work for this service now (remove-workers takes the
        others first); by default none."""
        return set()

    async def admit(self, dep: Deployment, joining: list[Host]) -> None:
        """Let new nodes take part (before they are deployed); by default nothing to do."""
        return None

    async def check_leaving(self, dep: Deployment, leaving: list[Host]) -> None:
        """Raise ServiceError, with the numbers, when ``leaving`` cannot go without a loss;
        changes nothing. By default any node may go."""
        return None

    async def retire(self, dep: Deployment, leaving: list[Host], timeout: float) -> None:
        """Move the service's work and data off ``leaving`` and stop its daemons there, before
        their servers are deleted; by default nothing to move."""
        return None

    @classmethod
    async def leader(cls, dep: Deployment) -> Host | None:
        """The node of ``client_roles`` that a client should go to now (submit, ui, login):
        by default the first; a service with a leader election says who leads."""
        return next((h for h in dep.hosts if set(cls.client_roles) & h.node.roles), None)

    @classmethod
    async def ui_host(cls, dep: Deployment, which: str | None = None) -> Host | None:
        """Where the web UI ``which`` (None: the main one) runs: by default the leader."""
        return await cls.leader(dep)

    @classmethod
    async def job_node(cls, dep: Deployment) -> Host | None:
        """Where ``submit`` runs a job's driver: by default where :meth:`leader` says."""
        return await cls.leader(dep)

    @classmethod
    def job_argv(
        cls, app: str, args: list[str], main_class: str | None, py_files: list[str]
    ) -> list[str]:
        """The command that runs an application on a node of ``client_roles`` (``submit``);
        only services with ``runs_jobs`` have one."""
        raise NotImplementedError(f"{cls.name} does not run jobs")


async def write_each(
    dep: Deployment,
    hosts: list[Host],
    label: str,
    files: Callable[[Host], dict[str, FileSpec]],
    dirs: Callable[[Host], Mapping[str, tuple[str, int]]],
    unread: frozenset[str] = frozenset(),
) -> set[str]:
    """Have each host's files (written only where they differ), a progress line per host;
    return the hosts where a file a daemon reads changed (``unread`` ones, such as a login
    profile, restart nothing)."""
    changed: set[str] = set()
    with Phase(dep.report, "configure", total=len(hosts), text=f"configure {label}") as phase:

        async def one(host: Host) -> None:
            if await dep.write_files(host, files(host), dirs(host)) - unread:
                changed.add(host.name)
            phase.advance(f"{host.name}: {'changed' if host.name in changed else 'unchanged'}")

        await each(hosts, one)
    return changed


async def control(dep: Deployment, host: Host, script: str, what: str, *args: str) -> str:
    """Run a daemon's control script on ``host`` with ``args`` (each quoted); when it fails,
    a ServiceError naming ``what`` with the last lines it printed (its log, for a start)."""
    words = " ".join(shlex.quote(a) for a in args)
    result = await dep.fleet.run(host.target, f"bash {shlex.quote(script)} {words}")
    if not result.ok:
        action = args[0] if args else "run"
        raise ServiceError(
            f"{host.name}: the {what} failed ({action}); its output ends with:\n"
            + indent(result.stdout)
        )
    return result.stdout.strip()


def indent(text: str) -> str:
    """``text`` indented, for the log lines inside an error message."""
    return "\n".join("    " + line for line in text.strip().splitlines())


def template(name: str) -> jinja2.Template:
    """A template from services/templates."""
    return environment("sparkstack.services").get_template(name)
