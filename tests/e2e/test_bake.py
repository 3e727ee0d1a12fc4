"""A baked image on the devcloud's data plane: ``image bake`` with Spark (the devcloud's snapshot
is a real image: the server's disk changes), a launch of 1+2 from it that downloads, stages and
unpacks nothing (the events say so, the nodes agree), a job on it, a bake of a taken name
refused before anything is made, another tarball installed as usual, and Ctrl-C during a bake
(the install, the snapshot) leaving nothing. The tests share one image and run in file order.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers, one_error_line
from sparkstack.cloud import naming
from sparkstack.cloud.images import BAKED_FLAG, BAKED_SOFTWARE

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

IMAGE = "tbake-img"
BAKE_CLUSTER = "bake-tbake-img"
NAME = "tbake-l"
#: A bake interrupted by Ctrl-C at each of these moments (its progress lines) leaves nothing.
MOMENTS = {"install": "sparkstack: install 0/1 started", "snapshot": "sparkstack: snapshot started"}
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _lines(stderr: str, phase: str) -> list[str]:
    """The progress lines of ``phase`` (stderr is a pipe: one ``sparkstack: <phase>`` line
    per event)."""
    return [line for line in stderr.splitlines() if line.startswith(f"sparkstack: {phase} ")]


def _nothing_of(conn: Any, cluster: str) -> list[str]:
    """What the cloud still has of ``cluster``, by its tag."""
    tag = naming.cluster_tag(cluster)
    left = [f"server {s.name}" for s in cluster_servers(conn, cluster)]
    left += [f"security group {g.name}" for g in conn.network.security_groups(tags=tag)]
    left += [f"floating IP {ip.floating_ip_address}" for ip in conn.network.ips(tags=tag)]
    kp = conn.compute.find_keypair(naming.owned_name(cluster), ignore_missing=True)
    return left + ([f"keypair {kp.name}"] if kp else [])


@pytest.fixture(scope="module")
def baked(shell: Any, devcloud: Any, spark_tarball: Any) -> Iterator[dict[str, Any]]:
    """The baked image as ``image list --output json`` shows it (plus ``stderr``: the bake's
    events, one line each in a pipe); deleted at the end, whatever happened."""
    conn = devcloud.connect()
    try:
        done = shell("image", "bake", IMAGE, "--spark-tarball", str(spark_tarball.tarball))
        listed = json.loads(shell("image", "list", "--output", "json").stdout)
        (image,) = [i for i in listed if i["name"] == IMAGE]
        yield {**image, "stderr": done.stderr, "stdout": done.stdout}
    finally:
        shell("destroy", BAKE_CLUSTER, "--yes", check=False)
        for image in conn.image.images(name=IMAGE):
            conn.image.delete_image(image, ignore_missing=True)


@pytest.fixture(scope="module")
def launched(shell: Any, baked: dict[str, Any], spark_tarball: Any) -> Iterator[Any]:
    """A launch of 1+2 from the baked image (its completed process: the events on stderr);
    destroyed at the end."""
    try:
        yield shell(
            "launch", NAME, "--image", IMAGE, "--masters", "1", "--workers", "2",
            "--spark-tarball", str(spark_tarball.tarball),
        )  # fmt: skip
    finally:
        shell("destroy", NAME, "--yes", check=False)


def test_the_bake_makes_an_image_that_says_what_it_holds(
    shell: Any, devcloud: Any, baked: dict[str, Any], spark_tarball: Any
) -> None:
    assert baked["status"] == "active" and baked["origin"] == "baked"
    assert _lines(baked["stderr"], "install"), "the bake installs Spark as launch does"
    assert _lines(baked["stderr"], "snapshot")
    assert f"image {IMAGE} ({baked['id']}) active" in baked["stdout"]
    image = devcloud.connect().image.get_image(baked["id"])
    assert image.properties[BAKED_FLAG] == "true"
    spark = json.loads(image.properties[BAKED_SOFTWARE])["spark"]
    assert spark["version"] == "4.3.0"
    assert spark["sha512"] == spark_tarball.sha512
    assert spark["install_dir"] == f"/opt/sparkstack/spark-4.3.0-{spark_tarball.sha512[:12]}"
    assert "sparkstack-baked" in image.tags


def test_the_bake_leaves_no_server_nor_anything_else(devcloud: Any, baked: dict[str, Any]) -> None:
    assert _nothing_of(devcloud.connect(), BAKE_CLUSTER) == []


def test_a_bake_of_a_taken_name_is_refused_before_anything_is_made(
    shell: Any, devcloud: Any, baked: dict[str, Any], spark_tarball: Any
) -> None:
    again = shell(
        "image", "bake", IMAGE, "--spark-tarball", str(spark_tarball.tarball), check=False
    )
    assert again.returncode == 2, again.stderr
    assert "exists already" in again.stderr and one_error_line(again.stderr)
    assert not _lines(again.stderr, "resources") and not _lines(again.stderr, "servers")
    conn = devcloud.connect()
    assert _nothing_of(conn, BAKE_CLUSTER) == []
    assert [i.id for i in conn.image.images(name=IMAGE)] == [baked["id"]]


def test_a_launch_from_it_downloads_stages_and_unpacks_nothing(launched: Any) -> None:
    events = launched.stderr
    said = _lines(events, "baked")
    assert any("spark: baked into the image, not downloaded (install checked)" in line
               for line in said), events  # fmt: skip
    assert any(line.startswith("sparkstack: baked 3/3") for line in said), events
    for phase in ("download", "install"):
        assert not _lines(events, phase), f"a {phase} happened:\n{events}"


def test_its_nodes_hold_the_baked_install_and_their_own_identity(
    shell: Any, launched: Any, spark_tarball: Any
) -> None:
    probe = (
        "echo marker=$(cat /opt/spark/.sparkstack-sha512); "
        "echo staged=$(ls /var/lib/sparkstack/artifacts 2>/dev/null | wc -l); "
        "echo hostkey=$(cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub)"
    )
    done = shell("run-command", NAME, "--", probe)
    lines = done.stdout.splitlines()
    assert sum(f"marker={spark_tarball.sha512}" in line for line in lines) == 3, done.stdout
    assert sum("staged=0" in line for line in lines) == 3, "no tarball reached a node"
    keys = {line.split("hostkey=")[1] for line in lines if "hostkey=" in line}
    assert len(keys) == 3, "each server makes its own SSH host key"


def test_a_job_runs_on_the_cluster_from_the_baked_image(shell: Any, launched: Any) -> None:
    names = [f"{NAME}-worker-1", f"{NAME}-worker-2"]
    done = shell("submit", NAME, str(EXAMPLES / "pi.py"), "--", "8")
    assert "Pi is roughly 3.1" in done.stdout, done.stdout + done.stderr
    ran_on = done.stdout.split("tasks ran on:")[1].splitlines()[0]
    assert all(worker in ran_on for worker in names)


def test_destroy_leaves_nothing_of_it(shell: Any, devcloud: Any, launched: Any) -> None:
    shell("destroy", NAME, "--yes")
    assert _nothing_of(devcloud.connect(), NAME) == []


def test_another_tarball_than_the_baked_one_gets_the_normal_install(
    shell: Any, baked: dict[str, Any], spark_tarball: Any, tmp_path: Path
) -> None:
    other = tmp_path / spark_tarball.tarball.name
    # the same files (an empty gzip member at the end unpacks to nothing), another SHA-512
    other.write_bytes(spark_tarball.tarball.read_bytes() + gzip.compress(b""))
    name = "tbake-other"
    try:
        done = shell(
            "launch", name, "--image", IMAGE, "--masters", "1", "--workers", "0",
            "--spark-tarball", str(other),
        )  # fmt: skip
        assert _lines(done.stderr, "install") and not _lines(done.stderr, "baked"), done.stderr
    finally:
        shell("destroy", name, "--yes", check=False)


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_during_a_bake_leaves_nothing(
    shell: Any, devcloud: Any, spark_tarball: Any, moment: str
) -> None:
    image = f"tbake-int-{moment}"
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "image", "bake", image,
         "--spark-tarball", str(spark_tarball.tarball)],
        env=shell.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if line.startswith(MOMENTS[moment]):
                process.send_signal(signal.SIGINT)
        process.wait(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = "".join(lines)
    assert any(line.startswith(MOMENTS[moment]) for line in lines), stderr
    assert process.returncode == 130, stderr
    assert "everything this bake created has been removed" in stderr and one_error_line(stderr)
    conn = devcloud.connect()
    assert _nothing_of(conn, f"bake-{image}") == []
    assert list(conn.image.images(name=image)) == []
