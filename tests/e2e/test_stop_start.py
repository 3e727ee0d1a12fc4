"""stop and start on the devcloud data plane, real Spark: launch 1+1, leave a file on the
worker; stop asks first (and refuses without a terminal), stops, says so at once in describe
and submit; start brings back the same disks and floating IP and a healthy Spark that runs a
job; destroy leaves nothing. The tests share one cluster and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers, one_error_line
from schemas import validate
from sparkstack.cloud import naming
from sparkstack.devcloud.server import net

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = "pwr"
PI = Path(__file__).resolve().parents[2] / "examples" / "pi.py"
MARKER = "cat ~/pwr-marker"


@pytest.fixture(scope="module")
def launched(shell: Any, devcloud: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    """The launched cluster's JSON, plus ``ports`` (its servers' port ids); destroyed at the
    end even when a test failed midway."""
    try:
        done = shell(
            "launch", NAME, "--masters", "1", "--workers", "1",
            "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
        )  # fmt: skip
        data = dict(json.loads(done.stdout))
        admin = devcloud.connect(admin=True)
        ports = [p.id for n in data["nodes"] for p in admin.network.ports(device_id=n["server_id"])]
        shell("run-command", NAME, "--workers", "--", "echo kept-$(hostname) > ~/pwr-marker")
        yield {**data, "ports": ports}
    finally:
        shell("destroy", NAME, "--yes", check=False)


def _describe(shell: Any) -> dict[str, Any]:
    data = dict(json.loads(shell("describe", NAME, "--output", "json").stdout))
    validate(data, "describe")
    return data


def _statuses(devcloud: Any) -> list[str]:
    return sorted(s.status for s in cluster_servers(devcloud.connect(), NAME))


def test_stop_without_a_terminal_or_yes_refuses_and_does_nothing(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    done = shell("stop", NAME, check=False)  # the shell's stdin is /dev/null
    assert done.returncode == 2, done.stderr
    assert "pass --yes" in done.stderr and one_error_line(done.stderr)
    assert _statuses(devcloud) == ["ACTIVE", "ACTIVE"]


def test_stop_stops_and_describe_and_submit_say_so_at_once(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    started = time.monotonic()
    done = json.loads(shell("stop", NAME, "--yes", "--output", "json").stdout)
    took = time.monotonic() - started
    assert sorted(done["stopped"]) == sorted(n["name"] for n in launched["nodes"])
    assert done["services_stopped"] and done["warning"] == ""
    assert _statuses(devcloud) == ["SHUTOFF", "SHUTOFF"]
    print(f"\nFIGURE stop 1+1 {took:.1f}s wall ({done['seconds']:.1f}s in the library)")

    started = time.monotonic()
    data = _describe(shell)
    assert time.monotonic() - started < 15, "describe of a stopped cluster must not wait on SSH"
    assert data["state"] == "stopped"
    assert data["unreachable"] == f"the cluster is stopped: `sparkstack start {NAME}`"
    assert [n["floating_ip"] for n in data["nodes"] if n["floating_ip"]] == [
        n["floating_ip"] for n in launched["nodes"] if n["floating_ip"]
    ]

    job = shell("submit", NAME, str(PI), check=False)
    assert job.returncode == 4, job.stderr
    assert f"cluster {NAME} is stopped; run `sparkstack start {NAME}`" in job.stderr
    assert one_error_line(job.stderr)

    again = json.loads(shell("stop", NAME, "--yes", "--output", "json").stdout)
    assert again["stopped"] == [] and len(again["already_stopped"]) == 2


def test_start_brings_back_the_disks_the_address_and_a_healthy_spark(
    shell: Any, launched: dict[str, Any]
) -> None:
    started = time.monotonic()
    done = json.loads(shell("start", NAME, "--output", "json").stdout)
    took = time.monotonic() - started
    assert len(done["started"]) == 2 and done["outputs"]["spark.master_url"].startswith("spark://")
    print(f"\nFIGURE start 1+1 to Spark healthy {took:.1f}s wall")

    worker = next(n["name"] for n in launched["nodes"] if n["group"] == "worker")
    kept = shell("run-command", NAME, "--workers", "--", MARKER).stdout
    assert f"kept-{worker}" in kept, kept

    data = _describe(shell)
    assert data["state"] == "active"
    assert data["spark"]["state"] == "healthy" and data["spark"]["alive_workers"] == 1
    master = next(n for n in data["nodes"] if n["group"] == "master")
    launched_master = next(n for n in launched["nodes"] if n["group"] == "master")
    assert master["floating_ip"] == launched_master["floating_ip"]

    job = shell("submit", NAME, str(PI), "--", "2")
    assert "Pi is roughly 3.1" in job.stdout, job.stdout + job.stderr


def test_destroy_leaves_nothing(shell: Any, devcloud: Any, launched: dict[str, Any]) -> None:
    shell("destroy", NAME, "--yes")
    server_ids = [n["server_id"] for n in launched["nodes"]]
    conn = devcloud.connect(admin=True)
    assert not [s for s in conn.compute.servers(all_projects=True) if s.id in server_ids]
    assert not [i for i in conn.network.ips() if naming.cluster_from_tags(i.tags or []) == NAME]
    assert not [g for g in conn.network.security_groups() if g.name == f"sparkstack-{NAME}"]
    assert not [p for p in conn.network.ports() if p.device_id in server_ids]
    assert not {net.vm_netns(sid) for sid in server_ids} & set(net.netns_list())
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [p for p in launched["ports"] if net.tap_name(p) in links]
    assert not [sid for sid in server_ids if (net.hosts_dir() / sid).exists()]
