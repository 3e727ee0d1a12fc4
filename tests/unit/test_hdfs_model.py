"""HDFS and resizing, their pure logic: roles from --hdfs, the NameNode's JMX read back, the
site files, the order Spark depends on, the numbering and counts a resize keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sparkstack.cloud.naming import GroupMembers
from sparkstack.cloud.resize import next_index
from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import SpecError
from sparkstack.manifest import Manifest
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment, Host, NodeFacts
from sparkstack.services.hdfs import DECOMMISSIONED, IN_SERVICE, Hdfs, heap_mb, parse_report
from sparkstack.services.pipeline import services_for
from sparkstack.services.spark import SparkStandalone
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit


def _roles(overrides: dict[str, object]) -> dict[str, list[str]]:
    spec = load_spec(None, {"name": "lake", **overrides})
    return {name: [r.value for r in g.roles] for name, g in spec.groups.items()}


def test_hdfs_puts_a_namenode_on_the_masters_and_datanodes_on_the_workers() -> None:
    assert _roles({"hdfs": {"enabled": True}}) == {
        "master": ["spark-master", "hdfs-namenode"],
        "worker": ["spark-worker", "hdfs-datanode"],
    }
    assert _roles({})["worker"] == ["spark-worker"]
    groups = {
        "master": {"count": 1, "roles": ["spark-master"]},
        "small": {"count": 2, "roles": ["spark-worker"]},
        "big": {"count": 1, "roles": ["spark-worker"]},
    }
    found = _roles({"groups": groups, "hdfs": {"enabled": True}})
    assert found["small"] == found["big"] == ["spark-worker", "hdfs-datanode"]


def test_a_manifest_read_back_keeps_the_roles_once() -> None:
    spec = load_spec(None, {"name": "lake", "hdfs": {"enabled": True}})
    again = load_spec(base=spec.model_dump(mode="json"))
    assert again.groups == spec.groups and again.hdfs.enabled


def test_roles_alone_turn_hdfs_on() -> None:
    groups = {
        "master": {"count": 1, "roles": ["spark-master", "hdfs-namenode"]},
        "worker": {"count": 2, "roles": ["spark-worker", "hdfs-datanode"]},
    }
    assert load_spec(None, {"name": "lake", "groups": groups}).hdfs.enabled


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"hdfs": {"enabled": True, "replication": 3}},
            "needs as many DataNodes, the groups have 2",
        ),
        ({"hdfs": {"data_dir": "relative/dir"}}, "an absolute path of plain names"),
        ({"hdfs": {"data_dir": "/srv/../etc"}}, "'.' and '..' are not allowed"),
        ({"hdfs": {"conf": {"Dfs.x": "1"}}}, "a Hadoop property looks like"),
    ],
)
def test_hdfs_settings_that_cannot_work_are_refused(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(None, {"name": "lake", **overrides})


def test_spark_runs_after_hdfs_and_writes_with_its_replication() -> None:
    spec = load_spec(None, {"name": "lake", "hdfs": {"enabled": True, "replication": 1}})
    assert [s.name for s in services_for(spec)] == ["hdfs", "spark"]
    hosts = _two_hosts()
    dep = _deployment(hosts)
    dep.outputs = Hdfs(spec).outputs(dep)
    dep.secrets = {"spark": "s"}
    conf = SparkStandalone(spec).defaults_conf(dep)
    assert conf["spark.hadoop.fs.defaultFS"] == "hdfs://198.18.64.11:8020"
    assert conf["spark.hadoop.dfs.replication"] == "1"
    assert conf["spark.decommission.enabled"] == "true"


def test_each_node_binds_and_advertises_its_own_address() -> None:
    spec = load_spec(None, {"name": "lake", "hdfs": {"enabled": True, "conf": {"a.b": "<&>"}}})
    hosts = _two_hosts()
    dep = _deployment(hosts)
    files = Hdfs(spec).render(dep, hosts[1])
    site = files["/opt/hadoop/etc/hadoop/hdfs-site.xml"].content
    assert "<name>dfs.datanode.address</name><value>198.18.64.12:9866</value>" in site
    assert "<name>dfs.namenode.rpc-address</name><value>198.18.64.11:8020</value>" in site
    assert "<value>&lt;&amp;&gt;</value>" in site  # values are XML-escaped
    assert "/var/lib/hadoop/hdfs-datanode-ctl.sh" in files
    assert "/var/lib/hadoop/hdfs-namenode-ctl.sh" not in files
    master = Hdfs(spec).render(dep, hosts[0])
    ctl = master["/var/lib/hadoop/hdfs-namenode-ctl.sh"].content
    assert "namenode -format -nonInteractive -clusterId sparkstack-lake" in ctl
    assert "/var/lib/hadoop/hdfs/name/current/VERSION" in ctl  # formatted once


def test_the_namenode_report_is_read_from_jmx() -> None:
    live = {"198.18.64.12:9866": {"xferaddr": "198.18.64.12:9866", "adminState": IN_SERVICE,
                                  "used": 1000, "remaining": 5000},
            "198.18.64.13:9866": {"xferaddr": "198.18.64.13:9866",
                                  "adminState": "Decommission In Progress"}}  # fmt: skip
    dead = {"198.18.64.14:9866": {"xferaddr": "198.18.64.14:9866", "decommissioned": True}}
    beans = {
        "NameNodeInfo": {"LiveNodes": json.dumps(live), "DeadNodes": json.dumps(dead),
                         "Safemode": ""},
        "FSNamesystem": {"CapacityUsed": 1000, "CapacityRemaining": 5000,
                         "UnderReplicatedBlocks": 7, "MissingBlocks": 0},
    }  # fmt: skip
    report = parse_report(beans, {"198.18.64.12": "lake-worker-1"})
    assert not report.safe_mode and report.under_replicated == 7
    one = report.at("198.18.64.12")
    assert one is not None and one.node == "lake-worker-1" and one.live and one.used_bytes == 1000
    gone = report.at("198.18.64.14")
    assert gone is not None and not gone.live and gone.admin_state == DECOMMISSIONED
    assert parse_report({"NameNodeInfo": {"LiveNodes": "not json"}}, {}).datanodes == []
    assert parse_report({"NameNodeInfo": {"Safemode": "Safe mode is ON."}}, {}).safe_mode


def test_heaps_grow_with_the_node() -> None:
    assert heap_mb(Role.HDFS_NAMENODE, 2048) == 256 and heap_mb(Role.HDFS_DATANODE, 2048) == 128
    assert heap_mb(Role.HDFS_NAMENODE, 262144) == 4096
    assert heap_mb(Role.HDFS_DATANODE, 262144) == 1024


def test_new_nodes_never_take_a_name_used_before() -> None:
    nodes = tuple(_host(f"c-worker-{i}", f"198.18.64.{i}", Role.SPARK_WORKER).node for i in (1, 5))
    cluster = Cluster("c", "cloud", "id", "ubuntu", nodes)
    assert next_index({"worker": GroupMembers((1, 2), 3)}, cluster, "worker") == 6
    assert next_index({"worker": GroupMembers((1,), 9)}, cluster, "worker") == 9
    assert next_index({}, cluster, "other") == 1


def test_a_resized_manifest_keeps_everything_but_the_counts() -> None:
    spec = load_spec(None, {"name": "lake", "workers": {"count": 3}})
    manifest = Manifest.new(spec, ["spark"], {})
    grown = manifest.with_counts({"worker": 5})
    assert grown.spec["groups"]["worker"]["count"] == 5
    assert grown.spec["groups"]["master"] == manifest.spec["groups"]["master"]
    assert grown.created == manifest.created and grown.updated >= manifest.updated
    assert grown.cluster_spec().count(Role.SPARK_WORKER) == 5
    assert isinstance(grown.updated, datetime) and grown.updated.tzinfo == UTC


def _two_hosts() -> list[Host]:
    return [
        _host("lake-master-1", "198.18.64.11", Role.SPARK_MASTER, Role.HDFS_NAMENODE),
        _host("lake-worker-1", "198.18.64.12", Role.SPARK_WORKER, Role.HDFS_DATANODE),
    ]


def _host(name: str, ip: str, *role: Role) -> Host:
    group, index = name.rsplit("-", 2)[1], int(name.rsplit("-", 1)[1])
    node = Node(name, group, frozenset(role), index, name, "ACTIVE", "m1.small", 1, 2048,
                fixed_ip=ip)  # fmt: skip
    return Host(node, Target(name, ip, "ubuntu"))


def _deployment(hosts: list[Host]) -> Deployment:
    facts = NodeFacts({"user": "ubuntu", "group": "ubuntu", "java_home": "/usr/lib/jvm/j17"})
    access = SSHAccess(Path("/nonexistent"), HostKeyStore(Path("/nonexistent")))
    return Deployment("lake", hosts, Fleet(access), facts={h.name: facts for h in hosts})
