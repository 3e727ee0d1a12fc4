"""sparkstack's reaper: deletes (or stops) the cluster it runs on once its time is up.

sparkstack copies this file to the first master and runs it as a daemon (see
sparkstack.services.reaper). The nodes have python3 but not openstacksdk, and cannot reach PyPI,
so this program uses the standard library alone, and its REST client is a deliberate, minimal
replacement for openstacksdk (which the rest of sparkstack uses for every OpenStack call): a
token from Keystone for the cluster's application credential, the catalog's public endpoints,
and the few list, update and delete calls that ``sparkstack destroy`` makes
(sparkstack.cloud.teardown), in the same order, finding the cluster's resources the same way:
the tag ``sparkstack:<cluster>``, the reserved name ``sparkstack-<cluster>``.

Its own server goes last, and with it this program, so before that it moves its own port to
the project's ``default`` security group, which lets the cluster's group be deleted. The
application credential is restricted: Keystone refuses to let it delete itself (it tries, and
logs the answer); it expires an hour after the deadline (30 days with an idle timeout alone),
and ``sparkstack destroy NAME`` removes it.

Files, in its directory: ``credential.json`` and ``schedule.json`` (written by sparkstack,
mode 0600, read again on every round, so ``sparkstack extend`` needs no restart),
``state.json`` (what it saw: idle since when, why it acted; ``describe`` reads it) and
``reaper.log``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

#: Seconds between rounds (a Spark master's page and the clock, read each time).
INTERVAL = 15
#: Seconds one API request may take.
TIMEOUT = 30
#: Nova's first microversion that filters servers by tag.
NOVA_VERSION = "2.26"
log = logging.getLogger("sparkstack-reaper")


# ---- when: pure logic, unit-tested ---------------------------------------------------------


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def next_idle_since(idle_since: float | None, busy: bool | None, now: float) -> float | None:
    """Since when no application has run: reset by a running one, started by the first round
    without one. No master answering counts as idle (nothing can run without one)."""
    if busy:
        return None
    return now if idle_since is None else idle_since


def due_at(schedule: dict[str, Any], idle_since: float | None) -> tuple[float, str] | None:
    """When the cluster expires if nothing changes, and why (None: not while it stays busy)."""
    found: list[tuple[float, str]] = []
    deadline = schedule.get("deadline")
    if deadline is not None:
        found.append((float(deadline), "max age"))
    idle_timeout = schedule.get("idle_timeout")
    if idle_timeout is not None and idle_since is not None:
        at = max(idle_since + float(idle_timeout), float(schedule.get("hold_until") or 0))
        found.append((at, f"idle since {iso(idle_since)}"))
    return min(found) if found else None


def verdict(schedule: dict[str, Any], idle_since: float | None, now: float) -> str | None:
    """Why the cluster is due now, or None while it is not."""
    due = due_at(schedule, idle_since)
    return due[1] if due is not None and now >= due[0] else None


# ---- the REST client -----------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Cloud:
    """A token and the catalog's public endpoints for one application credential."""

    def __init__(self, credential: dict[str, Any]):
        identity = str(credential["auth_url"]).rstrip("/")
        self.identity = identity if identity.endswith("/v3") else identity + "/v3"
        self.region = credential.get("region")
        body = {
            "auth": {
                "identity": {
                    "methods": ["application_credential"],
                    "application_credential": {
                        "id": credential["id"],
                        "secret": credential["secret"],
                    },
                }
            }
        }
        headers, token = self._send("POST", self.identity + "/auth/tokens", body, {})
        self.token = headers["X-Subject-Token"]
        self.user_id = token["token"]["user"]["id"]
        self.project_id = token["token"]["project"]["id"]
        self.catalog = token["token"].get("catalog", [])

    def endpoint(self, service_type: str) -> str:
        for service in self.catalog:
            if service.get("type") != service_type:
                continue
            for entry in service.get("endpoints", []):
                region = entry.get("region_id") or entry.get("region")
                if entry.get("interface") == "public" and self.region in (None, region):
                    return str(entry["url"]).rstrip("/")
        raise ApiError(0, f"no public {service_type} endpoint in the catalog")

    def url(self, service_type: str, path: str) -> str:
        base = self.endpoint(service_type)
        if service_type == "network" and not base.endswith("/v2.0"):
            base += "/v2.0"  # neutron's catalog entry is often the bare root
        if service_type == "identity" and not base.endswith("/v3"):
            base += "/v3"  # so is keystone's
        return base + path

    @staticmethod
    def _send(
        method: str, url: str, body: Any, headers: dict[str, str]
    ) -> tuple[Any, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        for key, value in headers.items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                text = answer.read().decode() or "{}"
                return answer.headers, json.loads(text)
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")[:300]) from None

    def call(self, method: str, service_type: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"X-Auth-Token": self.token}
        if service_type == "compute":
            headers["OpenStack-API-Version"] = f"compute {NOVA_VERSION}"
        return self._send(method, self.url(service_type, path), body, headers)[1]

    def delete(self, service_type: str, path: str) -> bool:
        """DELETE; False when it was gone already."""
        try:
            self.call("DELETE", service_type, path)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def cluster_servers(cloud: Cloud, cluster: str) -> list[dict[str, Any]]:
    tag = quoted(f"sparkstack:{cluster}")
    return list(cloud.call("GET", "compute", f"/servers/detail?tags={tag}")["servers"])


# ---- what it does ----------------------------------------------------------------------------


def _retry_conflict(action: Any, seconds: float = 120) -> None:
    """Run ``action`` until neutron no longer says the resource is in use (ports go late)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            action()
            return
        except ApiError as exc:
            if exc.status != 409 or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _wait_gone(cloud: Cloud, cluster: str, keep: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while [s for s in cluster_servers(cloud, cluster) if s["id"] != keep]:
        if time.monotonic() > deadline:
            raise ApiError(0, f"servers of {cluster} still there after {seconds:.0f} s")
        time.sleep(3)


def stop_cluster(cloud: Cloud, cluster: str, own: str) -> None:
    """Stop every server of the cluster (nova stop), this one last."""
    servers = sorted(cluster_servers(cloud, cluster), key=lambda s: s["id"] == own)
    for server in servers:
        if server.get("status") == "ACTIVE":
            log.info("stopping server %s", server["name"])
            cloud.call("POST", "compute", f"/servers/{server['id']}/action", {"os-stop": None})


def delete_cluster(cloud: Cloud, cluster: str, own: str, credential_id: str) -> None:
    """Delete the cluster as ``sparkstack destroy`` does, this server last."""
    tag, owned = quoted(f"sparkstack:{cluster}"), f"sparkstack-{cluster}"
    for ip in cloud.call("GET", "network", f"/floatingips?tags={tag}")["floatingips"]:
        log.info("deleting floating IP %s", ip["floating_ip_address"])
        cloud.delete("network", f"/floatingips/{ip['id']}")
    others = [s for s in cluster_servers(cloud, cluster) if s["id"] != own]
    for server in others:
        log.info("deleting server %s", server["name"])
        cloud.delete("compute", f"/servers/{server['id']}")
    if cloud.delete("compute", f"/os-keypairs/{quoted(owned)}"):
        log.info("deleted keypair %s", owned)
    for group in cloud.call("GET", "compute", "/os-server-groups")["server_groups"]:
        if group["name"] == owned:
            log.info("deleting server group %s", owned)
            cloud.delete("compute", f"/os-server-groups/{group['id']}")
    _wait_gone(cloud, cluster, own)
    groups = cloud.call("GET", "network", f"/security-groups?tags={tag}")["security_groups"]
    _leave_groups(cloud, own, {g["id"] for g in groups})
    for group in groups:
        log.info("deleting security group %s", group["name"])
        _retry_conflict(lambda g=group: cloud.delete("network", f"/security-groups/{g['id']}"))
    left = cloud.call("GET", "network", f"/networks?tags={tag}")["networks"]
    if left:  # the spec refuses this; a cluster launched otherwise keeps them for cleanup
        log.warning("network %s is the cluster's own: `sparkstack cleanup` removes it", left)
    try:
        cloud.delete("identity", f"/users/{cloud.user_id}/application_credentials/{credential_id}")
        log.info("deleted application credential %s", credential_id)
    except ApiError as exc:
        log.info("application credential %s stays until it expires (%s)", credential_id, exc)
    log.info("deleting this server (%s): the reaper ends here", own)
    cloud.delete("compute", f"/servers/{own}")


def _leave_groups(cloud: Cloud, own: str, group_ids: set[str]) -> None:
    """Ports on the cluster's groups: those of deleted servers go; this server's own moves to
    the project's default group (egress stays open, so the last calls still reach the API)."""
    found = cloud.call(
        "GET", "network", f"/security-groups?name=default&project_id={quoted(cloud.project_id)}"
    )
    default = [g["id"] for g in found["security_groups"]]
    for port in cloud.call("GET", "network", "/ports")["ports"]:
        if not group_ids & set(port.get("security_groups") or []):
            continue
        if port.get("device_id") == own:
            log.info("moving this server's port %s to the default security group", port["id"])
            cloud.call(
                "PUT", "network", f"/ports/{port['id']}", {"port": {"security_groups": default}}
            )
        elif not str(port.get("device_owner") or "").startswith("network:"):
            log.info("deleting left port %s", port["id"])
            cloud.delete("network", f"/ports/{port['id']}")


# ---- the daemon ------------------------------------------------------------------------------


def spark_busy(urls: list[str]) -> bool | None:
    """True when an application runs on a live master; None when no master answers."""
    answered = False
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                master = json.loads(page.read().decode())
        except (OSError, ValueError):
            continue
        if master.get("status") != "ALIVE":
            continue
        answered = True
        if master.get("activeapps"):
            return True
    return False if answered else None


def read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as file:
            return dict(json.load(file))
    except (OSError, ValueError):
        return {}


def write_json(path: str, data: dict[str, Any]) -> None:
    """Replace ``path`` at once (describe may read it at any moment)."""
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file)
    os.replace(path + ".new", path)


def round_(home: str, state: dict[str, Any], now: float) -> dict[str, Any]:
    """One look at the clock and at Spark; act when due. Returns the new state."""
    schedule = read_json(os.path.join(home, "schedule.json"))
    busy = spark_busy(list(schedule.get("spark_masters", [])))
    idle_since = next_idle_since(state.get("idle_since"), busy, now)
    due = due_at(schedule, idle_since)
    new = {
        **state,
        "checked": now,
        "busy": busy,
        "idle_since": idle_since,
        "due_at": due[0] if due else None,
        "reason": due[1] if due else None,
    }
    why = verdict(schedule, idle_since, now)
    if why is None or state.get("acted_for") == schedule:
        return new
    action = schedule.get("on_expiry", "delete")
    log.info("cluster %s expired (%s): %s it", schedule["cluster"], why, action)
    credential = read_json(os.path.join(home, "credential.json"))
    cloud = Cloud(credential)
    if action == "stop":
        write_json(os.path.join(home, "state.json"), {**new, "acted_for": schedule})
        stop_cluster(cloud, schedule["cluster"], schedule["server_id"])
    else:
        delete_cluster(cloud, schedule["cluster"], schedule["server_id"], credential["id"])
    return {**new, "acted_for": schedule, "acted": f"{action} at {iso(now)} ({why})"}


def main(home: str) -> None:
    logging.basicConfig(
        filename=os.path.join(home, "reaper.log"),
        format="%(asctime)s %(levelname)s %(message)s",
        level=logging.INFO,
    )
    state_path = os.path.join(home, "state.json")
    state = read_json(state_path)
    log.info("reaper started")
    while True:
        try:
            state = round_(home, state, time.time())
        except Exception as exc:  # the next round tries again; a daemon must not die of it
            log.error("round failed: %s", exc)
        write_json(state_path, state)
        time.sleep(INTERVAL)


if __name__ == "__main__":
    main(sys.argv[1])
