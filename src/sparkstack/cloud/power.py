"""Stopping and starting a cluster's servers: nova's stop and start, or shelve and unshelve.

The requests go at once; then one list call per poll (cloud/waiting.py's way) until every server
of the cluster has the status wanted. A server already there is left as it is, and one busy with
a change (a task under way, e.g. a stop run twice at once) is waited for, so stopping or starting
twice is fine. A server in ERROR stops the verb, named with nova's fault. Floating IPs stay
attached: nova keeps the ports of stopped and shelved servers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc

from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.waiting import list_cluster_servers, raise_on_error, wait_for_status
from sparkstack.errors import CloudError

RUNNING = frozenset({"ACTIVE"})
SHUTOFF = frozenset({"SHUTOFF"})
SHELVED = frozenset({"SHELVED", "SHELVED_OFFLOADED"})
#: A server stopped one way or the other; a cluster whose servers all are is ``stopped``.
STOPPED = SHUTOFF | SHELVED

#: Seconds a stop or start may take: nova gives a guest up to 60 s to shut down cleanly.
POWER_TIMEOUT = 600.0

Progress = Callable[[int, list[Any]], None]
_ING = {"stop": "stopping", "shelve": "shelving", "start": "starting"}


@dataclass(frozen=True)
class PowerChange:
    """Servers of the cluster a stop or start asked to change, and those already as wanted."""

    changed: list[str]
    unchanged: list[str]


#: status -> the request that takes a server from it towards the wanted status.
Plan = dict[str, Callable[[Any], object]]


def _change(
    cloud: Cloud,
    cluster: str,
    wanted: Collection[str],
    plan: Plan,
    *,
    verb: str,
    label: str,
    timeout: float,
    on_progress: Progress,
    before: Callable[[], object],
) -> PowerChange:
    action = f"{_ING[verb]} the servers of {cluster}"
    with translate_errors(action):
        servers = list_cluster_servers(cloud, cluster)
    raise_on_error(servers)
    todo = [s for s in servers if s.status not in wanted and not s.task_state]
    stuck = sorted((s for s in todo if s.status not in plan), key=lambda s: s.name)
    if stuck:
        first = stuck[0]
        raise CloudError(
            f"server {first.name} is {first.status}; {verb} acts on {' or '.join(sorted(plan))} "
            f"servers: see `openstack server show {first.name}`"
        )

    def request(server: Any) -> Callable[[], None]:
        def call() -> None:
            try:
                plan[server.status](server)
            except os_exc.ConflictException:
                # it changed since the list (another client at the same time): fine if it is
                # on its way; the wait below tells
                now = cloud.conn.compute.get_server(server.id)
                if now.status not in wanted and not now.task_state:
                    raise

        return call

    before()
    concurrently({s.name: request(s) for s in todo}, action)
    wait_for_status(
        cloud,
        cluster,
        {s.name for s in servers},
        wanted,
        timeout,
        on_progress,
        label=label,
        hint="run the command again later, or check the cloud's compute service",
    )
    changed = {s.name for s in todo}
    return PowerChange(sorted(changed), sorted(s.name for s in servers if s.name not in changed))


def stop_servers(
    cloud: Cloud,
    cluster: str,
    *,
    shelve: bool = False,
    timeout: float = POWER_TIMEOUT,
    on_progress: Progress = lambda _done, _servers: None,
    before: Callable[[], object] = lambda: None,
) -> PowerChange:
    """Stop (or shelve) every server of ``cluster`` and wait until all are SHUTOFF (or
    SHELVED); a shelved server counts as stopped for a plain stop. ``before`` runs once the
    servers are checked (none in ERROR, none in a state this cannot change), before any
    request: the caller stops the daemons there."""
    compute = cloud.conn.compute
    if shelve:
        plan: Plan = {"ACTIVE": compute.shelve_server, "SHUTOFF": compute.shelve_server}
        return _change(
            cloud, cluster, SHELVED, plan, verb="shelve", label="SHELVED",
            timeout=timeout, on_progress=on_progress, before=before,
        )  # fmt: skip
    return _change(
        cloud, cluster, STOPPED, {"ACTIVE": compute.stop_server}, verb="stop",
        label="SHUTOFF", timeout=timeout, on_progress=on_progress, before=before,
    )  # fmt: skip


def start_servers(
    cloud: Cloud,
    cluster: str,
    *,
    timeout: float = POWER_TIMEOUT,
    on_progress: Progress = lambda _done, _servers: None,
) -> PowerChange:
    """Start (or unshelve) every server of ``cluster`` and wait until all are ACTIVE."""
    compute = cloud.conn.compute
    plan: Plan = {
        "SHUTOFF": compute.start_server,
        "SHELVED": compute.unshelve_server,
        "SHELVED_OFFLOADED": compute.unshelve_server,
    }
    return _change(
        cloud, cluster, RUNNING, plan, verb="start", label="ACTIVE",
        timeout=timeout, on_progress=on_progress, before=lambda: None,
    )  # fmt: skip
