"""The cluster model on the devcloud, with real Spark: a cluster file with three node groups
(masters, workers on m1.small, workers on m1.medium) launches, describes by group, keeps its
manifest, is re-applied and changed by ``configure``, and destroys clean. One node's sshd comes
up 15 s late (the devcloud's ``ssdc_sshd_delay`` hook), as on a cloud where a VM is ACTIVE
before it answers. The tests share one cluster and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import validate
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist

pytestmark = [
    pytest.mark.devcloud,
    pytest.mark.e2e,
    pytest.mark.usefixtures("unchanged_cloud_after_module"),
]

NAME = "pt-groups"
SLOW = f"{NAME}-medium-1"
DELAY = 15
CLUSTER_FILE = f"""\
name: {NAME}
cloud: devcloud
groups:
  master: {{count: 1, flavor: m1.small, roles: [spark-master]}}
  small: {{count: 1, flavor: m1.small, roles: [spark-worker]}}
  medium: {{count: 1, flavor: m1.medium, roles: [spark-worker]}}
metadata:
  ssdc_sshd_delay: "{SLOW}={DELAY}"
spark:
  conf:
    spark.sql.shuffle.partitions: 8
    spark.executor.cores: 1
"""
PIDS = "cat /var/lib/spark/run/*.pid"


def run(env: dict[str, str], *args: str, check: bool = True) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "sparkstack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check:
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def tarball() -> SparkDist:
    return build_spark_dist()


@pytest.fixture(scope="module")
def cluster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("groups") / "cluster.yaml"
    path.write_text(CLUSTER_FILE)
    return path


@pytest.fixture(scope="module")
def launched(
    cloud_env: dict[str, str], cluster_file: Path, tarball: SparkDist
) -> Iterator[dict[str, Any]]:
    try:
        done = run(cloud_env, "launch", NAME, "--file", str(cluster_file),
                   "--spark-tarball", str(tarball.tarball), "--output", "json")  # fmt: skip
        data = dict(json.loads(done.stdout))
        validate(data, "launch")
        yield data
    finally:
        run(cloud_env, "destroy", NAME, "--yes", "--cloud", "devcloud", check=False)


def describe(env: dict[str, str]) -> dict[str, Any]:
    data = dict(json.loads(run(env, "describe", NAME, "--cloud", "devcloud", "-o", "json").stdout))
    validate(data, "describe")
    return data


def pids(env: dict[str, str]) -> list[str]:
    done = run(env, "run-command", NAME, "--cloud", "devcloud", "--", PIDS)
    return sorted(done.stdout.splitlines())


def test_three_groups_launch_with_one_slow_sshd(launched: dict[str, Any], member: Any) -> None:
    nodes = {n["name"]: n for n in launched["nodes"]}
    assert sorted(nodes) == [f"{NAME}-master-1", f"{NAME}-medium-1", f"{NAME}-small-1"]
    assert {n["group"]: n["flavor"] for n in nodes.values()} == {
        "master": "m1.small",
        "small": "m1.small",
        "medium": "m1.medium",
    }
    assert nodes[SLOW]["roles"] == ["spark-worker"]
    console = member.compute.get_server_console_output(nodes[SLOW]["server_id"])["output"]
    assert f"sshd starts in {DELAY}" in console  # the launch did wait for a late sshd


def test_describe_by_group_with_spark_and_the_manifest(cloud_env: dict[str, str]) -> None:
    data = describe(cloud_env)
    assert {g: (d["expected"], d["nodes"]) for g, d in data["groups"].items()} == {
        "master": (1, 1),
        "small": (1, 1),
        "medium": (1, 1),
    }
    assert data["state"] == "active" and data["lost"] == []
    assert data["spark"]["alive_workers"] == 2 and data["spark"]["state"] == "healthy"
    spec = data["manifest"]["spec"]
    assert set(spec["groups"]) == {"master", "small", "medium"}
    assert spec["spark"]["conf"] == {
        "spark.sql.shuffle.partitions": "8",
        "spark.executor.cores": "1",
    }
    # workers get cores and memory from their own flavor
    cores = run(cloud_env, "run-command", NAME, "--workers", "--cloud", "devcloud", "--",
                "grep SPARK_WORKER_CORES /opt/spark/conf/spark-env.sh").stdout  # fmt: skip
    assert f"{NAME}-small-1 SPARK_WORKER_CORES=1" in cores
    assert f"{NAME}-medium-1 SPARK_WORKER_CORES=2" in cores


def test_configure_alone_reapplies_the_manifest_and_restarts_nothing(
    cloud_env: dict[str, str],
) -> None:
    before = pids(cloud_env)
    done = run(cloud_env, "configure", NAME, "--cloud", "devcloud")
    assert "nothing changed" in done.stdout and "changed spark" not in done.stdout
    assert pids(cloud_env) == before
    conf = run(cloud_env, "run-command", NAME, "--cloud", "devcloud", "--",
               "grep shuffle.partitions /opt/spark/conf/spark-defaults.conf").stdout  # fmt: skip
    assert conf.count("spark.sql.shuffle.partitions") == 3 and conf.count(" 8") == 3


def test_configure_with_a_changed_file_says_what_changed_and_restarts_that(
    cloud_env: dict[str, str], cluster_file: Path, tmp_path: Path
) -> None:
    before = dict(line.split(" ", 1) for line in pids(cloud_env))
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        CLUSTER_FILE.replace(
            "spark.sql.shuffle.partitions: 8", "spark.sql.shuffle.partitions: 16"
        ).replace("small: {count: 1", "small: {count: 3")
    )
    done = run(cloud_env, "configure", NAME, "--file", str(changed), "--cloud", "devcloud")
    assert "changed spark.conf.spark.sql.shuffle.partitions: 8 -> 16" in done.stdout
    # what configure cannot change is kept as launched, and said
    assert "configure does not change groups.small.count: 1 -> 3" in done.stderr
    after = dict(line.split(" ", 1) for line in pids(cloud_env))
    # the property is in every node's spark-defaults.conf: every Spark daemon restarted
    assert set(after) == set(before) and all(after[n] != before[n] for n in before)
    data = describe(cloud_env)
    assert data["manifest"]["spec"]["spark"]["conf"]["spark.sql.shuffle.partitions"] == "16"
    assert data["groups"]["small"]["nodes"] == 1
    assert data["spark"]["alive_workers"] == 2
    # and the change stays: configure alone now re-applies 16, restarting nothing
    again = run(cloud_env, "configure", NAME, "--cloud", "devcloud")
    assert "nothing changed" in again.stdout
    assert dict(line.split(" ", 1) for line in pids(cloud_env)) == after


def test_the_debug_log_has_requests_and_commands_but_no_secret(
    cloud_env: dict[str, str], devcloud: Any, tmp_path: Path
) -> None:
    log = tmp_path / "debug.log"
    run(cloud_env, "--log-file", str(log), "describe", NAME, "--cloud", "devcloud")
    text = log.read_text()
    assert "REQ: curl" in text and "/servers/detail" in text  # openstacksdk's request log
    assert "sparkstack.ssh" in text and "cat /var/lib/sparkstack/manifest.json" in text
    password = devcloud.cfg.passwords()["demo"]
    secrets = "/var/lib/sparkstack/secrets.json"
    read = f"python3 -c \"import json; print(json.load(open('{secrets}'))['spark'])\""
    secret = run(cloud_env, "run-command", NAME, "--masters", "--cloud", "devcloud", "--",
                 read).stdout.split()[1]  # fmt: skip
    assert len(secret) == 64
    assert password not in text and secret not in text
    assert "X-Auth-Token: gAAAA" not in text  # fernet tokens are never written


def test_destroy_removes_every_group(cloud_env: dict[str, str], member: Any) -> None:
    done = run(cloud_env, "destroy", NAME, "--yes", "--cloud", "devcloud", "-o", "json")
    assert json.loads(done.stdout)["removed"]["servers"] == 3
