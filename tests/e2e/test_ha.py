"""Several masters with standby failover on the devcloud data plane, real Spark and ZooKeeper:
3 masters + 2 workers; the leading master's JVM killed during a job of about a minute, then
its whole server deleted during another: each time a standby leads, both workers re-register,
the job ends with the right answer and a new job runs; configure brings the killed master
back as a standby; destroy leaves nothing. The tests share one cluster and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers
from schemas import validate
from sparkstack.devcloud.zookeeper_dist import build_zookeeper_dist

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e, pytest.mark.slow]

NAME = "ha"
#: examples/slow_squares.py: 12 tasks of SECONDS each; with 5, about half a minute of work on
#: the workers' 2 cores, long enough to lose the leader in the middle of it.
JOB = Path(__file__).resolve().parents[2] / "examples" / "slow_squares.py"
ANSWER = sum(i * i for i in range(12))


@pytest.fixture(scope="module")
def job() -> Path:
    return JOB


@pytest.fixture(scope="module")
def launched(shell: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    zookeeper = build_zookeeper_dist()
    try:
        done = shell(
            "launch", NAME, "--masters", "3", "--workers", "2",
            "--spark-tarball", str(spark_tarball.tarball),
            "--zookeeper-tarball", str(zookeeper.tarball), "--output", "json",
        )  # fmt: skip
        data = dict(json.loads(done.stdout))
        validate(data, "launch")
        yield data
    finally:
        shell("destroy", NAME, "--yes", check=False)


def describe(shell: Any) -> dict[str, Any]:
    data = dict(json.loads(shell("describe", NAME, "--output", "json").stdout))
    validate(data, "describe")
    return data


def masters_by_state(data: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for master in data["spark"]["masters"]:
        found.setdefault(master["status"], []).append(master["name"])
    return found


def zookeeper(data: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in data["services"] if s["service"] == "zookeeper")


def wait_for_new_leader(shell: Any, old: str, timeout: float = 90) -> dict[str, Any]:
    """describe until a master other than ``old`` is ALIVE with both workers."""
    deadline = time.monotonic() + timeout
    while True:
        data = describe(shell)
        alive = masters_by_state(data).get("ALIVE", [])
        if alive and alive != [old] and data["spark"]["alive_workers"] == 2:
            return data
        assert time.monotonic() < deadline, f"no new leader after {timeout} s: {data['spark']}"
        time.sleep(1)


class Job:
    """A job submitted through sparkstack in the background, its output kept."""

    def __init__(self, shell: Any, app: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sparkstack", "submit", NAME, str(app), "--", "5"],
            env=shell.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "job started" in line:
                self.started.set()

    def result(self, timeout: float = 300) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        time.sleep(0.5)  # the reader's last lines
        return code, "".join(self.lines)


def test_one_master_leads_two_stand_by_with_a_quorum_of_three(
    shell: Any, launched: dict[str, Any]
) -> None:
    masters = [n for n in launched["nodes"] if n["group"] == "master"]
    assert len(masters) == 3 and all(n["roles"] == ["spark-master", "zookeeper"] for n in masters)
    assert all(n["floating_ip"] for n in masters)
    data = describe(shell)
    states = masters_by_state(data)
    assert len(states.get("ALIVE", [])) == 1 and len(states.get("STANDBY", [])) == 2, states
    assert data["spark"]["alive_workers"] == 2
    quorum = zookeeper(data)
    assert quorum["state"] == "healthy" and quorum["leader"]
    assert len(quorum["followers"]) == 2 and quorum["missing"] == []
    url = data["spark"]["master_url"]
    assert url.startswith("spark://")
    conf = shell("run-command", NAME, "--workers", "--",
                 "grep -E '^spark.master ' /opt/spark/conf/spark-defaults.conf").stdout  # fmt: skip
    assert conf.count(":7077") == 6  # every worker knows all three masters


def _run_job_losing_the_leader(shell: Any, app: Path, lose: Any) -> tuple[str, dict[str, Any]]:
    before = describe(shell)
    leader = masters_by_state(before)["ALIVE"][0]
    job = Job(shell, app)
    assert job.started.wait(120), "".join(job.lines)
    time.sleep(5)  # tasks under way
    lose(leader)
    after = wait_for_new_leader(shell, leader)
    code, output = job.result()
    assert code == 0, output
    assert f"RESULT {ANSWER}" in output
    # a new job right after the takeover
    again = shell("submit", NAME, str(app), "--", "0")
    assert f"RESULT {ANSWER}" in again.stdout
    return leader, after


def test_killing_the_leaders_jvm_mid_job(shell: Any, job: Path) -> None:
    def kill(leader: str) -> None:
        kill_master = (
            f'[ "$(hostname)" = {leader} ] && kill -9 $(cat /var/lib/spark/run/*Master*.pid); true'
        )
        shell("run-command", NAME, "--masters", "--", kill_master)

    leader, after = _run_job_losing_the_leader(shell, job, kill)
    assert leader in masters_by_state(after)["down"]
    assert f"spark master not answering on {leader}" in after["spark"]["problems"]


def test_configure_brings_the_killed_master_back_as_standby(shell: Any) -> None:
    down = masters_by_state(describe(shell))["down"]
    assert len(down) == 1
    shell("configure", NAME)
    states = masters_by_state(describe(shell))
    assert down[0] in states.get("STANDBY", []), states
    assert len(states["ALIVE"]) == 1 and "down" not in states


def test_deleting_the_leaders_server_mid_job(
    shell: Any, devcloud: Any, job: Path, launched: dict[str, Any]
) -> None:
    conn = devcloud.connect()
    ids = {n["name"]: n["server_id"] for n in launched["nodes"]}

    def delete(leader: str) -> None:
        conn.compute.delete_server(ids[leader])

    leader, after = _run_job_losing_the_leader(shell, job, delete)
    # a standby can lead before Nova has finished deleting the server (a loaded machine):
    # describe lists the server as lost once the cloud no longer does
    deadline = time.monotonic() + 120
    while leader not in after["lost"] and time.monotonic() < deadline:
        time.sleep(2)
        after = describe(shell)
    assert leader in after["lost"] and after["state"] == "degraded", after
    quorum = zookeeper(after)
    assert quorum["leader"] and len(quorum["followers"]) == 1  # two peers left: still a quorum


def test_destroy_leaves_nothing(shell: Any, devcloud: Any) -> None:
    gone = json.loads(shell("destroy", NAME, "--yes", "--output", "json").stdout)
    assert gone["removed"]["servers"] == 4 and gone["removed"]["floating_ips"] == 3
    assert cluster_servers(devcloud.connect(), NAME) == []
    assert "nothing" in shell("destroy", NAME, "--yes", check=False).stderr
