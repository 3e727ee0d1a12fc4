"""Faults around the cloud part of a launch, on the real devcloud: quota exhausted midway, an
API down before the launch, software that cannot be had, a client killed with SIGKILL (then
``cleanup``), a destroy interrupted (then run again). After each, the cloud's admin inventory
equals the one before.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers, one_error_line, wait_until
from sparkstack.api import lifecycle as api
from sparkstack.errors import ArtifactError, CloudError, QuotaError
from sparkstack.events import Event
from sparkstack.spec import load_spec

pytestmark = [pytest.mark.devcloud, pytest.mark.usefixtures("unchanged_cloud")]

CLI = [sys.executable, "-m", "sparkstack"]


def spec(name: str, **overrides: Any) -> Any:
    return load_spec(None, {"name": name, "cloud": "devcloud", **overrides})


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> Any:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_quota_exhausted_at_the_second_of_three_servers(
    cloud_env: dict[str, str], admin: Any
) -> None:
    project = admin.identity.find_project("demo")
    original = admin.compute.get_quota_set(project.id, usage=True)
    used = int(original.usage.get("instances", 0))
    squeezed: list[bool] = []

    def squeeze(event: Event) -> None:
        # preflight saw room for 3; another user takes it before the servers are created
        if event.phase == "servers" and event.kind == "phase_started" and not squeezed:
            admin.compute.update_quota_set(project.id, instances=used + 1)
            squeezed.append(True)

    try:
        with pytest.raises(QuotaError) as info:
            api.launch(
                spec("pt-squeeze", workers={"count": 2}), provision_only=True, report=squeeze
            )
    finally:
        admin.compute.update_quota_set(project.id, instances=original.instances)
    message = str(info.value)
    assert squeezed and "\n" not in message and "quota" in message.lower()
    assert "everything this launch created has been removed" in message


def test_neutron_down_before_the_launch(
    cloud_env: dict[str, str], devcloud: Any, admin: Any
) -> None:
    ports = {p.id for p in admin.network.ports()}
    devcloud.stop_service("neutron-api")
    try:
        done = cli(cloud_env, "launch", "pt-noneutron", "--provision-only", "--cloud", "devcloud")
    finally:
        devcloud.start_service("neutron-api")
        # a neutron just started answers before it lists every port (seen: the router's two
        # missing from the first listings); the inventory check needs it whole again
        wait_until(lambda: ports <= {p.id for p in admin.network.ports()}, timeout=60)
    assert done.returncode == 3, done.stderr
    assert one_error_line(done.stderr) and "cannot connect to the cloud" in done.stderr
    assert "rollback" not in done.stderr  # caught in preflight: nothing to roll back


def test_software_that_cannot_be_had_is_refused_before_anything_exists(
    cloud_env: dict[str, str], tmp_path: Path
) -> None:
    # no such release (and no way out to Apache's archive from here): found in preflight
    unpublished = cli(cloud_env, "launch", "pt-nospark", "--spark-version", "9.9.9",
                      "--cloud", "devcloud")  # fmt: skip
    assert unpublished.returncode == 5 and one_error_line(unpublished.stderr)
    assert "spark-9.9.9" in unpublished.stderr
    tarball = tmp_path / "spark-4.3.0-bin-hadoop3.tgz"
    tarball.write_bytes(b"not the tarball you think")
    file = tmp_path / "cluster.yaml"
    file.write_text(f"name: pt-badsum\nspark:\n  tarball: {tarball}\n  sha512: '{'0' * 128}'\n")
    mismatch = cli(cloud_env, "launch", "pt-badsum", "--file", str(file), "--cloud", "devcloud")
    assert mismatch.returncode == 5 and one_error_line(mismatch.stderr)
    assert "SHA-512" in mismatch.stderr and "nothing was created" in mismatch.stderr


def test_a_client_killed_mid_launch_leaves_nothing_after_cleanup(
    cloud_env: dict[str, str], member: Any
) -> None:
    process = subprocess.Popen(
        [*CLI, "launch", "pt-killed", "--workers", "2", "--provision-only", "--cloud", "devcloud"],
        env=cloud_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(cluster_servers(member, "pt-killed")) >= 1)
    finally:
        process.kill()  # SIGKILL: no rollback can run
        process.wait(timeout=30)
    # a young leftover is not touched by default (it may be a launch under way)
    young = cli(cloud_env, "cleanup", "pt-killed", "--yes", "--cloud", "devcloud")
    assert young.returncode == 0 and "no leftovers" in young.stdout, young.stdout + young.stderr
    done = cli(cloud_env, "cleanup", "pt-killed", "--older-than", "0s", "--yes",
               "--cloud", "devcloud")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pt-killed" in done.stdout and "its launch never finished" in done.stdout
    assert "removed 1 leftover cluster" in done.stdout
    again = cli(cloud_env, "cleanup", "pt-killed", "--older-than", "0s", "--cloud", "devcloud")
    assert "no leftovers" in again.stdout


def test_cleanup_never_touches_a_running_cluster(cloud_env: dict[str, str]) -> None:
    api.launch(spec("pt-alive", workers={"count": 0}), provision_only=True)
    try:
        done = cli(cloud_env, "cleanup", "--older-than", "0s", "--output", "json",
                   "--cloud", "devcloud")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "pt-alive" not in done.stdout
    finally:
        api.destroy("pt-alive", "devcloud")


def test_an_interrupted_destroy_can_be_run_again(cloud_env: dict[str, str], member: Any) -> None:
    api.launch(spec("pt-halfgone", workers={"count": 2}), provision_only=True)
    process = subprocess.Popen(
        [*CLI, "destroy", "pt-halfgone", "--yes", "--cloud", "devcloud"],
        env=cloud_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # progress lines: interrupt once the servers are going
        lines.append(line)
        if "destroy" in line and "servers" in line:
            process.send_signal(signal.SIGINT)
            break
    _, rest = process.communicate(timeout=60)
    stderr = "".join(lines) + rest
    assert process.returncode == 130, stderr
    assert one_error_line(stderr) and "run `sparkstack destroy pt-halfgone` again" in stderr
    finished = cli(cloud_env, "destroy", "pt-halfgone", "--yes", "--cloud", "devcloud")
    assert finished.returncode == 0, finished.stderr
    assert cluster_servers(member, "pt-halfgone") == []


def test_an_unreachable_cloud_during_destroy_is_one_line(
    cloud_env: dict[str, str], devcloud: Any
) -> None:
    api.launch(spec("pt-deadapi", workers={"count": 0}), provision_only=True)
    devcloud.stop_service("nova-api")
    try:
        done = cli(cloud_env, "destroy", "pt-deadapi", "--yes", "--cloud", "devcloud")
    finally:
        devcloud.start_service("nova-api")
    assert done.returncode == 3 and one_error_line(done.stderr), done.stderr
    assert "cannot connect to the cloud" in done.stderr
    removed = api.destroy("pt-deadapi", "devcloud")
    assert removed["servers"] == 1


def test_a_failed_launch_keeps_its_first_cause_when_the_rollback_fails(
    cloud_env: dict[str, str], devcloud: Any
) -> None:
    stopped: list[bool] = []

    def stop_nova(event: Event) -> None:
        if event.phase == "addresses" and event.kind == "phase_started" and not stopped:
            devcloud.stop_service("nova-api")
            devcloud.stop_service("neutron-api")
            stopped.append(True)

    try:
        with pytest.raises(CloudError) as info:
            api.launch(spec("pt-nocloud", workers={"count": 1}), provision_only=True,
                       report=stop_nova)  # fmt: skip
    finally:
        devcloud.start_service("neutron-api")
        devcloud.start_service("nova-api")
    message = str(info.value)
    assert stopped and "\n" not in message
    first, _, rest = message.partition("; the rollback failed too")
    assert "floating IP" in first and "cannot connect" in first  # the launch's own error first
    assert "run `sparkstack destroy pt-nocloud --cloud devcloud`" in rest
    assert api.destroy("pt-nocloud", "devcloud")["servers"] == 2
    assert not isinstance(info.value, ArtifactError)
