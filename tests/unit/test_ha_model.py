"""Several masters: the spec's quorum rules and ZooKeeper's pure logic (ids, modes, zoo.cfg)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkstack.cluster import Node, Role
from sparkstack.errors import SpecError
from sparkstack.nodes.connection import SSHAccess, Target
from sparkstack.nodes.hostkeys import HostKeyStore
from sparkstack.nodes.runner import Fleet
from sparkstack.services.base import Deployment, Host, NodeFacts
from sparkstack.services.pipeline import services_for
from sparkstack.services.spark import SparkStandalone
from sparkstack.services.zookeeper import ZooKeeper, myids, parse_mode
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit


def roles(spec_groups: dict[str, object]) -> dict[str, list[str]]:
    spec = load_spec(None, {"name": "ha", **spec_groups})
    return {name: [r.value for r in g.roles] for name, g in spec.groups.items()}


def test_three_masters_also_run_zookeeper() -> None:
    assert roles({"masters": {"count": 3}}) == {
        "master": ["spark-master", "zookeeper"],
        "worker": ["spark-worker"],
    }
    assert roles({"masters": {"count": 1}})["master"] == ["spark-master"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"masters": {"count": 2}}, r"ensemble of 2 has no quorum .* use 3 masters"),
        ({"masters": {"count": 4}}, r"4 ZooKeeper nodes: an even ensemble"),
        (
            {"groups": {"master": {"count": 3, "roles": ["spark-master"]}}},
            r"need a ZooKeeper ensemble .* roles: \[spark-master, zookeeper\]",
        ),
        (
            {
                "masters": {"count": 3},
                "spark": {"conf": {"spark.deploy.recoveryMode": "FILESYSTEM"}},
            },
            r"two leaders at once",
        ),
        ({"zookeeper": {"tick_ms": 4000, "session_timeout_ms": 6000}}, r"2 x tick_ms"),
    ],
)
def test_unsafe_ensembles_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(None, {"name": "ha", **overrides})


def test_two_masters_with_zookeeper_on_a_third_node_are_fine() -> None:
    spec = load_spec(
        None,
        {
            "name": "ha",
            "groups": {
                "master": {"count": 2, "roles": ["spark-master", "zookeeper"]},
                "quorum": {"count": 1, "flavor": "m1.tiny", "roles": ["zookeeper"]},
                "worker": {"count": 2, "roles": ["spark-worker"]},
            },
        },
    )
    assert [s.name for s in services_for(spec)] == ["zookeeper", "spark"]
    assert SparkStandalone(spec).depends_on() == ("zookeeper",)
    assert SparkStandalone(load_spec(None, {"name": "one"})).depends_on() == ()


def _host(name: str, group: str, index: int, ip: str, *role: Role) -> Host:
    node = Node(name, group, frozenset(role), index, name, "ACTIVE", "m1.small", 1, 2048,
                fixed_ip=ip)  # fmt: skip
    return Host(node, Target(name, ip, "ubuntu"))


def test_myids_stay_put_when_a_peer_is_lost() -> None:
    peers = [
        _host("c-master-1", "master", 1, "198.18.64.11", Role.ZOOKEEPER),
        _host("c-master-2", "master", 2, "198.18.64.12", Role.ZOOKEEPER),
        _host("c-quorum-1", "quorum", 1, "198.18.64.13", Role.ZOOKEEPER),
    ]
    assert myids(peers) == {"c-master-1": 1, "c-master-2": 2, "c-quorum-1": 1001}
    assert myids(peers[1:]) == {"c-master-2": 2, "c-quorum-1": 1001}


def test_modes_from_srvr() -> None:
    assert parse_mode("Zookeeper version: 3.9.5\nLatency min/avg/max: 0/0.0/0\nMode: leader\n")
    assert parse_mode("Mode: follower\nNode count: 5\n") == "follower"
    assert parse_mode("This ZooKeeper instance is not currently serving requests") is None


def test_zoo_cfg_lists_every_peer_and_caps_sessions() -> None:
    spec = load_spec(None, {"name": "ha", "masters": {"count": 3},
                            "zookeeper": {"session_timeout_ms": 8000}})  # fmt: skip
    peers = [
        _host(f"ha-master-{i}", "master", i, f"198.18.64.1{i}", Role.ZOOKEEPER, Role.SPARK_MASTER)
        for i in (1, 2, 3)
    ]
    facts = NodeFacts({"user": "ubuntu", "group": "ubuntu", "java_home": "/usr/lib/jvm/j17"})
    access = SSHAccess(Path("/nonexistent"), HostKeyStore(Path("/nonexistent")))
    dep = Deployment("ha", peers, Fleet(access), facts={h.name: facts for h in peers})
    files = ZooKeeper(spec).render(dep, peers[1])
    config = files["/opt/zookeeper/conf/zoo.cfg"].content
    assert "maxSessionTimeout=8000\n" in config and "minSessionTimeout=2000\n" in config
    assert "4lw.commands.whitelist=srvr,ruok,mntr,cons\n" in config
    assert "admin.enableServer=false\n" in config  # its AdminServer would take 8080
    for i in (1, 2, 3):
        assert f"server.{i}=198.18.64.1{i}:2888:3888\n" in config
    assert files["/var/lib/zookeeper/myid"].content == "2\n"
    dep.outputs = {"zookeeper.connect": "198.18.64.11:2181,198.18.64.12:2181,198.18.64.13:2181"}
    dep.secrets = {"spark": "s"}
    conf = SparkStandalone(spec).defaults_conf(dep)
    assert conf["spark.deploy.recoveryMode"] == "ZOOKEEPER"
    assert conf["spark.deploy.zookeeper.url"] == dep.outputs["zookeeper.connect"]
    assert conf["spark.deploy.zookeeper.dir"] == "/sparkstack/ha/spark"
    assert conf["spark.master"] == ("spark://198.18.64.11:7077,198.18.64.12:7077,198.18.64.13:7077")
