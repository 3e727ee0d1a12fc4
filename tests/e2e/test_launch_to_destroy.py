"""Issue 6 end to end: ``sparkstack launch`` on the devcloud data plane, a job, and destroy.

One cluster of 1 master + 2 workers with a generated key serves the whole module; the tests run
in file order, as a user's session would: launch, reach, describe, submit, lose a worker, destroy.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sparkstack.devcloud.process import tcp_open
from sparkstack.devcloud.server import net

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = "e2e"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def launched(shell: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    """The launched cluster's JSON; destroyed at the end even when a test failed midway."""
    done = shell(
        "launch", NAME, "--masters", "1", "--workers", "2",
        "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
    )  # fmt: skip
    yield dict(json.loads(done.stdout))
    shell("destroy", NAME, "--yes", check=False)


def _master(cluster: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in cluster["nodes"] if n["role"] == "master")


def test_master_answers_at_its_floating_ip_only(launched: dict[str, Any]) -> None:
    master = _master(launched)
    assert master["floating_ip"] and master["floating_ip"].startswith("198.19.")
    assert tcp_open(master["floating_ip"], 22, timeout=3.0)
    assert not tcp_open(master["fixed_ip"], 22, timeout=1.0), "fixed IPs must not be routed"


def test_a_port_the_security_group_does_not_open_is_closed(launched: dict[str, Any]) -> None:
    master = _master(launched)
    # the Spark master UI listens on 8080 behind the floating IP, but only 22 is open to us
    assert not tcp_open(master["floating_ip"], 8080, timeout=3.0)


def test_workers_answer_through_the_master(shell: Any, launched: dict[str, Any]) -> None:
    done = shell("run-command", NAME, "--workers", "--", "hostname")
    workers = [n["name"] for n in launched["nodes"] if n["role"] == "worker"]
    for worker in workers:
        assert worker in done.stdout


def test_describe_shows_spark_healthy(shell: Any) -> None:
    data = json.loads(shell("describe", NAME, "--output", "json").stdout)
    assert data["state"] == "active"
    assert data["spark"]["master_url"].startswith("spark://")
    assert data["spark"]["alive_workers"] == 2
    assert data["lost"] == []


def test_submit_gives_the_right_answer_on_both_workers(
    shell: Any, launched: dict[str, Any]
) -> None:
    done = shell("submit", NAME, str(EXAMPLES / "pi.py"), "--", "8")
    assert "Pi is roughly 3.1" in done.stdout, done.stdout + done.stderr
    ran_on = done.stdout.split("tasks ran on:")[1].splitlines()[0]
    for worker in (n["name"] for n in launched["nodes"] if n["role"] == "worker"):
        assert worker in ran_on


def test_a_failing_job_returns_its_exit_code(shell: Any, tmp_path: Path) -> None:
    app = tmp_path / "fail.py"
    app.write_text("import sys\nsys.exit(7)\n")
    done = shell("submit", NAME, str(app), check=False)
    assert done.returncode == 7, done.stdout + done.stderr


def test_a_worker_deleted_outside_sparkstack_shows_as_lost(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    victim = next(n for n in launched["nodes"] if n["role"] == "worker" and n["index"] == 2)
    conn = devcloud.connect()
    conn.compute.delete_server(victim["server_id"])
    conn.compute.wait_for_delete(conn.compute.get_server(victim["server_id"]), wait=120)
    data = json.loads(shell("describe", NAME, "--output", "json").stdout)
    assert data["lost"] == [victim["name"]]
    assert data["state"] == "degraded"


def test_destroy_leaves_no_resource_namespace_bridge_or_process(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    server_ids = [n["server_id"] for n in launched["nodes"]]
    conn = devcloud.connect(admin=True)
    ports = [p.id for sid in server_ids for p in conn.network.ports(device_id=sid)]

    shell("destroy", NAME, "--yes")

    again = shell("destroy", NAME, "--yes", check=False)
    assert "nothing" in (again.stdout + again.stderr).lower()
    assert not [s for s in conn.compute.servers(all_projects=True) if s.id in server_ids]
    assert not [i for i in conn.network.ips() if NAME in (i.tags or [])]
    assert not [g for g in conn.network.security_groups() if NAME in g.name]
    namespaces = set(net.netns_list())
    assert not {net.vm_netns(sid) for sid in server_ids} & namespaces
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [p for p in ports if net.tap_name(p) in links]
    assert not [sid for sid in server_ids if (net.hosts_dir() / sid).exists()]
