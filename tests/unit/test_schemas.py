"""The JSON of ``describe``, ``launch`` and ``list`` against the schemas scripts rely on.

Real dataclasses go through the CLI's own serialisers (report_data, cluster_data, summary_data),
so a field added to the output without the schema, or a changed type, fails here first.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas import Kind, errors, load, validate
from sparkstack.api.describe import ClusterReport
from sparkstack.api.lifecycle import cluster_state
from sparkstack.cli.clusters import cluster_data, report_data, summary_data
from sparkstack.cluster import Cluster, Expiry, Node, Role
from sparkstack.manifest import ArtifactRecord, Manifest
from sparkstack.services.base import ServiceStatus
from sparkstack.services.pipeline import REGISTRY
from sparkstack.services.reaper import reaper_status
from sparkstack.services.spark import SparkApp, SparkMaster, SparkStatus
from sparkstack.services.zookeeper import ZooKeeperStatus
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA = "ab" * 64


def node(group: str, index: int, role: Role, **changes: Any) -> Node:
    base = Node(
        name=f"demo-{group}-{index}",
        group=group,
        roles=frozenset({role}),
        index=index,
        server_id=f"00000000-0000-0000-0000-00000000000{index}",
        status="ACTIVE",
        flavor="m1.small",
        vcpus=1,
        ram_mb=2048,
        fixed_ip=f"198.18.10.{index + 10}",
        created=CREATED,
    )
    return dataclasses.replace(base, **changes)


def cluster(*nodes: Node) -> Cluster:
    """master-1 and worker-1..2 expected; worker-2 is lost unless given."""
    return Cluster(
        name="demo",
        cloud="devcloud",
        identity="devcloud-demo",
        ssh_user="ubuntu",
        nodes=nodes,
        expected={"master": (1,), "worker": (1, 2)},
        launch_state="ready",
        metadata={"sparkstack_cluster": "demo", "team": "data"},
    )


def two_groups() -> Cluster:
    master = node("master", 1, Role.SPARK_MASTER, floating_ip="198.19.0.7")
    worker = node("worker", 1, Role.SPARK_WORKER)
    return cluster(master, worker)


def manifest() -> Manifest:
    spec = load_spec(
        overrides={
            "name": "demo",
            "workers": {"count": 2, "flavor": "m1.large"},
            "metadata": {"team": "data"},
            "open_ports": [(8080, "198.51.100.0/24")],
            "network": {"dns_nameservers": ["198.51.100.53"]},
            "spark": {
                "url": "https://archive.example.org/spark-4.3.0-bin-hadoop3.tgz",
                "sha512": SHA,
                "conf": {"spark.executor.cores": 1},
                "env": {"SPARK_WORKER_OPTS": "-Dx=y"},
            },
        }
    )
    artifact = ArtifactRecord(
        filename="spark-4.3.0-bin-hadoop3.tgz", sha512=SHA, source=str(spec.spark.url)
    )
    return Manifest.new(spec, ["spark"], {"spark": artifact})


def spark_running() -> SparkStatus:
    return SparkStatus(
        service="spark",
        state="degraded",
        summary="spark://198.18.10.11:7077 ALIVE, 1/2 workers alive",
        problems=["spark worker not alive on demo-worker-2"],
        master_url="spark://198.18.10.11:7077",
        status="ALIVE",
        alive_workers=1,
        expected_workers=2,
        dead_workers=["demo-worker-2"],
        cores=1,
        cores_used=1,
        memory_mb=1024,
        memory_used_mb=512,
        running_apps=[SparkApp("app-20260102030405-0000", "pi", 1)],
    )


def report(c: Cluster, **fields: Any) -> ClusterReport:
    return ClusterReport(c, cluster_state(c), c.lost(), **fields)


def described() -> dict[str, Any]:
    """A describe of a degraded cluster with its manifest and a running Spark application."""
    c = two_groups()
    return report_data(report(c, manifest=manifest(), services=[spark_running()]))


def reports() -> dict[str, ClusterReport]:
    c = two_groups()
    down = SparkStatus(
        "spark",
        "down",
        "no Spark master answers",
        ["no master is ALIVE; `sparkstack configure` restarts stopped daemons"],
        expected_workers=1,
        dead_workers=["demo-worker-1"],
    )
    broken = node("worker", 2, Role.SPARK_WORKER, status="ERROR", fault="No valid host")
    return {
        "running": report(c, manifest=manifest(), services=[spark_running()]),
        "unreachable": report(c, unreachable="demo-master-1: SSH connection refused"),
        "services failed": report(
            c, manifest=manifest(), services=[ServiceStatus("spark", "unreachable", "timed out")]
        ),
        "spark down": report(c, manifest=manifest(), services=[down]),
        "no spark": report(c),  # --no-spark
        "error node, no floating IP": report(
            cluster(node("master", 1, Role.SPARK_MASTER, created=None), broken)
        ),
        "all gone": report(cluster()),
        "scheduled deletion": report(
            dataclasses.replace(c, expiry=Expiry(1767323045, "a1b2", 1767326645)),
            manifest=manifest(),
            services=[
                spark_running(),
                reaper_status(
                    {
                        "running": True,
                        "schedule": {"on_expiry": "delete", "idle_timeout": 120},
                        "state": {"idle_since": 1767323000.5},
                    }
                ),
            ],
        ),
        "scheduled deletion, idle only, busy": report(
            dataclasses.replace(c, expiry=Expiry(None, "a1b2", 1769915045)),
            services=[reaper_status({"running": False, "schedule": {"idle_timeout": 60}})],
        ),
        "several masters": report(
            c,
            manifest=manifest(),
            services=[
                ZooKeeperStatus(
                    "zookeeper",
                    "degraded",
                    "quorum of 3: leader demo-master-2, 1 followers",
                    ["zookeeper not serving on demo-master-3"],
                    leader="demo-master-2",
                    followers=["demo-master-1"],
                    missing=["demo-master-3"],
                ),
                dataclasses.replace(
                    spark_running(),
                    masters=[
                        SparkMaster("demo-master-1", "198.18.64.10", "STANDBY"),
                        SparkMaster("demo-master-2", "198.18.64.11", "ALIVE"),
                        SparkMaster("demo-master-3", "198.18.64.12", "down"),
                    ],
                ),
            ],
        ),
    }


@pytest.mark.parametrize("case", list(reports()))
def test_describe_output_matches_the_schema(case: str) -> None:
    data = json.loads(json.dumps(report_data(reports()[case])))  # as scripts read it
    validate(data, "describe")


def test_describe_shows_what_the_report_holds() -> None:
    data = described()
    assert data["lost"] == ["demo-worker-2"]
    assert data["state"] == "degraded"
    assert data["spark"]["running_apps"] == [
        {"id": "app-20260102030405-0000", "name": "pi", "cores": 1}
    ]
    unreachable = report_data(reports()["unreachable"])
    assert unreachable["spark"] == {
        "status": "unreachable",
        "master_url": None,
        "error": "demo-master-1: SSH connection refused",
    }


def test_launch_output_matches_the_schema_and_is_not_a_describe() -> None:
    c = dataclasses.replace(two_groups(), launch_state="launching")
    data = cluster_data(c)
    validate(data, "launch")
    assert errors(data, "describe"), "a launch output lacks describe's keys"
    assert errors(described(), "launch"), "describe's keys are not launch's"


def test_the_describe_file_alone_takes_both_outputs() -> None:
    """What a script does with the file and any validator: describe or launch output."""
    checker = Draft202012Validator(load("describe.schema.json"))
    assert checker.is_valid(described())
    assert checker.is_valid(cluster_data(two_groups()))
    assert not checker.is_valid({**described(), "extra": 1})


def test_list_output_matches_the_schema() -> None:
    building = node("worker", 2, Role.SPARK_WORKER, status="BUILD")
    clusters = [two_groups(), cluster(*two_groups().nodes, building), cluster()]
    data = [summary_data(c) for c in clusters]
    assert [d["state"] for d in data] == ["degraded", "building", "empty"]
    validate(json.loads(json.dumps(data)), "list")


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(data)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("describe", ("undocumented",), 1),
        ("describe", ("nodes", 0, "undocumented"), 1),
        ("describe", ("groups", "master", "undocumented"), 1),
        ("describe", ("spark", "undocumented"), 1),
        ("describe", ("spark", "running_apps", 0, "undocumented"), 1),
        ("describe", ("services", 0, "undocumented"), 1),
        ("describe", ("manifest", "undocumented"), 1),
        ("describe", ("manifest", "spec", "spark", "undocumented"), 1),
        ("describe", ("manifest", "artifacts", "spark", "undocumented"), 1),
        ("describe", ("state",), "running"),
        ("describe", ("spark", "state"), "fine"),
        ("describe", ("launch_state",), "done"),
        ("describe", ("nodes", 0, "roles"), ["spark-driver"]),
        ("describe", ("nodes", 0, "fixed_ip"), "not-an-ip"),
        ("describe", ("nodes", 0, "created"), "yesterday"),
        ("describe", ("nodes", 0, "vcpus"), "1"),
        ("describe", ("nodes", 0, "floating_ip"), ""),
        ("describe", ("lost",), None),
        ("describe", ("manifest", "format"), 2),
        ("launch", ("undocumented",), 1),
        ("list", (0, "undocumented"), 1),
        ("list", (0, "groups", "master", "undocumented"), 1),
        ("list", (0, "state"), "ACTIVE"),
        ("list", (0, "statuses", "ACTIVE"), 0),
    ],
)
def test_a_field_or_value_the_schema_does_not_document_fails(
    kind: Kind, path: tuple[Any, ...], value: Any
) -> None:
    good: Any = {
        "describe": described(),
        "launch": cluster_data(two_groups()),
        "list": [summary_data(two_groups())],
    }[kind]
    validate(good, kind)
    with pytest.raises(AssertionError, match="does not match its schema"):
        validate(_set(good, path, value), kind)


def test_a_missing_field_fails() -> None:
    data = described()
    del data["nodes"][0]["fault"]
    assert errors(data, "describe") == ["$.nodes[0]: 'fault' is a required property"]


def test_the_enums_are_the_products_own() -> None:
    """A role or service added to the product must be documented; both files share these."""
    describe, listing = load("describe.schema.json"), load("list.schema.json")
    defs = describe["$defs"]
    assert set(defs["role"]["enum"]) == {r.value for r in Role}
    assert set(defs["serviceName"]["enum"]) == {s.name for s in REGISTRY}
    for shared in ("clusterName", "groupName", "clusterState", "serverStatus"):
        assert listing["$defs"][shared] == defs[shared], shared
