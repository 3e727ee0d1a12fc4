"""HDFS, adding and removing workers, stop and start, on the devcloud data plane with real Spark
and a real HDFS (from Maven Central jars: ``sparkstack.devcloud.hadoop_dist``).

One cluster goes through it all, in file order: launch 1+3 with --hdfs and write a 500 000-row
Parquet dataset to hdfs:///; add a worker (ALIVE, its DataNode live, tasks run on it); remove two
workers while a job reads the dataset (the job ends right, the dataset reads back the same,
fsck is healthy); a removal that would leave fewer DataNodes than the replication is refused;
stop (asks first; describe and submit say so at once; twice is fine) and start (same disks,
address and dataset); an add that runs out of quota at
its second server leaves the cluster as it was; destroy leaves nothing.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sparkstack
from helpers import cluster_servers, one_error_line
from schemas import validate
from sparkstack.cloud import naming
from sparkstack.devcloud.hadoop_dist import build_hadoop_dist
from sparkstack.devcloud.server import net
from sparkstack.errors import QuotaError
from sparkstack.events import Event

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = "hdr"
JOB = Path(__file__).parent / "jobs" / "hdfs_dataset.py"
DATASET = "hdfs:///data/ds"
MARKER = "cat ~/hdr-marker"
#: Every server the cluster ever had (destroy must leave none of them, nor their ports).
EVER: dict[str, list[str]] = {"servers": [], "ports": []}


def _remember(devcloud: Any, nodes: list[dict[str, Any]]) -> None:
    admin = devcloud.connect(admin=True)
    for node in nodes:
        if node["server_id"] not in EVER["servers"]:
            EVER["servers"].append(node["server_id"])
            EVER["ports"] += [p.id for p in admin.network.ports(device_id=node["server_id"])]


@pytest.fixture(scope="module")
def launched(shell: Any, devcloud: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    """The launched 1+3 cluster's JSON; destroyed at the end even when a test failed."""
    hadoop = build_hadoop_dist()
    try:
        done = shell(
            "launch", NAME, "--workers", "3", "--hdfs",
            "--spark-tarball", str(spark_tarball.tarball),
            "--hadoop-tarball", str(hadoop.tarball), "--output", "json",
        )  # fmt: skip
        data = dict(json.loads(done.stdout))
        _remember(devcloud, data["nodes"])
        shell("run-command", NAME, "--workers", "--", "echo kept-$(hostname) > ~/hdr-marker")
        yield data
    finally:
        shell("destroy", NAME, "--yes", check=False)


def _describe(shell: Any) -> dict[str, Any]:
    data = dict(json.loads(shell("describe", NAME, "--output", "json").stdout))
    validate(data, "describe")
    return data


def _service(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in data["services"] if s["service"] == name)


def _result(output: str) -> tuple[str, list[str]]:
    """The job's RESULT line and the hosts its tasks ran on."""
    result = next(line for line in output.splitlines() if line.startswith("RESULT "))
    hosts = next(line for line in output.splitlines() if line.startswith("HOSTS "))
    return result, hosts.split(" ", 1)[1].split(",")


def _workers(data: dict[str, Any]) -> list[str]:
    return sorted(n["name"] for n in data["nodes"] if n["group"] == "worker")


def test_launch_with_hdfs_writes_a_dataset_on_three_datanodes(
    shell: Any, launched: dict[str, Any]
) -> None:
    job = shell("submit", NAME, str(JOB), "--", DATASET, "write")
    result, _hosts = _result(job.stdout)
    assert result == f"RESULT ok wrote 500000 rows to {DATASET}", job.stdout
    hdfs = _service(_describe(shell), "hdfs")
    assert hdfs["state"] == "healthy", hdfs
    assert sorted(hdfs["live"]) == [f"{NAME}-worker-{i}" for i in (1, 2, 3)]
    assert hdfs["dead"] == [] and hdfs["under_replicated"] == 0 and hdfs["used_bytes"] > 10**7


def test_an_added_worker_runs_tasks_and_holds_a_live_datanode(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    done = json.loads(shell("add-workers", NAME, "1", "--output", "json").stdout)
    assert done["added"] == [f"{NAME}-worker-4"]
    print(f"\nFIGURE add-workers 1 to a 1+3 cluster with HDFS: {done['seconds']:.1f}s")
    data = _describe(shell)
    _remember(devcloud, data["nodes"])
    assert _workers(data) == [f"{NAME}-worker-{i}" for i in (1, 2, 3, 4)]
    assert _service(data, "spark")["alive_workers"] == 4
    assert f"{NAME}-worker-4" in _service(data, "hdfs")["live"]
    assert data["manifest"]["spec"]["groups"]["worker"]["count"] == 4


def test_the_namenode_ui_opens_through_ui_service_hdfs(
    shell: Any, launched: dict[str, Any]
) -> None:
    ui = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "ui", NAME, "--service", "hdfs"],
        env=shell.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert ui.stdout is not None
        url = ""
        for line in ui.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if found:
                url = found.group(0)
                break
        assert url, "ui printed no URL"
        with urllib.request.urlopen(url + "dfshealth.html", timeout=30) as page:
            assert page.status == 200 and b"Namenode information" in page.read()
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)


def test_removing_two_workers_during_a_job_keeps_every_block(
    shell: Any, launched: dict[str, Any]
) -> None:
    reader = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "submit", NAME, str(JOB), "--", DATASET, "check"],
        env=shell.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert reader.stdout is not None
    seen: list[str] = []
    for line in reader.stdout:  # the job has placed its tasks once it prints HOSTS
        seen.append(line)
        if line.startswith("HOSTS "):
            break
    removed = json.loads(shell("remove-workers", NAME, "2", "--output", "json").stdout)
    rest, _ = reader.communicate(timeout=600)
    output = "".join(seen) + rest
    assert reader.returncode == 0, output
    result, hosts = _result(output)
    assert result.startswith("RESULT ok"), output
    assert f"{NAME}-worker-4" in hosts, "no task ran on the added worker"
    # both run executors, so the newest go; worker-3 has held blocks since the write
    assert removed["removed"] == [f"{NAME}-worker-3", f"{NAME}-worker-4"]
    took = removed["seconds"]
    print(f"\nFIGURE remove-workers 2 (with their blocks, a job running): {took:.1f}s")

    again = shell("submit", NAME, str(JOB), "--", DATASET, "check")
    assert _result(again.stdout)[0].startswith("RESULT ok"), again.stdout
    fsck = shell(
        "run-command", NAME, "--masters", "--",
        "bash /var/lib/hadoop/hdfs-namenode-ctl.sh hdfs fsck /data/ds",
    ).stdout  # fmt: skip
    assert "is HEALTHY" in fsck, fsck
    data = _describe(shell)
    assert _workers(data) == [f"{NAME}-worker-1", f"{NAME}-worker-2"]
    hdfs = _service(data, "hdfs")
    assert sorted(hdfs["live"]) == [f"{NAME}-worker-1", f"{NAME}-worker-2"]
    assert hdfs["under_replicated"] == 0 and hdfs["state"] == "healthy", hdfs
    assert data["manifest"]["spec"]["groups"]["worker"]["count"] == 2
    assert data["lost"] == []


def test_a_removal_below_the_replication_is_refused_and_changes_nothing(
    shell: Any, launched: dict[str, Any]
) -> None:
    before = _describe(shell)
    done = shell("remove-workers", NAME, "1", check=False)
    assert done.returncode == 5, done.stderr
    assert "would leave 1 in service, fewer than hdfs.replication 2" in done.stderr
    assert one_error_line(done.stderr)
    after = _describe(shell)
    assert [n["server_id"] for n in after["nodes"]] == [n["server_id"] for n in before["nodes"]]
    assert sorted(_service(after, "hdfs")["live"]) == sorted(_service(before, "hdfs")["live"])


def test_stop_asks_then_stops_and_everything_says_so(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    refused = shell("stop", NAME, check=False)  # the shell's stdin is /dev/null
    assert refused.returncode == 2 and "pass --yes" in refused.stderr, refused.stderr
    done = json.loads(shell("stop", NAME, "--yes", "--output", "json").stdout)
    assert done["services_stopped"] and len(done["stopped"]) == 3
    print(f"\nFIGURE stop 1+2 with HDFS: {done['seconds']:.1f}s")
    assert {s.status for s in cluster_servers(devcloud.connect(), NAME)} == {"SHUTOFF"}
    data = _describe(shell)
    assert data["state"] == "stopped"
    job = shell("submit", NAME, str(JOB), "--", DATASET, "check", check=False)
    assert job.returncode == 4 and "is stopped; run `sparkstack start" in job.stderr
    again = json.loads(shell("stop", NAME, "--yes", "--output", "json").stdout)
    assert again["stopped"] == [] and len(again["already_stopped"]) == 3


def test_start_brings_back_the_dataset_and_a_healthy_cluster(
    shell: Any, launched: dict[str, Any]
) -> None:
    done = json.loads(shell("start", NAME, "--output", "json").stdout)
    print(f"\nFIGURE start 1+2 with HDFS to healthy: {done['seconds']:.1f}s")
    data = _describe(shell)
    assert data["state"] == "active"
    assert _service(data, "spark")["state"] == "healthy"
    hdfs = _service(data, "hdfs")
    assert hdfs["state"] == "healthy" and not hdfs["safe_mode"], hdfs
    master = next(n for n in data["nodes"] if n["group"] == "master")
    assert master["floating_ip"] == next(
        n["floating_ip"] for n in launched["nodes"] if n["group"] == "master"
    )
    kept = shell("run-command", NAME, "--workers", "--", MARKER).stdout
    assert f"kept-{NAME}-worker-1" in kept, kept
    job = shell("submit", NAME, str(JOB), "--", DATASET, "check")
    assert _result(job.stdout)[0].startswith("RESULT ok"), job.stdout


def test_an_add_that_runs_out_of_quota_leaves_the_cluster_as_it_was(
    shell: Any, devcloud: Any, launched: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "SPARKSTACK_DATA_DIR", "SPARKSTACK_CACHE_DIR"):
        monkeypatch.setenv(key, shell.env[key])
    before = _describe(shell)
    admin = devcloud.connect(admin=True)
    project = devcloud.connect().current_project_id
    original = admin.compute.get_quota_set(project, usage=True)
    used = int(original.usage.get("instances", 0))
    squeezed: list[bool] = []

    def squeeze(event: Event) -> None:
        # preflight saw room for 2; another user takes all but one before the servers boot
        if event.phase == "servers" and event.kind == "phase_started" and not squeezed:
            admin.compute.update_quota_set(project, instances=used + 1)
            squeezed.append(True)

    try:
        with pytest.raises(QuotaError) as info:
            sparkstack.add_workers(NAME, 2, report=squeeze)
    finally:
        admin.compute.update_quota_set(project, instances=original.instances)
    message = str(info.value)
    assert squeezed and "\n" not in message and "quota" in message.lower(), message
    assert "the new servers were removed; the cluster is as it was" in message
    after = _describe(shell)
    assert [n["server_id"] for n in after["nodes"]] == [n["server_id"] for n in before["nodes"]]
    assert after["manifest"] == before["manifest"] and after["lost"] == []
    assert _service(after, "spark")["alive_workers"] == 2
    names = [s.name for s in cluster_servers(devcloud.connect(), NAME)]
    assert sorted(names) == sorted(n["name"] for n in before["nodes"])


def test_ctrl_c_during_an_add_removes_the_new_servers_only(
    shell: Any, devcloud: Any, launched: dict[str, Any]
) -> None:
    before = sorted(s.id for s in cluster_servers(devcloud.connect(), NAME))
    add = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "add-workers", NAME, "1"],
        env=shell.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert add.stderr is not None
    lines: list[str] = []
    for line in add.stderr:  # progress lines in a pipe: "sparkstack: <phase> ..."
        lines.append(line)
        if line.startswith("sparkstack: host keys"):  # the new server exists and is ACTIVE
            add.send_signal(signal.SIGINT)
            break
    rest = add.communicate(timeout=300)[1]
    errors = [line for line in [*lines, *rest.splitlines()] if line.startswith("error:")]
    assert add.returncode == 130, "".join(lines) + rest
    assert len(errors) == 1 and "the new servers were removed" in errors[0], errors
    assert sorted(s.id for s in cluster_servers(devcloud.connect(), NAME)) == before
    assert _describe(shell)["lost"] == []


def test_destroy_leaves_nothing(shell: Any, devcloud: Any, launched: dict[str, Any]) -> None:
    shell("destroy", NAME, "--yes")
    conn = devcloud.connect(admin=True)
    ids = EVER["servers"]
    assert not [s for s in conn.compute.servers(all_projects=True) if s.id in ids]
    assert not [i for i in conn.network.ips() if naming.cluster_from_tags(i.tags or []) == NAME]
    assert not [g for g in conn.network.security_groups() if g.name == f"sparkstack-{NAME}"]
    assert not [p for p in conn.network.ports() if p.device_id in ids]
    assert not {net.vm_netns(sid) for sid in ids} & set(net.netns_list())
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert not [p for p in EVER["ports"] if net.tap_name(p) in links]
    assert not [sid for sid in ids if (net.hosts_dir() / sid).exists()]
