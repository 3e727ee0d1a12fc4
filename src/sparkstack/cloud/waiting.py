"""Waiting for a cluster's servers: one list call per poll, filtered by the cluster's tag.

Never one request per server, so a poll costs the same for 3 nodes or 300. Transient failures of
a poll (connection reset, 5xx) are retried with tenacity before they count as errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from keystoneauth1 import exceptions as ka_exc
from openstack import exceptions as os_exc
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.errors import CloudTimeoutError, QuotaError, ServerFaultError

POLL_SECONDS = 1.0


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ka_exc.ConnectionError | ka_exc.HttpServerError):
        return True
    return isinstance(exc, os_exc.HttpException) and (exc.status_code or 0) >= 500


@retry(
    retry=retry_if_exception(_transient),
    stop=stop_after_attempt(4),
    wait=wait_exponential(multiplier=0.5, max=4),
    reraise=True,
)
def list_cluster_servers(cloud: Cloud, cluster: str) -> list[Any]:
    """Every server of the cluster, with details, in one call (retried when transient)."""
    return list(cloud.conn.compute.servers(details=True, tags=naming.cluster_tag(cluster)))


def fault_text(server: Any) -> str:
    """Nova's fault message of a server in ERROR, or a hint to look at it."""
    fault = server.fault or {}
    message = str(fault.get("message") or "").strip()
    return message or "nova gave no fault message; see `openstack server show` for details"


def raise_on_error(servers: list[Any]) -> None:
    """Raise, naming the first of ``servers`` in ERROR with nova's fault, if any is."""
    failed = [s for s in servers if s.status == "ERROR"]
    if not failed:
        return
    first = min(failed, key=lambda s: s.name)
    fault = fault_text(first)
    more = f" (and {len(failed) - 1} more in ERROR)" if len(failed) > 1 else ""
    if "quota" in fault.lower():  # nova's recheck once another request took the room
        raise QuotaError(
            f"server {first.name} went to ERROR: {fault}{more}; free resources or ask "
            "for a larger quota"
        )
    raise ServerFaultError(f"server {first.name} went to ERROR: {fault}{more}")


def wait_for_status(
    cloud: Cloud,
    cluster: str,
    names: set[str],
    wanted: Collection[str],
    timeout: float,
    on_progress: Callable[[int, list[Any]], None],
    *,
    label: str = "ACTIVE",
    hint: str = "raise --timeout or check the cloud's compute service",
) -> list[Any]:
    """Poll until the servers ``names`` of the cluster all have a status of ``wanted``
    (``label`` in messages); return them.

    Raises on the first of them in ERROR, or at ``timeout`` naming those still waiting.
    """
    deadline = time.monotonic() + timeout
    while True:
        with translate_errors("waiting for the servers"):
            servers = [s for s in list_cluster_servers(cloud, cluster) if s.name in names]
        raise_on_error(servers)
        done = sum(1 for s in servers if s.status in wanted)
        on_progress(done, servers)
        if done >= len(names):
            return servers
        if time.monotonic() >= deadline:
            waiting = sorted(f"{s.name} ({s.status})" for s in servers if s.status not in wanted)
            missing = len(names) - len(servers)
            detail = ", ".join(waiting[:5]) + (
                f" and {missing} never listed" if missing > 0 else ""
            )
            raise CloudTimeoutError(
                f"{done} of {len(names)} servers {label} after {timeout:.0f}s; still waiting "
                f"for {detail}; {hint}"
            )
        time.sleep(POLL_SECONDS)


#: A server's task states once its host has claimed it (the group's late check is done).
_PLACED = frozenset({"networking", "block_device_mapping", "spawning"})
PLACE_TIMEOUT = 60.0


def wait_until_placed(cloud: Cloud, server_id: str, timeout: float = PLACE_TIMEOUT) -> None:
    """Until the host Nova chose has claimed the server (or it is ACTIVE, or in ERROR); after
    ``timeout``, return anyway: the wait for ACTIVE then says what is wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with translate_errors("waiting for a server's host"):
            server = cloud.conn.compute.get_server(server_id)
        if server.status in ("ACTIVE", "ERROR") or server.task_state in _PLACED:
            return
        time.sleep(0.25)


def wait_for_active(
    cloud: Cloud,
    cluster: str,
    names: set[str],
    timeout: float,
    on_progress: Callable[[int, list[Any]], None],
) -> list[Any]:
    """Poll until the servers ``names`` of the cluster are ACTIVE; return them.

    Raises on the first of them in ERROR, or at ``timeout`` naming those still waiting.
    """
    return wait_for_status(cloud, cluster, names, {"ACTIVE"}, timeout, on_progress)


def wait_for_gone(cloud: Cloud, cluster: str, timeout: float, ids: set[str] | None = None) -> None:
    """Poll until no server of the cluster (or none of ``ids``) is listed any more."""
    deadline = time.monotonic() + timeout
    while True:
        with translate_errors("waiting for the servers to be deleted"):
            left = [s for s in list_cluster_servers(cloud, cluster) if ids is None or s.id in ids]
        if not left:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(sorted(s.name for s in left)[:5])
            raise CloudTimeoutError(
                f"servers still present after {timeout:.0f}s: {names}; "
                "run destroy again once the compute service has caught up"
            )
        time.sleep(POLL_SECONDS)
