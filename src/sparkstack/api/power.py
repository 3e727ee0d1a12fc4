"""``stop`` and ``start``: a cluster's servers off while it is not used, and on again.

stop first stops the services' daemons cleanly over SSH (in reverse dependency order, from the
manifest the masters keep), then the servers (nova stop, or shelve: the cloud may then free the
host's resources). That first part is best effort: nodes that cannot be reached are said so in
a warning and their servers are stopped anyway. start boots the servers, then re-applies the
manifest as ``configure`` does with no file or flags: the daemons start again and start returns
once the services are healthy. The servers keep their disks, addresses and floating IPs.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass

from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.deploy import DeployReport, read_cluster_state
from sparkstack.api.lifecycle import cluster_state, configure, report_warning
from sparkstack.api.lookup import open_cluster
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.power import PowerChange, start_servers, stop_servers
from sparkstack.cluster import Cluster
from sparkstack.errors import Interrupted, SparkstackError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet
from sparkstack.services import pipeline
from sparkstack.services.base import Deployment
from sparkstack.validation import check_cluster_name

#: stop does not wait long for a node that does not answer SSH: its server is stopped anyway.
STOP_SSH_TIMEOUT = 30.0


@dataclass(frozen=True)
class StopReport:
    """What a stop did: the servers it stopped (or shelved), those already stopped, whether
    the services' daemons were stopped cleanly first (if not, ``warning`` says why)."""

    name: str
    cloud: str
    stopped: list[str]
    already_stopped: list[str]
    shelved: bool
    services_stopped: bool
    warning: str
    seconds: float


@dataclass(frozen=True)
class StartReport:
    """What a start did: the servers it started, those already running, and the re-applied
    manifest (``deploy.outputs`` has e.g. ``spark.master_url``)."""

    name: str
    cloud: str
    started: list[str]
    already_running: list[str]
    deploy: DeployReport
    seconds: float


async def _stop_daemons(cluster: Cluster, access: SSHAccess, report: Reporter) -> None:
    hosts = hosts_of(cluster)
    async with Fleet(access) as fleet:
        state = await read_cluster_state(fleet, hosts)
        services = pipeline.services_for(state.manifest.cluster_spec())
        with Phase(report, "services", text="stopping the daemons") as phase:
            await pipeline.stop(Deployment(cluster.name, hosts, fleet, report), services)
            phase.advance(", ".join(s.name for s in services) + " stopped")


def _stop_services(session: Cloud, cluster: Cluster, trust_first: bool, report: Reporter) -> str:
    """Stop the daemons of the running nodes; return why that could not be done ("": it was)."""
    try:
        access = ssh_access(
            session, cluster, trust_first=trust_first, ready_timeout=STOP_SSH_TIMEOUT
        )
        _sync.run(_stop_daemons(cluster, access, report))
    except SparkstackError as exc:
        return str(exc)
    return ""


def stop(
    name: str,
    cloud: str | None = None,
    *,
    shelve: bool = False,
    trust_first_host_key: bool = False,
    report: Reporter = silent,
) -> StopReport:
    """Stop the daemons of cluster ``name`` cleanly, then its servers (``shelve``: shelve
    them); idempotent: an already stopped cluster is left as it is."""
    check_cluster_name(name)
    started = time.monotonic()
    session, cluster = open_cluster(name, cloud)
    again = f"`sparkstack stop {name}{' --shelve' if shelve else ''}`"
    label, verb = ("SHELVED", "shelving") if shelve else ("SHUTOFF", "stopping")
    count = len(cluster.nodes)
    servers = Phase(report, "servers", total=count, text=f"{verb} the servers")
    warning = ""
    try:
        with ExitStack() as phases:

            def daemons_first() -> None:
                """Once the cloud has checked the servers: the daemons, then the servers."""
                nonlocal warning
                if cluster_state(cluster) != "stopped":
                    warning = _stop_services(session, cluster, trust_first_host_key, report)
                if warning:
                    why = f"the services were not stopped cleanly ({warning}); stopping the servers"
                    report_warning(report, why + " anyway")
                phases.enter_context(servers)

            change = stop_servers(
                session,
                name,
                shelve=shelve,
                before=daemons_first,
                on_progress=lambda done, _s: servers.set_progress(done, f"{done}/{count} {label}"),
            )
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; run {again} again") from None
    return StopReport(
        name,
        cluster.cloud,
        change.changed,
        change.unchanged,
        shelve,
        not warning,
        warning,
        time.monotonic() - started,
    )


def start(
    name: str,
    cloud: str | None = None,
    *,
    trust_first_host_key: bool = False,
    health_timeout: float = 300.0,
    report: Reporter = silent,
) -> StartReport:
    """Start the servers of cluster ``name`` (unshelve shelved ones), then re-apply its
    manifest as ``configure`` does: returns once its services are healthy. Idempotent."""
    check_cluster_name(name)
    started = time.monotonic()
    session, cluster = open_cluster(name, cloud)
    again = f"interrupted; run `sparkstack start {name}` again"
    count = len(cluster.nodes)
    try:
        with Phase(report, "servers", total=count, text="starting the servers") as phase:
            change: PowerChange = start_servers(
                session,
                name,
                on_progress=lambda done, _s: phase.set_progress(done, f"{done}/{count} ACTIVE"),
            )
        done = configure(
            name,
            cloud=cloud,
            trust_first_host_key=trust_first_host_key,
            health_timeout=health_timeout,
            report=report,
        )
    except (KeyboardInterrupt, Interrupted):
        raise Interrupted(again) from None
    return StartReport(
        name,
        cluster.cloud,
        change.changed,
        change.unchanged,
        done,
        time.monotonic() - started,
    )
