"""``submit``: run an application on the cluster from a master.

The application (and its extra Python files) is uploaded under ``~/sparkstack-apps`` on the
master the service that runs jobs picks (Spark: a standby when there are several, so that the
leader's loss loses no job; the leader otherwise) and run there in client mode against the
cluster, its output streamed back line by line. The job stops when the client goes (Ctrl-C, a
dropped connection): it runs attached to the SSH session's input.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

from sparkstack import validation
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, hosts_with, ssh_access
from sparkstack.api.lookup import open_cluster
from sparkstack.cluster import Cluster
from sparkstack.errors import Interrupted, NodeError, UsageError
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet, LineSink, attached
from sparkstack.services import pipeline
from sparkstack.services.base import Deployment

#: Where an application is uploaded on the master (relative to the login user's home).
APPS_DIR = "sparkstack-apps"


def check_app(app: Path, main_class: str | None, py_files: list[Path]) -> None:
    """Everything about the job that can be checked before any network call."""
    for path in [app, *py_files]:
        if not path.is_file():
            raise UsageError(f"no file {path}; give the path of your application")
        try:
            validation.no_control(path.name, "a file name")
        except ValueError as exc:
            raise UsageError(f"{validation.shown(path.name)}: {exc}") from None
    if app.suffix == ".jar" and not main_class:
        raise UsageError(f"{app.name} is a jar: give its main class with --class")
    if main_class is not None:
        try:
            validation.no_control(main_class, "a class name")
        except ValueError as exc:
            raise UsageError(f"--class {validation.shown(main_class)}: {exc}") from None


async def _submit(
    cluster: Cluster,
    access: SSHAccess,
    app: Path,
    args: list[str],
    main_class: str | None,
    py_files: list[Path],
    on_line: LineSink,
) -> int:
    runner = pipeline.job_runner()
    hosts = hosts_of(cluster)
    masters = hosts_with(hosts, set(runner.client_roles))
    if not masters:
        roles = ", ".join(sorted(r.value for r in runner.client_roles))
        raise NodeError(f"cluster {cluster.name} has no running {roles} to run the job on")
    remote = [f"{APPS_DIR}/{p.name}" for p in py_files]
    argv = runner.job_argv(f"{APPS_DIR}/{app.name}", args, main_class, remote)
    async with Fleet(access) as fleet:
        master = await runner.job_node(Deployment(cluster.name, hosts, fleet)) or masters[0]
        made = await fleet.run(master.target, f"mkdir -p {shlex.quote(APPS_DIR)}")
        if not made.ok:  # else the copy below fails with a puzzling "no such file"
            raise NodeError(
                f"cannot make ~/{APPS_DIR} on {master.name} for the job: {made.tail(3)}"
            )
        await asyncio.gather(
            *(fleet.put(master.target, p, f"{APPS_DIR}/{p.name}") for p in [app, *py_files])
        )
        result = await fleet.run(master.target, attached(argv), on_line=on_line)
        return result.exit_status


def submit_on(
    cluster: Cluster,
    access: SSHAccess,
    app: Path,
    *,
    args: list[str] | None = None,
    main_class: str | None = None,
    py_files: list[Path] | None = None,
    on_line: LineSink | None = None,
) -> int:
    """:func:`submit` on a cluster already found, with the given SSH access."""
    check_app(app, main_class, py_files or [])
    job = _submit(
        cluster, access, app, args or [], main_class, py_files or [], on_line or (lambda *_: None)
    )
    try:
        return _sync.run(job)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; the job was stopped on the cluster") from None


def submit(
    name: str,
    app: Path,
    *,
    cloud: str | None = None,
    args: list[str] | None = None,
    main_class: str | None = None,
    py_files: list[Path] | None = None,
    on_line: LineSink | None = None,
    trust_first_host_key: bool = False,
) -> int:
    """Upload ``app`` (and ``py_files``) to a master, spark-submit it there (client
    mode, against the cluster), stream its output to ``on_line``; return its exit code."""
    validation.check_cluster_name(name)
    check_app(app, main_class, py_files or [])
    session, cluster = open_cluster(name, cloud)
    access = ssh_access(session, cluster, trust_first=trust_first_host_key)
    return submit_on(
        cluster, access, app, args=args, main_class=main_class, py_files=py_files, on_line=on_line
    )
