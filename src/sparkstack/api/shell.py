"""Working on the nodes by hand: run a command everywhere, copy a file everywhere, log in, and
a tunnel to a service's web UI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sparkstack import paths, validation
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.lookup import open_cluster
from sparkstack.cluster import Cluster, Role
from sparkstack.errors import NodeError, UsageError
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet, LineSink, Result, settle
from sparkstack.nodes.tunnel import forward_local
from sparkstack.services import pipeline
from sparkstack.services.base import Deployment, Host


@dataclass(frozen=True)
class Selection:
    """Which nodes a command or copy goes to: all, or those of some roles or groups."""

    roles: frozenset[Role] = frozenset()
    groups: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        """A group no cluster can have is refused here, before any network call."""
        for group in self.groups:
            try:
                validation.group_name(group)
            except ValueError as exc:
                raise UsageError(f"group {validation.shown(group)}: {exc}") from None

    def pick(self, cluster: Cluster) -> list[Host]:
        hosts = [
            h
            for h in hosts_of(cluster)
            if (not self.roles or h.node.roles & self.roles)
            and (not self.groups or h.node.group in self.groups)
        ]
        if not hosts:
            raise UsageError(f"cluster {cluster.name} has no running node of that kind")
        return hosts


def run_command_on(
    cluster: Cluster,
    access: SSHAccess,
    command: str,
    *,
    on: Selection = Selection(),
    on_line: LineSink | None = None,
) -> dict[str, Result | NodeError]:
    """Run the shell command ``command`` on every selected node at once; result per node."""
    hosts = on.pick(cluster)

    async def go() -> dict[str, Result | NodeError]:
        async with Fleet(access) as fleet:
            sink = on_line or (lambda *_: None)
            return await settle(hosts, lambda h: fleet.run(h.target, command, on_line=sink))

    return _sync.run(go())


def copy_file_on(
    cluster: Cluster, access: SSHAccess, local: Path, remote: str, *, on: Selection = Selection()
) -> dict[str, NodeError | None]:
    """Copy one local file to ``remote`` on every selected node."""
    _check_copy(local, remote)
    hosts = on.pick(cluster)

    async def go() -> dict[str, NodeError | None]:
        async with Fleet(access) as fleet:
            return await settle(hosts, lambda h: fleet.put(h.target, local, remote))

    return _sync.run(go())


def _check_copy(local: Path, remote: str) -> None:
    if not local.is_file():
        raise UsageError(f"no file {local}")
    try:
        validation.remote_path(remote)
    except ValueError as exc:
        raise UsageError(f"remote path {validation.shown(remote)}: {exc}") from None


def _connect(name: str, cloud: str | None, trust_first: bool) -> tuple[Cluster, SSHAccess]:
    session, cluster = open_cluster(name, cloud)
    return cluster, ssh_access(session, cluster, trust_first=trust_first)


def run_command(
    name: str,
    command: str,
    *,
    cloud: str | None = None,
    on: Selection = Selection(),
    on_line: LineSink | None = None,
    trust_first_host_key: bool = False,
) -> dict[str, Result | NodeError]:
    """Run the shell command ``command`` on every selected node of cluster ``name`` at once."""
    validation.check_cluster_name(name)
    cluster, access = _connect(name, cloud, trust_first_host_key)
    return run_command_on(cluster, access, command, on=on, on_line=on_line)


def copy_file(
    name: str,
    local: Path,
    remote: str,
    *,
    cloud: str | None = None,
    on: Selection = Selection(),
    trust_first_host_key: bool = False,
) -> dict[str, NodeError | None]:
    """Copy one local file to ``remote`` on every selected node of cluster ``name``."""
    validation.check_cluster_name(name)
    _check_copy(local, remote)
    cluster, access = _connect(name, cloud, trust_first_host_key)
    return copy_file_on(cluster, access, local, remote, on=on)


def _ssh_config_value(value: str, what: str) -> str:
    """A path for ssh_config: one line, in double quotes (which it must not hold itself). ssh
    reads backslash escapes inside quotes and expands %tokens in paths, so both are escaped;
    it would expand ``${VAR}`` too, which has no escape, so that is refused."""
    try:
        validation.no_control(value, what)
    except ValueError as exc:
        raise NodeError(f"cannot write an ssh_config: {exc}") from None
    for bad in ('"', "${"):
        if bad in value:
            raise NodeError(
                f"cannot write an ssh_config: {what} {validation.shown(value)} has a '{bad}'"
            )
    return '"' + value.replace("\\", "\\\\").replace("%", "%%") + '"'


def login_command(
    name: str, cloud: str | None = None, *, trust_first_host_key: bool = False
) -> list[str]:
    """The system ``ssh`` command line for a shell on the master that leads.

    The system client gives a real terminal (resize, escapes, agent) for free. Its ``-F`` file
    holds the cluster's key and known_hosts with strict checking; the host key is pinned first
    by one asyncssh connection, so the system client never has to ask. Every value in that file
    is checked and quoted: the login user and addresses come from the cloud.
    """
    validation.check_cluster_name(name)
    cluster, access = _connect(name, cloud, trust_first_host_key)
    runner = pipeline.job_runner()

    async def leading() -> Host:
        """The master that leads now, its host key pinned (so the system ssh never asks)."""
        hosts = hosts_of(cluster)
        async with Fleet(access) as fleet:
            found = await runner.leader(Deployment(cluster.name, hosts, fleet))
            master = found or Selection(frozenset(runner.client_roles)).pick(cluster)[0]
            await fleet.connection(master.target)
            return master

    master = _sync.run(leading())
    lines = [
        f"Host {cluster.name}-login",
        f"  HostName {validation.ip_address(master.target.host)}",
        f"  User {master.target.user}",
        f"  IdentityFile {_ssh_config_value(str(access.key_path), 'the key path')}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {_ssh_config_value(str(access.host_keys.path), 'a path')}",
        "  StrictHostKeyChecking yes",
        "  GlobalKnownHostsFile /dev/null",
        "  ProxyCommand none",
        "  ProxyJump none",
    ]
    config = paths.cluster_dir(cluster.identity, cluster.name) / "ssh_config"
    config.write_text("\n".join(lines) + "\n")
    config.chmod(0o600)
    return ["ssh", "-F", str(config), f"{cluster.name}-login"]


@asynccontextmanager
async def ui_tunnel(
    cluster: Cluster,
    access: SSHAccess,
    *,
    service: str = "spark",
    which: str | None = None,
    local_port: int = 0,
) -> AsyncIterator[str]:
    """A local URL of a service's web UI (``which``: another of its UIs, e.g. Spark's
    ``history``), forwarded over SSH while the block runs."""
    kind, port = pipeline.web_ui(service, which)
    async with Fleet(access) as fleet:
        node = await kind.ui_host(Deployment(cluster.name, hosts_of(cluster), fleet), which)
        node = node or Selection(frozenset(kind.client_roles or kind.roles)).pick(cluster)[0]
        conn = await fleet.connection(node.target)
        async with forward_local(conn, node.ip, port, local_port) as bound:
            yield f"http://127.0.0.1:{bound}/"


def open_ui_tunnel(
    name: str,
    on_ready: Callable[[str], None],
    *,
    cloud: str | None = None,
    service: str = "spark",
    which: str | None = None,
    local_port: int = 0,
    trust_first_host_key: bool = False,
) -> None:
    """``ui NAME``: open the tunnel, ``on_ready(url)``, keep it until Ctrl-C."""
    validation.check_cluster_name(name)
    pipeline.web_ui(service, which)
    if not 0 <= local_port <= 65535:
        raise UsageError(f"--port {local_port}: a port is between 1 and 65535 (0: any free one)")
    cluster, access = _connect(name, cloud, trust_first_host_key)

    async def go() -> None:
        async with ui_tunnel(
            cluster, access, service=service, which=which, local_port=local_port
        ) as url:
            on_ready(url)
            await asyncio.Event().wait()

    _sync.run(go())
