"""Launch, describe, list and destroy against the real devcloud, and the faults around them.

Every test checks that the cloud's admin inventory afterwards equals the one before it.
Servers are provisioned only (``--provision-only``): Spark is another suite's business.
"""

from __future__ import annotations

import ipaddress
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers, wait_until
from sparkstack.api import lifecycle as api
from sparkstack.cloud import naming
from sparkstack.errors import CloudError, PreflightError, QuotaError, ServerFaultError
from sparkstack.events import Event
from sparkstack.spec import load_spec

pytestmark = [pytest.mark.devcloud, pytest.mark.usefixtures("unchanged_cloud")]

CLI = [str(Path(sys.executable).parent / "sparkstack")]


def sparkstack(env: dict[str, str], *args: str, timeout: float = 600) -> Any:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def spec(name: str, **overrides: Any) -> Any:
    return load_spec(None, {"name": name, "cloud": "devcloud", **overrides})


def test_launch_describe_list_destroy_with_two_flavors(cloud_env: dict[str, str]) -> None:
    common = ["--cloud", "devcloud", "--output", "json"]
    launched = sparkstack(
        cloud_env,
        "launch", "pt-basic", "--masters", "1", "--workers", "3",
        "--master-flavor", "m1.small", "--worker-flavor", "m1.tiny",
        "--ssh-cidr", "0.0.0.0/0", "--provision-only", *common,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr
    # open to the world only when asked, and then said (scripts reading JSON see it on stderr)
    assert "warning: SSH will be open to the whole internet" in launched.stderr
    try:
        described = sparkstack(cloud_env, "describe", "pt-basic", *common)
        assert described.returncode == 0, described.stderr
        data = json.loads(described.stdout)
        assert data["state"] == "active"
        assert data["launch_state"] == "ready"
        assert {g: (d["expected"], d["nodes"]) for g, d in data["groups"].items()} == {
            "master": (1, 1),
            "worker": (3, 3),
        }
        assert data["ssh_user"] == "ubuntu"
        nodes = data["nodes"]
        assert [(n["group"], n["roles"], n["index"], n["status"]) for n in nodes] == [
            ("master", ["spark-master"], 1, "ACTIVE"),
            ("worker", ["spark-worker"], 1, "ACTIVE"),
            ("worker", ["spark-worker"], 2, "ACTIVE"),
            ("worker", ["spark-worker"], 3, "ACTIVE"),
        ]
        assert {n["flavor"] for n in nodes if n["group"] == "master"} == {"m1.small"}
        assert {n["flavor"] for n in nodes if n["group"] == "worker"} == {"m1.tiny"}
        assert nodes[0]["floating_ip"] and all(n["floating_ip"] is None for n in nodes[1:])
        assert all(n["fixed_ip"] and n["age_seconds"] is not None for n in nodes)
        assert json.loads(launched.stdout)["nodes"][0]["name"] == "pt-basic-master-1"
        listed = json.loads(sparkstack(cloud_env, "list", *common).stdout)
        mine = [c for c in listed if c["name"] == "pt-basic"]
        assert mine and mine[0]["statuses"] == {"ACTIVE": 4}
        table = sparkstack(cloud_env, "describe", "pt-basic", "--cloud", "devcloud")
        assert "pt-basic-worker-3" in table.stdout
    finally:
        destroyed = sparkstack(cloud_env, "destroy", "pt-basic", "--yes", *common)
    assert destroyed.returncode == 0, destroyed.stderr
    removed = json.loads(destroyed.stdout)["removed"]
    assert removed["servers"] == 4 and removed["floating_ips"] == 1
    assert removed["security_groups"] == 1 and removed["keypairs"] == 1
    again = sparkstack(cloud_env, "destroy", "pt-basic", "--yes", "--cloud", "devcloud")
    assert again.returncode == 0 and "nothing left" in again.stderr
    gone = sparkstack(cloud_env, "describe", "pt-basic", "--cloud", "devcloud")
    assert gone.returncode == 3 and "no cluster named 'pt-basic'" in gone.stderr


def test_twenty_nodes_on_a_created_network(cloud_env: dict[str, str], member: Any) -> None:
    wanted = spec(
        "pt-big",
        masters={"count": 1, "flavor": "m1.tiny"},
        workers={"count": 19, "flavor": "m1.tiny"},
        network={"create": True, "cidr": "198.18.66.0/24"},
    )
    try:
        cluster = api.launch(wanted, provision_only=True)
        assert len(cluster.nodes) == 20 and {n.status for n in cluster.nodes} == {"ACTIVE"}
        assert [n.name for n in cluster.nodes][:2] == ["pt-big-master-1", "pt-big-worker-1"]
        subnet = ipaddress.ip_network("198.18.66.0/24")
        assert all(ipaddress.ip_address(n.fixed_ip or "") in subnet for n in cluster.nodes)
        tag = naming.cluster_tag("pt-big")
        assert [n.name for n in member.network.networks(tags=tag)] == ["sparkstack-pt-big"]
        assert len(list(member.network.routers(tags=tag))) == 1
        assert sorted(n.index for n in cluster.in_group("worker")) == list(range(1, 20))
    finally:
        removed = api.destroy("pt-big", "devcloud")
    assert removed["servers"] == 20 and removed["networks"] == 1 and removed["routers"] == 1


def test_anti_affinity_spreads_over_two_computes(cloud_env: dict[str, str], admin: Any) -> None:
    wanted = spec("pt-spread", workers={"count": 1}, server_group_policy="anti-affinity")
    try:
        cluster = api.launch(wanted, provision_only=True)
        hosts = {admin.compute.get_server(n.server_id).compute_host for n in cluster.nodes}
        assert len(hosts) == 2
    finally:
        removed = api.destroy("pt-spread", "devcloud")
    assert removed["server_groups"] == 1


def test_image_typo_creates_nothing_and_suggests(cloud_env: dict[str, str]) -> None:
    with pytest.raises(
        PreflightError, match=r"image 'ubuntu-2404' not found; did you mean 'ubuntu-24.04'"
    ):
        api.launch(spec("pt-typo", image="ubuntu-2404"), provision_only=True)


def test_quota_too_small_is_one_clear_line(cloud_env: dict[str, str], admin: Any) -> None:
    project = admin.identity.find_project("demo")
    original = admin.compute.get_quota_set(project.id, usage=True)
    used = int(original.usage.get("instances", 0))
    admin.compute.update_quota_set(project.id, instances=used + 4)
    try:
        with pytest.raises(QuotaError, match=r"^quota instances: need 6, 4 left \(limit"):
            api.launch(spec("pt-quota", workers={"count": 5}), provision_only=True)
    finally:
        admin.compute.update_quota_set(project.id, instances=original.instances)


def test_sigint_while_waiting_rolls_back(cloud_env: dict[str, str], member: Any) -> None:
    process = subprocess.Popen(
        [*CLI, "launch", "pt-sigint", "--workers", "3", "--provision-only", "--cloud", "devcloud"],
        env=cloud_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(cluster_servers(member, "pt-sigint")) == 4)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted; everything this launch created has been removed" in stderr
    assert cluster_servers(member, "pt-sigint") == []


def test_nova_api_stopped_mid_launch(cloud_env: dict[str, str], devcloud: Any) -> None:
    stopped: list[bool] = []

    def stop_nova_while_waiting(event: Event) -> None:
        # the first poll of the servers phase comes right after the create requests
        if event.phase == "servers" and event.kind == "step" and not stopped:
            devcloud.stop_service("nova-api")
            stopped.append(True)

    try:
        with pytest.raises(CloudError) as info:
            api.launch(
                spec("pt-novadown", workers={"count": 2}),
                provision_only=True,
                report=stop_nova_while_waiting,
            )
    finally:
        devcloud.start_service("nova-api")
    message = str(info.value)
    assert stopped and "\n" not in message
    assert "cannot connect to the cloud" in message
    assert "run `sparkstack destroy pt-novadown --cloud devcloud`" in message
    removed = api.destroy("pt-novadown", "devcloud")
    assert removed["servers"] == 3 and removed["security_groups"] == 1
    assert api.destroy("pt-novadown", "devcloud") == dict.fromkeys(removed, 0)


def test_server_in_error_shows_the_fault(cloud_env: dict[str, str]) -> None:
    # three members of an anti-affinity group cannot fit on two computes
    wanted = spec("pt-fault", workers={"count": 2}, server_group_policy="anti-affinity")
    with pytest.raises(ServerFaultError, match=r"went to ERROR: .*(No valid host|retries)") as info:
        api.launch(wanted, provision_only=True)
    assert "everything this launch created has been removed" in str(info.value)
