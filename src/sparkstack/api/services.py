"""Services on a cluster's nodes: deploy/configure Spark, submit jobs, node commands, UI tunnel.

These functions take a ``Cluster`` (read back from the cloud) and turn it into SSH targets:
masters at their floating IP (their fixed IP when the cluster has none, i.e. the client sits in
the tenant network), workers at their fixed IP through the first master. The SSH key and the
host keys printed on the servers' consoles come from the cloud layer unless ``access`` is given
(tests on standalone SSH hosts pass their own).
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sparkstack import paths
from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import NodeError, UsageError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet, LineSink, Result, each, settle
from sparkstack.nodes.tunnel import forward_local
from sparkstack.services.base import Deployment, Host
from sparkstack.services.download import Artifact, fetch, local_artifact
from sparkstack.services.prepare import prepare_nodes
from sparkstack.services.spark import (
    MASTER_UI_PORT,
    SPARK_LINK,
    SparkStandalone,
    alive_workers,
    default_url,
)
from sparkstack.spec import ClusterSpec, SparkSpec

T = TypeVar("T")

#: Where an application is uploaded on the master (relative to the SSH user's home).
APPS_DIR = "sparkstack-apps"


@dataclass(frozen=True)
class DeployReport:
    """What a deploy did: which nodes changed, how long, how much came from the Spark source."""

    master_url: str
    changed: list[str]
    seconds: float
    fetched_bytes: int
    connections: dict[str, int] = field(default_factory=dict)


# ---- targets and access -------------------------------------------------------------------


def hosts_of(cluster: Cluster) -> list[Host]:
    """Every node with a fixed IP, as SSH reaches it from this client."""
    masters = [n for n in cluster.masters if n.fixed_ip]
    if not masters:
        raise NodeError(f"cluster {cluster.name} has no master with an address; is it ACTIVE?")
    first = _target(cluster, masters[0], None)
    jump = first if masters[0].floating_ip else None
    hosts = [Host(masters[0], first)]
    hosts += [Host(n, _target(cluster, n, None)) for n in masters[1:]]
    hosts += [Host(n, _target(cluster, n, jump)) for n in cluster.workers if n.fixed_ip]
    return hosts


def _target(cluster: Cluster, node: Node, via: Target | None) -> Target:
    address = node.fixed_ip if via else node.address
    assert address is not None
    return Target(node.name, address, cluster.ssh_user, via=via)


def known_hosts_path(cluster: Cluster) -> Path:
    return paths.cluster_dir(cluster.cloud, cluster.name) / "known_hosts"


def cloud_access(cluster: Cluster) -> SSHAccess:
    """The cluster's key, and its known_hosts checked against the console logs of new hosts."""
    from sparkstack.api.clusters import cluster_key_path, console_host_keys

    store = HostKeyStore(known_hosts_path(cluster))
    new = [host for host in hosts_of(cluster) if not store.pinned(host.target.host)]
    keys = console_host_keys(cluster, [host.node for host in new])
    expected = {host.target.host: keys[host.node.server_id] for host in new}
    return SSHAccess(cluster_key_path(cluster), HostKeyStore(store.path, expected))


def spark_secret(cluster: Cluster) -> str:
    """The cluster's ``spark.authenticate`` secret, made once, kept 0600 in its data dir."""
    path = paths.cluster_dir(cluster.cloud, cluster.name) / "spark-secret"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def spark_artifact(spark: SparkSpec, report: Reporter = silent) -> Artifact:
    """The verified tarball in the local cache (downloaded at most once), or the user's file."""
    if spark.tarball is not None:
        return local_artifact(spark.tarball, spark.sha512)
    url = spark.url or default_url(spark.version, spark.hadoop)
    return fetch(url, spark.sha512, paths.cache_dir() / "downloads", report)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# ---- deploy / configure -------------------------------------------------------------------


def deploy_services(
    cluster: Cluster,
    spec: ClusterSpec,
    report: Reporter = silent,
    *,
    access: SSHAccess | None = None,
    health_timeout: float = 300.0,
) -> DeployReport:
    """Install, configure and start Spark on the cluster and wait until every worker is ALIVE.

    Idempotent: a second run with the same spec writes nothing and restarts nothing.
    """
    started = time.monotonic()
    artifact = spark_artifact(spec.spark, report)  # verified before any node is touched
    service = SparkStandalone(spec.spark, artifact, spark_secret(cluster))
    access = access or cloud_access(cluster)

    async def go() -> DeployReport:
        async with Fleet(access) as fleet:
            dep = Deployment(cluster, hosts_of(cluster), fleet, report)
            with Phase(report, "ssh", total=len(dep.hosts), text="SSH to nodes") as phase:

                async def reach(host: Host) -> None:
                    await fleet.connection(host.target)
                    phase.advance(host.name)

                await each(dep.hosts, reach)
            await prepare_nodes(dep, {"spark": SPARK_LINK})
            await service.install(dep)
            changed = await service.configure(dep)
            await service.start(dep, changed)
            await service.health(dep, health_timeout)
            url = service.defaults_conf(dep)["spark.master"]
            return DeployReport(
                url,
                sorted(changed),
                time.monotonic() - started,
                artifact.fetched_bytes,
                dict(fleet.connections_opened),
            )

    return _run(go())


def configure_cluster(
    name: str, spec: ClusterSpec, cloud: str | None = None, report: Reporter = silent
) -> DeployReport:
    """``configure NAME``: the Spark phase of ``launch`` again, on a running cluster."""
    from sparkstack.api.clusters import find_cluster

    return deploy_services(find_cluster(name, cloud), spec, report)


# ---- status -------------------------------------------------------------------------------


def spark_status(cluster: Cluster, *, access: SSHAccess | None = None) -> dict[str, Any]:
    """For describe: master URL, live workers, cores, memory and running applications."""
    hosts = hosts_of(cluster)

    async def go() -> dict[str, Any]:
        async with Fleet(_access(cluster, access)) as fleet:
            dep = Deployment(cluster, hosts, fleet)
            service = SparkStandalone(SparkSpec(), Artifact(Path(), ""), "")
            status = await service.leader_status(dep)
        if status is None:
            return {"master_url": None, "status": "down"}
        return {
            "master_url": status.get("url"),
            "status": status.get("status"),
            "alive_workers": len(alive_workers(status)),
            "expected_workers": len(cluster.workers),
            "cores": status.get("cores"),
            "cores_used": status.get("coresused"),
            "memory_mb": status.get("memory"),
            "memory_used_mb": status.get("memoryused"),
            "running_apps": [
                {"id": a.get("id"), "name": a.get("name"), "cores": a.get("cores")}
                for a in status.get("activeapps", [])
            ],
        }

    return _run(go())


def _access(cluster: Cluster, access: SSHAccess | None) -> SSHAccess:
    return access or cloud_access(cluster)


# ---- submit, commands, files --------------------------------------------------------------


def submit(
    cluster: Cluster,
    app: Path,
    *,
    args: list[str] | None = None,
    main_class: str | None = None,
    py_files: list[Path] | None = None,
    on_line: LineSink | None = None,
    access: SSHAccess | None = None,
) -> int:
    """Upload ``app`` (and ``py_files``) to the first master, spark-submit it there (client
    mode, against the cluster), stream its output to ``on_line``; return its exit code."""
    for path in [app, *(py_files or [])]:
        if not path.is_file():
            raise UsageError(f"no file {path}; give the path of your application")
    if app.suffix == ".jar" and not main_class:
        raise UsageError(f"{app.name} is a jar: give its main class with --class")
    master = hosts_of(cluster)[0]

    async def go() -> int:
        async with Fleet(_access(cluster, access)) as fleet:
            await fleet.run(master.target, f"mkdir -p {APPS_DIR}")
            uploads = [app, *(py_files or [])]
            await asyncio.gather(
                *(fleet.put(master.target, p, f"{APPS_DIR}/{p.name}") for p in uploads)
            )
            command = [f"{SPARK_LINK}/bin/spark-submit"]
            if main_class:
                command += ["--class", main_class]
            if py_files:
                command += ["--py-files", ",".join(f"{APPS_DIR}/{p.name}" for p in py_files)]
            command += [f"{APPS_DIR}/{app.name}", *(args or [])]
            line = " ".join(shlex.quote(part) for part in command)
            result = await fleet.run(master.target, line, on_line=on_line or (lambda *_: None))
            return result.exit_status

    return _run(go())


def _pick(cluster: Cluster, role: Role | None) -> list[Host]:
    hosts = [h for h in hosts_of(cluster) if role is None or h.node.role is role]
    if not hosts:
        raise UsageError(f"cluster {cluster.name} has no {role.value if role else ''} nodes")
    return hosts


def run_command(
    cluster: Cluster,
    command: str,
    *,
    role: Role | None = None,
    on_line: LineSink | None = None,
    access: SSHAccess | None = None,
) -> dict[str, Result | NodeError]:
    """Run ``command`` on every node (or every node of ``role``) at once; result per node."""
    hosts = _pick(cluster, role)

    async def go() -> dict[str, Result | NodeError]:
        async with Fleet(_access(cluster, access)) as fleet:
            return await settle(
                hosts, lambda h: fleet.run(h.target, command, on_line=on_line or (lambda *_: None))
            )

    return _run(go())


def copy_file(
    cluster: Cluster,
    local: Path,
    remote: str,
    *,
    role: Role | None = None,
    access: SSHAccess | None = None,
) -> dict[str, NodeError | None]:
    """Copy one local file to ``remote`` on every node (or every node of ``role``)."""
    if not local.is_file():
        raise UsageError(f"no file {local}")
    hosts = _pick(cluster, role)

    async def go() -> dict[str, NodeError | None]:
        async with Fleet(_access(cluster, access)) as fleet:
            return await settle(hosts, lambda h: fleet.put(h.target, local, remote))

    return _run(go())


# ---- login and UI -------------------------------------------------------------------------


def login_command(cluster: Cluster, *, access: SSHAccess | None = None) -> list[str]:
    """The system ``ssh`` command line for a shell on the first master.

    The system client gives a real terminal (resize, escapes, agent) for free. Its ``-F`` file
    holds the cluster's key and known_hosts with strict checking; the host key is pinned first
    by one asyncssh connection, so the system client never has to ask.
    """
    access = _access(cluster, access)
    master = hosts_of(cluster)[0]

    async def pin() -> None:
        async with Fleet(access) as fleet:
            await fleet.connection(master.target)

    _run(pin())
    config = paths.cluster_dir(cluster.cloud, cluster.name) / "ssh_config"
    config.write_text(
        f"Host {master.name}\n"
        f"  HostName {master.target.host}\n"
        f"  User {master.target.user}\n"
        f"  IdentityFile {access.key_path}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {access.host_keys.path}\n"
        "  StrictHostKeyChecking yes\n"
        "  GlobalKnownHostsFile /dev/null\n"
    )
    config.chmod(0o600)
    return ["ssh", "-F", str(config), master.name]


@asynccontextmanager
async def ui_tunnel(
    cluster: Cluster, *, local_port: int = 0, access: SSHAccess | None = None
) -> AsyncIterator[str]:
    """A local URL of the master's web UI, forwarded over SSH while the block runs."""
    master = hosts_of(cluster)[0]
    async with Fleet(_access(cluster, access)) as fleet:
        conn = await fleet.connection(master.target)
        async with forward_local(conn, master.ip, MASTER_UI_PORT, local_port) as port:
            yield f"http://127.0.0.1:{port}/"


def open_ui_tunnel(
    cluster: Cluster,
    on_ready: Callable[[str], None],
    *,
    local_port: int = 0,
    access: SSHAccess | None = None,
) -> None:
    """``ui NAME``: open the tunnel, ``on_ready(url)``, keep it until Ctrl-C."""

    async def go() -> None:
        async with ui_tunnel(cluster, local_port=local_port, access=access) as url:
            on_ready(url)
            await asyncio.Event().wait()

    _run(go())
