"""Pure logic of the Spark service: resource arithmetic, rendered files, checksums, host keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from sparkstack.cluster import Node, Role
from sparkstack.errors import ArtifactError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.files import FileSpec
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet
from sparkstack.services.artifacts import ArtifactSource, parse_sha512, resolve
from sparkstack.services.base import Deployment, Host, NodeFacts
from sparkstack.services.spark import (
    BLOCK_MANAGER_PORT,
    DRIVER_PORT,
    SparkStandalone,
    default_url,
    master_url,
    resources_for,
)
from sparkstack.spec import load_spec
from sparkstack.templating import propvalue

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("vcpus", "ram", "cores", "worker_mb", "daemon_mb", "executor_mb", "small"),
    [
        (2, 2048, 2, 1280, 128, 512, True),  # m1.small-like: small JVMs, 512m executors
        (4, 8192, 4, 6733, 512, 6016, False),
        (16, 65536, 16, 62336, 1024, 56064, False),  # Spark's default 1g daemons from 16 GiB
        (1, 512, 1, 512, 128, 512, True),  # never below what an executor needs
    ],
)
def test_resources_leave_headroom(
    vcpus: int,
    ram: int,
    cores: int,
    worker_mb: int,
    daemon_mb: int,
    executor_mb: int,
    small: bool,
) -> None:
    res = resources_for(vcpus, ram)
    assert (res.worker_cores, res.worker_memory_mb, res.daemon_memory_mb) == (
        cores,
        worker_mb,
        daemon_mb,
    )
    assert (res.executor_memory_mb, res.small) == (executor_mb, small)
    assert res.executor_memory_mb <= res.worker_memory_mb


def test_master_url_lists_every_master() -> None:
    assert master_url(["198.18.64.5", "198.18.64.6"]) == "spark://198.18.64.5:7077,198.18.64.6:7077"


def test_default_url_is_apache_archive() -> None:
    assert default_url("4.3.0") == (
        "https://archive.apache.org/dist/spark/spark-4.3.0/spark-4.3.0-bin-hadoop3.tgz"
    )


def _deployment(
    conf: dict[str, str], env: dict[str, str], *, both_on_one: bool = False
) -> tuple[SparkStandalone, Deployment]:
    def node(name: str, roles: set[Role], ip: str) -> Node:
        return Node(name, name.split("-")[1], frozenset(roles), 1, name, "ACTIVE", "m1.small",
                    2, 2048, fixed_ip=ip)  # fmt: skip

    if both_on_one:
        nodes = [node("c-solo-1", {Role.SPARK_MASTER, Role.SPARK_WORKER}, "198.18.64.10")]
    else:
        nodes = [
            node("c-master-1", {Role.SPARK_MASTER}, "198.18.64.10"),
            node("c-worker-1", {Role.SPARK_WORKER}, "198.18.64.11"),
        ]
    hosts = [Host(n, Target(n.name, n.fixed_ip or "", "ubuntu")) for n in nodes]
    access = SSHAccess(Path("/nonexistent"), HostKeyStore(Path("/nonexistent")))
    facts = NodeFacts(
        {"user": "ubuntu", "group": "ubuntu", "java_home": "/usr/lib/jvm/j17", "systemd": "1"}
    )
    dep = Deployment("c", hosts, Fleet(access), facts={h.name: facts for h in hosts})
    dep.secrets = {"spark": "s3cret"}
    spec = load_spec(None, {"name": "c", "spark": {"conf": conf, "env": env}})
    return SparkStandalone(spec), dep


def _properties(text: str) -> dict[str, str]:
    return dict(
        tuple(line.split(None, 1)) for line in text.splitlines() if line[:1] not in ("#", "")
    )


def test_rendered_files_bind_private_ip_and_take_user_overrides() -> None:
    async def render() -> tuple[dict[str, FileSpec], dict[str, FileSpec]]:
        service, dep = _deployment({"spark.executor.memory": "700m"}, {"MY_VAR": "a b"})
        return service.render(dep, dep.hosts[0]), service.render(dep, dep.hosts[1])

    master, worker = asyncio.run(render())
    env = worker["/opt/spark/conf/spark-env.sh"].content
    assert "SPARK_LOCAL_IP=198.18.64.11\n" in env
    assert "SPARK_LOCAL_HOSTNAME=198.18.64.11\n" in env
    assert "SPARK_WORKER_CORES=2\nSPARK_WORKER_MEMORY=1280m\nSPARK_WORKER_PORT=7078\n" in env
    assert "SPARK_WORKER_DIR=/var/lib/spark/work" in env
    assert "MY_VAR='a b'\n" in env
    assert "SPARK_MASTER_HOST" not in env
    assert "SPARK_MASTER_HOST=198.18.64.10\n" in master["/opt/spark/conf/spark-env.sh"].content
    defaults = worker["/opt/spark/conf/spark-defaults.conf"]
    assert (defaults.mode, defaults.owner) == (0o600, "ubuntu")
    lines = _properties(defaults.content)
    assert lines["spark.master"] == "spark://198.18.64.10:7077"
    assert lines["spark.authenticate.secret"] == "s3cret"
    assert lines["spark.executor.memory"] == "700m"  # the user's value wins
    assert lines["spark.driver.port"] == str(DRIVER_PORT)  # pinned: the security group opens it
    assert lines["spark.blockManager.port"] == str(BLOCK_MANAGER_PORT)
    unit = worker["/etc/systemd/system/sparkstack-spark-worker.service"].content
    assert "ExecStart=/opt/spark/sbin/start-worker.sh spark://198.18.64.10:7077\n" in unit
    assert "User=ubuntu\n" in unit
    assert "/etc/systemd/system/sparkstack-spark-master.service" in master
    assert "/var/lib/spark/spark-worker-ctl.sh" not in master


def test_a_node_with_both_roles_runs_both_daemons() -> None:
    service, dep = _deployment({}, {}, both_on_one=True)
    files = service.render(dep, dep.hosts[0])
    env = files["/opt/spark/conf/spark-env.sh"].content
    assert "SPARK_MASTER_HOST=198.18.64.10" in env and "SPARK_WORKER_CORES=2" in env
    assert {"/var/lib/spark/spark-master-ctl.sh", "/var/lib/spark/spark-worker-ctl.sh"} <= set(
        files
    )


def test_ports_follow_the_conf() -> None:
    service, _dep = _deployment({"spark.driver.port": "9000", "spark.port.maxRetries": "4"}, {})
    ranges = {(p.first, p.last) for p in service.ports()}
    assert (9000, 9004) in ranges and (BLOCK_MANAGER_PORT, BLOCK_MANAGER_PORT + 4) in ranges
    anywhere, _ = _deployment({"spark.blockManager.port": "0"}, {})
    assert (32768, 60999) in {(p.first, p.last) for p in anywhere.ports()}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("C:\\temp", "C:\\\\temp"),  # a backslash would start an escape
        ("ends\\", "ends\\\\"),  # a trailing one would join the next line
        ("  lead", "\\ \\ lead"),  # leading blanks would be dropped
        ("a=b:c #d", "a=b:c #d"),
    ],
)
def test_properties_values_are_escaped(value: str, written: str) -> None:
    assert propvalue(value) == written


def test_sha512_files_in_both_published_formats() -> None:
    digest = "0123456789abcdef" * 8
    assert parse_sha512(f"{digest}  spark-4.3.0-bin-hadoop3.tgz\n") == digest
    gpg = "spark-3.1.1-bin-hadoop3.2.tgz: " + " ".join(
        digest[i : i + 8].upper() for i in range(0, 128, 8)
    )
    assert parse_sha512(gpg) == digest
    with pytest.raises(ArtifactError):
        parse_sha512("<html>not found</html>")


def test_local_tarball_checked_against_sidecar(tmp_path: Path) -> None:
    tarball = tmp_path / "spark.tgz"
    tarball.write_bytes(b"not really a tarball")
    (tmp_path / "spark.tgz.sha512").write_text("0" * 128 + "  spark.tgz\n")
    source = ArtifactSource("spark", path=tarball)
    with pytest.raises(ArtifactError, match="nothing was created"):
        resolve(source, tmp_path / "cache")
    (tmp_path / "spark.tgz.sha512").unlink()
    artifact = resolve(source, tmp_path / "cache")
    assert len(artifact.sha512) == 128 and artifact.local == tarball


def test_host_keys_pinned_once_and_checked_against_console(tmp_path: Path) -> None:
    one = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    line = " ".join(one.export_public_key().decode().split()[:2])
    store = HostKeyStore(tmp_path / "known_hosts", expected={"198.18.64.10": [line]})
    assert not store.admit("198.18.64.10", other.convert_to_public())  # not the console's key
    assert store.admit("198.18.64.10", one.convert_to_public())
    assert store.pinned("198.18.64.10") == [one.convert_to_public()]
    assert not store.admit("198.18.64.10", other.convert_to_public())  # changed later: refused
    assert "changed" in store.refusals["198.18.64.10"]
    # a console that showed no key: refused, unless the user trusts first keys
    assert not store.admit("198.18.64.99", other.convert_to_public())
    assert "--trust-first-host-key" in store.refusals["198.18.64.99"]
    trusting = HostKeyStore(tmp_path / "known_hosts", {"198.18.64.99": []}, trust_first=True)
    assert trusting.admit("198.18.64.99", other.convert_to_public())
    assert (tmp_path / "known_hosts").stat().st_mode & 0o777 == 0o600
