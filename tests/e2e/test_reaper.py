"""Scheduled deletion on the devcloud's data plane: a cluster launched with ``--idle-timeout 2m``
runs one job, then its reaper (on the master, with the cluster's application credential, through
the public endpoints the nodes reach via their router) deletes it, with no client involved.

The wait is a generous deadline, not a timed assertion: the test polls until everything of the
cluster is gone. Keystone lets a delegated token (an application credential's) touch no
credential, so the reaper leaves its own credential and the cluster's EC2 one (launched with
``--object-storage``), both unusable (their secrets were only on the deleted nodes); the test
then sees ``cleanup`` find and remove them.
Then: ``extend``; ``--on-expiry stop``; a launch interrupted once its credential exists.
The idle deletion is the last test: the others run during its idle minutes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import validate
from sparkstack.cloud import naming

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = "treap-idle"
STOPPING = "treap-stop"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Launch, two idle minutes and the deletion take about four; this only bounds a broken run.
GONE_WITHIN = 8 * 60


def _inventory(conn: Any, user_id: str) -> dict[str, list[str]]:
    """What is left of the cluster, by kind, as the cloud lists it."""
    tag = naming.cluster_tag(NAME)
    owned = naming.owned_name(NAME)
    servers = list(conn.compute.servers(tags=tag))
    return {
        "servers": [s.name for s in servers],
        "ports": [
            p.id
            for p in conn.network.ports()
            if set(p.security_group_ids or [])
            & {g.id for g in conn.network.security_groups(tags=tag)}
        ],
        "floating_ips": [ip.floating_ip_address for ip in conn.network.ips(tags=tag)],
        "security_groups": [g.name for g in conn.network.security_groups(tags=tag)],
        "networks": [n.name for n in conn.network.networks(tags=tag)],
        "keypairs": [k.name for k in conn.compute.keypairs() if k.name == owned],
        "server_groups": [g.name for g in conn.compute.server_groups() if g.name == owned],
    }


def _ec2_credentials(conn: Any) -> list[str]:
    """The EC2 credentials made for the cluster's s3a."""
    listed = conn.identity.credentials(type="ec2", user_id=conn.current_user_id)
    return [c.id for c in listed if json.loads(c.blob).get("sparkstack_cluster") == NAME]


def _credentials(conn: Any, user_id: str, cluster: str = NAME) -> list[Any]:
    prefix = f"sparkstack-{cluster}-{conn.current_project_id}-"
    return [
        c for c in conn.identity.application_credentials(user=user_id) if c.name.startswith(prefix)
    ]


@pytest.fixture(scope="module")
def stopping(shell: Any, spark_tarball: Any) -> Iterator[subprocess.Popen[str]]:
    """The ``--on-expiry stop`` cluster, launched in the background first: its idle minute
    passes while the other tests run, instead of in a wait of its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "launch", STOPPING, "--workers", "1",
         "--idle-timeout", "1m", "--on-expiry", "stop",
         "--spark-tarball", str(spark_tarball.tarball)],
        env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=300)
        shell("destroy", STOPPING, "--yes", check=False)


@pytest.fixture(scope="module")
def launched(
    shell: Any, spark_tarball: Any, stopping: subprocess.Popen[str]
) -> Iterator[dict[str, Any]]:
    try:
        done = shell(
            "launch", NAME, "--masters", "1", "--workers", "1", "--idle-timeout", "2m",
            "--object-storage", "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
        )  # fmt: skip
        data = dict(json.loads(done.stdout))
        validate(data, "launch")
        yield data
    finally:
        shell("destroy", NAME, "--yes", check=False)


def test_launch_records_the_schedule_and_a_restricted_credential(
    launched: dict[str, Any], devcloud: Any
) -> None:
    expiry = launched["expiry"]
    assert expiry is not None and expiry["deadline"] is None, "an idle timeout alone"
    conn = devcloud.connect()
    made = _credentials(conn, conn.current_user_id)
    assert [c.id for c in made] == [expiry["credential_id"]]
    assert len(_ec2_credentials(conn)) == 1  # s3a's
    assert made[0].unrestricted is False
    roles = {r["name"] for r in made[0].roles}
    assert "member" in roles and roles <= {"member", "reader"}, roles  # reader: implied
    for node in launched["nodes"]:
        server = conn.compute.get_server(node["server_id"])
        assert not any("secret" in str(v).lower() for v in (server.metadata or {}).values())


def test_describe_says_when_and_why(shell: Any, launched: dict[str, Any]) -> None:
    done = shell("submit", NAME, str(EXAMPLES / "pi.py"), "--", "2")
    assert "Pi is roughly 3.1" in done.stdout
    data = json.loads(shell("describe", NAME, "--output", "json").stdout)
    validate(data, "describe")
    reaper = next(s for s in data["services"] if s["service"] == "reaper")
    assert reaper["state"] == "healthy", reaper
    assert reaper["on_expiry"] == "delete"
    # the reaper looks every 15 s: it sees the job's end at its next round
    deadline = time.monotonic() + 120
    text = shell("describe", NAME).stdout
    while "idle since" not in text and time.monotonic() < deadline:
        time.sleep(5)
        text = shell("describe", NAME).stdout
    assert "reaper: healthy, delete at" in text and "idle since" in text, text


def test_extend_moves_the_deletion(shell: Any, launched: dict[str, Any]) -> None:
    moved = json.loads(shell("extend", NAME, "1m", "--output", "json").stdout)
    assert moved["deadline"] is None and moved["credential_replaced"] is False
    data = json.loads(shell("describe", NAME, "--output", "json").stdout)
    reaper = next(s for s in data["services"] if s["service"] == "reaper")
    due, hold = (datetime.fromisoformat(t) for t in (reaper["due_at"], moved["hold_until"]))
    assert due >= hold.replace(microsecond=0), (reaper, moved)
    refused = shell("extend", NAME, "31d", check=False)
    assert refused.returncode == 2 and "between 1m and 30d" in refused.stderr


def test_an_interrupted_launch_leaves_no_credential(
    shell: Any, devcloud: Any, spark_tarball: Any
) -> None:
    """Ctrl-C once the credential exists (the services are being deployed): the rollback
    deletes it with the rest."""
    name = "treap-int"
    conn = devcloud.connect()
    user = conn.current_user_id
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "launch", name, "--workers", "1",
         "--idle-timeout", "5m", "--spark-tarball", str(spark_tarball.tarball)],
        env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not _credentials(conn, user, name) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(1)
        assert _credentials(conn, user, name), "the launch made no credential"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
        shell("destroy", name, "--yes", check=False)
    assert process.returncode == 130, stderr
    assert "everything this launch created has been removed" in stderr
    assert not _credentials(conn, user, name)


def test_on_expiry_stop_stops_the_servers(
    shell: Any, devcloud: Any, stopping: subprocess.Popen[str]
) -> None:
    """An idle cluster with ``--on-expiry stop`` is stopped, not deleted, by its reaper."""
    _, stderr = stopping.communicate(timeout=600)
    assert stopping.returncode == 0, stderr
    conn = devcloud.connect()
    tag = naming.cluster_tag(STOPPING)
    deadline = time.monotonic() + GONE_WITHIN
    statuses = {s.status for s in conn.compute.servers(tags=tag)}
    while statuses != {"SHUTOFF"} and time.monotonic() < deadline:
        time.sleep(10)
        statuses = {s.status for s in conn.compute.servers(tags=tag)}
    assert statuses == {"SHUTOFF"}, statuses
    data = json.loads(shell("describe", STOPPING, "--output", "json").stdout)
    assert data["state"] == "stopped" and len(data["nodes"]) == 2
    shell("destroy", STOPPING, "--yes")
    assert not _credentials(conn, conn.current_user_id, STOPPING)


def test_extend_past_the_credential_replaces_it(
    shell: Any, devcloud: Any, spark_tarball: Any
) -> None:
    """A max age moved past its credential's expiry: a new credential for the reaper (its file
    rewritten over SSH, the cluster's tags updated), the old one deleted."""
    name = "treap-ext"
    conn = devcloud.connect()
    user = conn.current_user_id
    try:
        launched = json.loads(
            shell(
                "launch", name, "--workers", "1", "--max-age", "30m",
                "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
            ).stdout
        )  # fmt: skip
        old = launched["expiry"]
        moved = json.loads(shell("extend", name, "2h", "--output", "json").stdout)
        assert moved["credential_replaced"] is True
        gained = datetime.fromisoformat(moved["deadline"]) - datetime.fromisoformat(old["deadline"])
        assert gained.total_seconds() == 2 * 3600
        data = json.loads(shell("describe", name, "--output", "json").stdout)
        validate(data, "describe")
        assert [c.id for c in _credentials(conn, user, name)] == [data["expiry"]["credential_id"]]
        assert data["expiry"]["credential_id"] != old["credential_id"]
        assert data["expiry"]["deadline"] == moved["deadline"]
        reaper = next(s for s in data["services"] if s["service"] == "reaper")
        assert reaper["state"] == "healthy" and reaper["reason"] == "max age", reaper
        assert datetime.fromisoformat(reaper["due_at"]) == datetime.fromisoformat(moved["deadline"])
    finally:
        shell("destroy", name, "--yes", check=False)
    assert not _credentials(conn, user, name)


def test_the_idle_cluster_deletes_itself(
    shell: Any, launched: dict[str, Any], devcloud: Any
) -> None:
    conn = devcloud.connect()
    user = conn.current_user_id
    deadline = time.monotonic() + GONE_WITHIN
    left = _inventory(conn, user)
    while any(left.values()) and time.monotonic() < deadline:
        time.sleep(10)
        left = _inventory(conn, user)
    assert not any(left.values()), f"still there after {GONE_WITHIN} s: {left}"
    # Keystone lets a delegated token (the reaper's credential) touch no credential: its own
    # and s3a's EC2 one are left, unusable (their secrets were only on the deleted nodes);
    # cleanup finds them as the leftovers of a cluster with no server (destroy NAME would too)
    assert [c.id for c in _credentials(conn, user)] == [launched["expiry"]["credential_id"]]
    assert len(_ec2_credentials(conn)) == 1
    args = ("cleanup", NAME, "--older-than", "1s", "--yes", "--output", "json")
    done = json.loads(shell(*args).stdout)
    assert [(f["reason"], f["resources"]) for f in done["leftovers"]] == [
        ("it has no server", {"application_credentials": 1, "ec2_credentials": 1})
    ]
    assert not _credentials(conn, user) and not _ec2_credentials(conn)
