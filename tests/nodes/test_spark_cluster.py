"""Spark deployed over SSH on real sshd hosts: 1 master + 2 workers, jobs, node commands."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from conftest import bed_access, bed_cluster

from sparkstack.api import services as api
from sparkstack.cluster import Role
from sparkstack.devcloud.spark_dist import SparkDist
from sparkstack.devcloud.testhosts import TestBed
from sparkstack.events import Event
from sparkstack.nodes.runner import Result
from sparkstack.spec import ClusterSpec, SparkSpec

pytestmark = pytest.mark.testhosts

JOB = Path(__file__).parent / "jobs" / "cluster_check.py"


@pytest.fixture(scope="module")
def known_hosts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kh") / "known_hosts"


@pytest.fixture(scope="module")
def deployed(bed: TestBed, spark_url: str, spark_dist: SparkDist, known_hosts: Path):
    """The cluster after a first deploy from the (local) Spark URL."""
    spec = ClusterSpec(name="spk", spark=SparkSpec(version="4.3.0", url=spark_url))
    cluster = bed_cluster(bed, "spk")
    events: list[Event] = []
    started = time.monotonic()
    report = api.deploy_services(
        cluster, spec, events.append, access=bed_access(bed, known_hosts), health_timeout=120
    )
    return cluster, spec, report, time.monotonic() - started, events


def test_deploy_makes_every_worker_alive(deployed, bed: TestBed, known_hosts: Path) -> None:
    cluster, _spec, report, _seconds, _events = deployed
    assert report.master_url == f"spark://{bed.hosts[0].ip}:7077"
    assert sorted(report.changed) == sorted(h.name for h in bed.hosts)
    assert report.connections == {h.name: 1 for h in bed.hosts}
    status = api.spark_status(cluster, access=bed_access(bed, known_hosts))
    assert status["status"] == "ALIVE"
    assert status["alive_workers"] == 2
    assert status["cores"] == 4
    # pinned on first contact, and the keys are the ones the consoles printed
    pinned = known_hosts.read_text().splitlines()
    assert sorted(pinned) == sorted(f"{h.ip} {h.host_key}" for h in bed.hosts)
