"""Pure logic of the Spark service: resource arithmetic, rendered files, checksums, host keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import ServiceError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment, Host, NodeFacts
from sparkstack.services.download import Artifact, local_artifact, parse_sha512
from sparkstack.services.spark import SparkStandalone, default_url, master_url, resources_for
from sparkstack.spec import SparkSpec

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


def _deployment(conf: dict[str, str], env: dict[str, str]) -> tuple[SparkStandalone, Deployment]:
    def node(name: str, role: Role, i: int, ip: str) -> Node:
        return Node(name, role, i, name, "ACTIVE", "m1.small", 2, 2048, fixed_ip=ip)

    nodes = (
        node("c-master-1", Role.MASTER, 0, "198.18.64.10"),
        node("c-worker-1", Role.WORKER, 0, "198.18.64.11"),
    )
    cluster = Cluster("c", "cloud", "ubuntu", nodes, 1, 1)
    hosts = [Host(n, Target(n.name, n.fixed_ip or "", "ubuntu")) for n in nodes]
    access = SSHAccess(Path("/nonexistent"), HostKeyStore(Path("/nonexistent")))
    facts = NodeFacts(
        {"user": "ubuntu", "group": "ubuntu", "java_home": "/usr/lib/jvm/j17", "systemd": "1"}
    )
    dep = Deployment(cluster, hosts, Fleet(access), facts={h.name: facts for h in hosts})
    spec = SparkSpec(conf=conf, env=env)
    return SparkStandalone(spec, Artifact(Path("x.tgz"), "ab" * 64), "s3cret"), dep


def test_rendered_files_bind_private_ip_and_take_user_overrides() -> None:
    async def render() -> tuple[dict[str, tuple[str, int, str]], dict[str, tuple[str, int, str]]]:
        service, dep = _deployment({"spark.executor.memory": "700m"}, {"MY_VAR": "a b"})
        return service.render(dep, dep.hosts[0]), service.render(dep, dep.hosts[1])

    master, worker = asyncio.run(render())
    env = worker["/opt/spark/conf/spark-env.sh"][0]
    assert "SPARK_LOCAL_IP=198.18.64.11\n" in env
    assert "SPARK_LOCAL_HOSTNAME=198.18.64.11\n" in env
    assert "SPARK_WORKER_CORES=2\nSPARK_WORKER_MEMORY=1280m\n" in env
    assert "SPARK_WORKER_DIR=/var/lib/spark/work" in env
    assert "MY_VAR='a b'\n" in env
    assert "SPARK_MASTER_HOST" not in env
    assert "SPARK_MASTER_HOST=198.18.64.10\n" in master["/opt/spark/conf/spark-env.sh"][0]
    defaults, mode, owner = worker["/opt/spark/conf/spark-defaults.conf"]
    assert (mode, owner) == (0o600, "ubuntu")
    lines = {tuple(line.split(None, 1)) for line in defaults.splitlines() if line[:1] != "#"}
    assert ("spark.master", "spark://198.18.64.10:7077") in lines
    assert ("spark.authenticate.secret", "s3cret") in lines
    assert ("spark.executor.memory", "700m") in lines  # the user's value wins
    unit = worker["/etc/systemd/system/sparkstack-spark-worker.service"][0]
    assert "ExecStart=/opt/spark/sbin/start-worker.sh spark://198.18.64.10:7077\n" in unit
    assert "User=ubuntu\n" in unit
    assert "/etc/systemd/system/sparkstack-spark-master.service" in master


def test_sha512_files_in_both_published_formats() -> None:
    digest = "0123456789abcdef" * 8
    assert parse_sha512(f"{digest}  spark-4.3.0-bin-hadoop3.tgz\n") == digest
    gpg = "spark-3.1.1-bin-hadoop3.2.tgz: " + " ".join(
        digest[i : i + 8].upper() for i in range(0, 128, 8)
    )
    assert parse_sha512(gpg) == digest
    with pytest.raises(ServiceError):
        parse_sha512("<html>not found</html>")


def test_local_tarball_checked_against_sidecar(tmp_path: Path) -> None:
    tarball = tmp_path / "spark.tgz"
    tarball.write_bytes(b"not really a tarball")
    (tmp_path / "spark.tgz.sha512").write_text("0" * 128 + "  spark.tgz\n")
    with pytest.raises(ServiceError, match="nothing was installed"):
        local_artifact(tarball, None)
    (tmp_path / "spark.tgz.sha512").unlink()
    assert len(local_artifact(tarball, None).sha512) == 128


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
    assert store.admit("198.18.64.99", other.convert_to_public())  # no console keys: first use
    assert (tmp_path / "known_hosts").stat().st_mode & 0o777 == 0o600
