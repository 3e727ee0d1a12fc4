"""The whole product on the devcloud's data plane, as a user's session would go: launch 1+2,
reach, describe, submit, configure; then the faults a running cluster meets (a worker JVM
killed, a second launch of its name, a worker and then the master deleted outside sparkstack)
and a destroy that leaves nothing. The tests share one cluster and run in file order.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import one_error_line
from schemas import validate
from sparkstack.cloud import naming
from sparkstack.devcloud.process import tcp_open
from sparkstack.devcloud.server import net

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = "e2e"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PIDS = "cat /var/lib/spark/run/*.pid"


@pytest.fixture(scope="module")
def launched(shell: Any, devcloud: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    """The launched cluster's JSON (plus ``ports``: its servers' port ids, to check their taps
    are gone at the end); destroyed at the end even when a test failed midway."""
    try:
        done = shell(
            "launch", NAME, "--masters", "1", "--workers", "2",
            "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
        )  # fmt: skip
        data = dict(json.loads(done.stdout))
        validate(data, "launch")
        admin = devcloud.connect(admin=True)
        nodes = data["nodes"]
        ports = [p.id for n in nodes for p in admin.network.ports(device_id=n["server_id"])]
        assert len(ports) == 3
        yield {**data, "ports": ports}
    finally:
        shell("destroy", NAME, "--yes", check=False)


def _node(cluster: dict[str, Any], group: str, index: int = 1) -> dict[str, Any]:
    return next(n for n in cluster["nodes"] if n["group"] == group and n["index"] == index)


def _describe(shell: Any) -> dict[str, Any]:
    data = dict(json.loads(shell("describe", NAME, "--output", "json").stdout))
    validate(data, "describe")
    return data


def test_master_answers_at_its_floating_ip_only(launched: dict[str, Any]) -> None:
    master = _node(launched, "master")
    assert master["roles"] == ["spark-master"]
    assert master["floating_ip"] and master["floating_ip"].startswith("198.19.")
    assert tcp_open(master["floating_ip"], 22, timeout=3.0)
    assert not tcp_open(master["fixed_ip"], 22, timeout=1.0), "fixed IPs must not be routed"


def test_a_port_the_security_group_does_not_open_is_closed(
    shell: Any, launched: dict[str, Any]
) -> None:
    master = _node(launched, "master")
    # the Spark master UI does listen on 8080 (seen from a worker, a member of the group)...
    probe = f"curl -s -o /dev/null -w 'code=%{{http_code}}' http://{master['fixed_ip']}:8080/"
    inside = shell("run-command", NAME, "--group", "worker", "--", probe)
    assert inside.stdout.count("code=200") == 2, inside.stdout + inside.stderr
    # ...but from outside, behind the floating IP, only SSH is open
    assert not tcp_open(master["floating_ip"], 8080, timeout=3.0)


def test_ssh_is_open_only_to_this_client(devcloud: Any, launched: dict[str, Any]) -> None:
    conn = devcloud.connect()
    group = next(conn.network.security_groups(tags=naming.cluster_tag(NAME)))
    ssh = [r for r in conn.network.security_group_rules(security_group_id=group.id)
           if r.port_range_min == 22 and r.remote_ip_prefix]  # fmt: skip
    assert [r.remote_ip_prefix for r in ssh] == ["198.19.0.1/32"]  # the devcloud's client side


def _ssh_sources(devcloud: Any) -> list[str]:
    conn = devcloud.connect()
    group = next(conn.network.security_groups(tags=naming.cluster_tag(NAME)))
    rules = conn.network.security_group_rules(security_group_id=group.id)
    return sorted(
        r.remote_ip_prefix for r in rules if r.port_range_min == 22 and r.remote_ip_prefix
    )


def test_configure_moves_ssh_to_another_network(shell: Any, devcloud: Any) -> None:
    """A client whose address changed opens SSH to its new network before connecting."""
    shell("configure", NAME, "--ssh-cidr", "198.19.0.0/24")
    assert _ssh_sources(devcloud) == ["198.19.0.0/24"]
    assert (
        "host=" in shell("run-command", NAME, "--masters", "--", 'echo "host=$(hostname)"').stdout
    )
    shell("configure", NAME, "--ssh-cidr", "198.19.0.1/32")
    assert _ssh_sources(devcloud) == ["198.19.0.1/32"]


def test_workers_answer_through_the_master(shell: Any, launched: dict[str, Any]) -> None:
    done = shell("run-command", NAME, "--workers", "--", 'echo "host=$(hostname)"')
    for worker in (n["name"] for n in launched["nodes"] if n["group"] == "worker"):
        assert f"host={worker}" in done.stdout, done.stdout


def test_describe_shows_spark_healthy_and_the_manifest(shell: Any) -> None:
    data = _describe(shell)
    assert data["state"] == "active" and data["launch_state"] == "ready"
    assert data["spark"]["master_url"].startswith("spark://")
    assert data["spark"]["alive_workers"] == 2 and data["spark"]["state"] == "healthy"
    assert data["lost"] == []
    assert data["manifest"]["services"] == ["spark"]
    assert data["manifest"]["artifacts"]["spark"]["filename"] == "spark-4.3.0-bin-hadoop3.tgz"
    assert data["manifest"]["spec"]["groups"]["worker"]["count"] == 2


def test_submit_gives_the_right_answer_on_both_workers(
    shell: Any, launched: dict[str, Any]
) -> None:
    done = shell("submit", NAME, str(EXAMPLES / "pi.py"), "--", "8")
    assert "Pi is roughly 3.1" in done.stdout, done.stdout + done.stderr
    ran_on = done.stdout.split("tasks ran on:")[1].splitlines()[0]
    for worker in (n["name"] for n in launched["nodes"] if n["group"] == "worker"):
        assert worker in ran_on


def test_a_failing_job_returns_its_exit_code(shell: Any, tmp_path: Path) -> None:
    app = tmp_path / "fail.py"
    app.write_text("import sys\nsys.exit(7)\n")
    done = shell("submit", NAME, str(app), check=False)
    assert done.returncode == 7, done.stdout + done.stderr


def _pids(shell: Any) -> list[str]:
    """``node pid`` lines of every Spark daemon (nodes answer in any order)."""
    return sorted(shell("run-command", NAME, "--", PIDS).stdout.splitlines())


def test_configure_without_flags_changes_nothing(shell: Any) -> None:
    before = _pids(shell)
    done = shell("configure", NAME)
    assert "nothing changed" in done.stdout, done.stdout + done.stderr
    assert _pids(shell) == before


def test_the_same_cluster_through_os_variables(shell: Any, devcloud: Any) -> None:
    """Local files are filed by the cloud's identity, not by the name the client used: the
    same credentials as OS_* variables reach the same key and pinned host keys."""
    auth = yaml.safe_load(devcloud.clouds_yaml.read_text())["clouds"][devcloud.cloud]["auth"]
    env = {k: v for k, v in shell.env.items() if k not in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE")}
    env |= {f"OS_{key.upper()}": str(value) for key, value in auth.items()}
    env |= {"OS_IDENTITY_API_VERSION": "3", "OS_CLIENT_CONFIG_FILE": "/nonexistent"}
    done = subprocess.run(
        [sys.executable, "-m", "sparkstack", "run-command", NAME, "--masters", "--",
         'echo "host=$(hostname)"'],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"host={NAME}-master-1" in done.stdout


def _interrupt_when(shell: Any, args: list[str], marker: str) -> tuple[int, str, float]:
    """Run sparkstack ``args``; Ctrl-C once ``marker`` shows in its output (stdout or stderr);
    return the exit code, the output, and the seconds from Ctrl-C to exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", *args], env=shell.env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    lines, pressed = [], 0.0
    for line in process.stdout:
        lines.append(line)
        if not pressed and marker in line:
            pressed = time.monotonic()
            process.send_signal(signal.SIGINT)
    code = process.wait(timeout=120)
    assert pressed, "".join(lines)
    return code, "".join(lines), time.monotonic() - pressed


def test_ctrl_c_stops_a_running_job_on_the_cluster(shell: Any, tmp_path: Path) -> None:
    app = tmp_path / "slow.py"
    app.write_text(
        "import time\nfrom pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.appName('slow').getOrCreate()\n"
        "print('job started', flush=True)\n"
        "spark.sparkContext.parallelize(range(2), 2).foreach(lambda _: time.sleep(120))\n"
    )
    code, output, took = _interrupt_when(shell, ["submit", NAME, str(app)], "job started")
    assert code == 130 and "the job was stopped on the cluster" in output, output
    assert took < 60, f"{took:.1f} s from Ctrl-C to exit"
    # the driver is gone from the master, and the master lists no running application
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        data = _describe(shell)
        left = shell("run-command", NAME, "--masters", "--",
                     "pgrep -f [d]eploy.SparkSubmit || echo none").stdout  # fmt: skip
        if data["spark"]["running_apps"] == [] and "none" in left:
            break
        time.sleep(1)
    assert data["spark"]["running_apps"] == [] and "none" in left


def test_ctrl_c_during_configure_says_what_to_do(shell: Any) -> None:
    args = ["configure", NAME, "--spark-conf", "spark.sparkstack.test=1"]
    code, output, _took = _interrupt_when(shell, args, "configure 0/3 started")
    assert code == 130, output
    assert f"may be half configured: run `sparkstack configure {NAME}` again" in output
    healed = shell("configure", NAME, "--spark-conf", "spark.sparkstack.test=1")
    assert "healthy" in healed.stdout
    assert _describe(shell)["manifest"]["spec"]["spark"]["conf"] == {"spark.sparkstack.test": "1"}


def test_a_killed_worker_jvm_is_named_and_healed(shell: Any) -> None:
    victim = f"{NAME}-worker-1"
    kill = f'[ "$(hostname)" = {victim} ] && kill -9 $(cat /var/lib/spark/run/*.pid); true'
    shell("run-command", NAME, "--workers", "--", kill)
    data = _describe(shell)
    assert data["spark"]["dead_workers"] == [victim]
    assert data["spark"]["state"] == "degraded" and data["spark"]["alive_workers"] == 1
    shell("configure", NAME)
    healed = _describe(shell)
    assert healed["spark"]["alive_workers"] == 2 and healed["spark"]["dead_workers"] == []


def test_a_second_launch_of_the_name_is_refused(shell: Any, launched: dict[str, Any]) -> None:
    again = shell("launch", NAME, "--workers", "1", check=False)
    assert again.returncode == 3, again.stderr
    assert "already exists" in again.stderr and one_error_line(again.stderr)
    data = _describe(shell)
    assert sorted(n["server_id"] for n in data["nodes"]) == sorted(
        n["server_id"] for n in launched["nodes"]
    )
    assert data["spark"]["alive_workers"] == 2


def test_a_worker_deleted_outside_sparkstack_shows_as_lost(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    victim = _node(launched, "worker", 2)
    conn = devcloud.connect()
    conn.compute.delete_server(victim["server_id"])
    conn.compute.wait_for_delete(conn.compute.get_server(victim["server_id"]), wait=120)
    data = _describe(shell)
    assert data["lost"] == [victim["name"]]
    assert data["state"] == "degraded"


def test_the_master_deleted_describe_submit_and_destroy_say_so(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    master = _node(launched, "master")
    conn = devcloud.connect()
    conn.compute.delete_server(master["server_id"])
    conn.compute.wait_for_delete(conn.compute.get_server(master["server_id"]), wait=120)
    data = _describe(shell)
    assert master["name"] in data["lost"]
    assert "no running node has a floating IP" in data["unreachable"]
    job = shell("submit", NAME, str(EXAMPLES / "pi.py"), check=False)
    assert job.returncode == 4 and "no running node has a floating IP" in job.stderr
    assert one_error_line(job.stderr)
    gone = shell("destroy", NAME, "--yes")
    assert "destroyed cluster 'e2e'" in gone.stdout


def test_destroy_left_no_resource_namespace_bridge_or_process(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    server_ids = [n["server_id"] for n in launched["nodes"]]
    conn = devcloud.connect(admin=True)
    again = shell("destroy", NAME, "--yes", check=False)
    assert "nothing" in (again.stdout + again.stderr).lower()
    assert not [s for s in conn.compute.servers(all_projects=True) if s.id in server_ids]
    assert not [i for i in conn.network.ips() if naming.cluster_from_tags(i.tags or []) == NAME]
    assert not [g for g in conn.network.security_groups() if g.name == f"sparkstack-{NAME}"]
    assert not [p for p in conn.network.ports() if p.device_id in server_ids]
    namespaces = set(net.netns_list())
    assert not {net.vm_netns(sid) for sid in server_ids} & namespaces
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [p for p in launched["ports"] if net.tap_name(p) in links]
    assert not [sid for sid in server_ids if (net.hosts_dir() / sid).exists()]
