"""Pure logic of the provisioning layer: spec merging, naming, suggestions, quota arithmetic."""

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sparkstack import keys, paths
from sparkstack.api.access import hosts_of
from sparkstack.api.lifecycle import cluster_state, group_requests
from sparkstack.cloud import naming
from sparkstack.cloud.connection import cloud_identity
from sparkstack.cloud.console import parse_host_keys
from sparkstack.cloud.layout import GroupRequest
from sparkstack.cloud.preflight import Flavor, Need, Plan, quota_needs, suggest
from sparkstack.cloud.security import PortRange, ingress_rules, rule_count
from sparkstack.cloud.servers import BootOptions, server_request
from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import NodeError, SpecError, UsageError
from sparkstack.services.pipeline import services_for
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit


def test_unset_nested_flags_keep_file_values(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("name: demo\nworkers: {count: 4, flavor: m1.large}\nnetwork: {name: lan}\n")
    spec = load_spec(file, {"workers": {"count": None, "flavor": "m1.small"}, "network": {}})
    assert (spec.groups["worker"].count, spec.groups["worker"].flavor) == (4, "m1.small")
    assert spec.network.name == "lan"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"network": {"name": "lan", "create": True}}, "not both"),
        ({"key": {"keypair": "sparkstack-demo"}}, "reserved|sparkstack gives"),
        ({"metadata": {"sparkstack_role": "x"}}, "sparkstack's own"),
        ({"ssh_cidr": "300.0.0.0/8"}, "ssh_cidr"),
    ],
)
def test_spec_refuses(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(None, {"name": "demo", **overrides})


def test_tags_fit_nova_limits() -> None:
    longest = "a" * 40
    for tag in naming.resource_tags(longest):
        assert len(tag) <= 60 and "," not in tag and "/" not in tag
    assert naming.cluster_from_tags(["sparkstack", naming.cluster_tag("demo")]) == "demo"
    assert naming.cluster_from_tags(["other"]) is None
    assert naming.cluster_from_tags(["sparkstack:../x", "sparkstack:"]) is None  # not names


def test_members_round_trip_through_tags() -> None:
    members = {
        "master": naming.GroupMembers((1,), 2),
        "worker": naming.GroupMembers((1, 2, 3, 5, 8, 9), 10),
    }
    tags = naming.members_tags(members)
    assert tags == ["sparkstack-nodes:master:2:1", "sparkstack-nodes:worker:10:1-3,5,8-9"]
    assert naming.members_from_tags(tags) == members
    holes = {"w": naming.GroupMembers(tuple(range(1, 400, 2)), 400)}
    tags = naming.members_tags(holes)
    assert len(tags) > 1 and all(len(t) <= 255 for t in tags)
    assert naming.members_from_tags(tags) == holes


def test_cloud_identity_ignores_spelling() -> None:
    one = cloud_identity("http://127.0.0.1:5000/v3", "p1")
    assert one == cloud_identity("HTTP://127.0.0.1:5000/v3/", "p1")
    assert one == cloud_identity("http://127.0.0.1:5000", "p1")
    assert one != cloud_identity("http://127.0.0.1:5000/v3", "p2")
    assert one.startswith("127.0.0.1-")


def test_local_paths_refuse_names_that_escape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARKSTACK_DATA_DIR", str(tmp_path))
    assert paths.cluster_path("cloud-1", "demo") == tmp_path / "clusters" / "cloud-1" / "demo"
    for identity, cluster in (
        ("..", "demo"),
        ("", "demo"),
        ("a/b", "demo"),
        ("c", ".."),
        ("c", ""),
    ):
        with pytest.raises(ValueError):
            paths.cluster_path(identity, cluster)


def test_suggest_close_names_or_lists() -> None:
    assert "'ubuntu-24.04'" in suggest("ubuntu-2404", ["ubuntu-24.04", "cirros"])
    assert suggest("zzz", ["a", "b"]) == "; available: a, b"
    assert suggest("zzz", []) == "; there are none"


def test_quota_need_arithmetic() -> None:
    assert Need("instances", 6, 4, 0).problem() == (
        "quota instances: need 6, 4 left (limit 4, used 0)"
    )
    assert Need("instances", 4, 4, 0).problem() is None
    assert Need("cores", 100, -1, 50).problem() is None
    assert Need("ram_mb", 1, 10, 12).problem() == "quota ram_mb: need 1, 0 left (limit 10, used 12)"


def test_quota_needs_use_each_group() -> None:
    spec = load_spec(
        None,
        {"name": "demo", "workers": {"count": 3}, "network": {"create": True}},
    )
    groups = group_requests(spec, services_for(spec))
    flavors = {"master": Flavor("m", "big", 4, 8192), "worker": Flavor("w", "small", 1, 2048)}
    needs = quota_needs(spec, groups, flavors, rules=12, creates_network=True)
    assert needs["cores"] == 4 + 3 * 1
    assert needs["ram_mb"] == 8192 + 3 * 2048
    assert needs["floating_ips"] == 1  # only the group that hosts a client role
    assert (needs["ports"], needs["routers"], needs["server_groups"]) == (5, 1, 0)
    assert needs["security_group_rules"] == 12


def test_client_role_groups_get_floating_ips_unless_told() -> None:
    spec = load_spec(
        None,
        {
            "name": "demo",
            "groups": {
                "master": {"roles": ["spark-master"]},
                "worker": {"count": 2, "roles": ["spark-worker"], "floating_ip": True},
                "empty": {"count": 0, "roles": ["spark-worker"]},
            },
        },
    )
    groups = {g.group: g for g in group_requests(spec, services_for(spec))}
    assert set(groups) == {"master", "worker"}  # no request for an empty group
    assert groups["master"].floating_ip and groups["worker"].floating_ip


def test_security_rules_open_member_ports_and_ssh_only() -> None:
    members = [PortRange(7077, 7077, "rpc"), PortRange(7100, 7116, "drivers")]
    rules = ingress_rules("sg1", "198.19.0.7/32", members, [(8080, "2001:db8::/32")])
    assert len(rules) == rule_count(members, [(8080, "2001:db8::/32")])
    assert all(r["direction"] == "ingress" and r["security_group_id"] == "sg1" for r in rules)
    assert all(r["protocol"] == "tcp" for r in rules)  # nothing opened to "any protocol"
    from_members = {
        (r["port_range_min"], r["port_range_max"], r["ethertype"])
        for r in rules
        if r.get("remote_group_id") == "sg1"
    }
    assert from_members == {
        (p, q, e) for p, q in ((22, 22), (7077, 7077), (7100, 7116)) for e in ("IPv4", "IPv6")
    }
    outside = [
        (r["port_range_min"], r["remote_ip_prefix"]) for r in rules if "remote_ip_prefix" in r
    ]
    assert outside == [(22, "198.19.0.7/32"), (8080, "2001:db8::/32")]


def test_server_request_names_and_numbers_each_node() -> None:
    options = BootOptions("demo", "net", ("sg",), "key", {"a": "b"}, server_group_id="g")
    group = GroupRequest("worker", 2, "f", "img", ("spark-worker",), False, first_index=4)
    plan = Plan(
        "p", {"worker": "img-id"}, {"worker": Flavor("f", "f", 1, 1)}, "net", None, (), None
    )
    request = server_request(options, group, plan, 5)
    assert request["name"] == "demo-worker-5"
    assert request["metadata"][naming.META_INDEX] == "5"
    assert request["metadata"][naming.META_GROUP] == "worker"
    assert request["metadata"][naming.META_ROLES] == "spark-worker"
    assert request["metadata"]["a"] == "b"
    assert request["scheduler_hints"] == {"group": "g"} and request["image_id"] == "img-id"
    assert "min_count" not in request
    assert list(group.indexes) == [4, 5]
    volume = server_request(
        BootOptions("demo", "net", (), "key", {}, boot_volume_gb=20), group, plan, 4
    )
    assert "image_id" not in volume
    assert volume["block_device_mapping"][0]["volume_size"] == 20


def test_console_host_keys_cloud_init_format() -> None:
    log = (
        "boot...\n-----BEGIN SSH HOST KEY KEYS-----\n"
        "ecdsa-sha2-nistp256 AAAAE2 root@demo-master-1\n"
        "[   12.3] ssh-ed25519 AAAAC3 root@demo-master-1\n"
        "-----END SSH HOST KEY KEYS-----\nlogin:"
    )
    assert parse_host_keys(log) == ["ecdsa-sha2-nistp256 AAAAE2", "ssh-ed25519 AAAAC3"]
    assert parse_host_keys("no keys here") == []


def test_cluster_key_private_and_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARKSTACK_DATA_DIR", str(tmp_path))
    first = keys.ensure_cluster_key("cloud-1", "demo")
    assert first.startswith("ssh-ed25519 ")
    path = keys.cluster_key_path("cloud-1", "demo")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.ensure_cluster_key("cloud-1", "demo") == first
    assert keys.read_public_key(path.with_suffix(".pub")) == first
    keys.forget_cluster("cloud-1", "demo")
    assert not path.exists()
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    with pytest.raises(UsageError, match="not an OpenSSH public key"):
        keys.read_public_key(bad)


def _node(status: str, group: str = "worker", index: int = 1) -> Node:
    now = datetime.now(UTC)
    roles = frozenset({Role.SPARK_MASTER if group == "master" else Role.SPARK_WORKER})
    return Node(f"c-{group}-{index}", group, roles, index, "id", status, "m1.small", 1, 2048,
                created=now)  # fmt: skip


def test_cluster_state_and_lost_nodes() -> None:
    expected = {"master": (1,), "worker": (1, 2)}

    def cluster(*nodes: Node, state: str = "ready") -> Cluster:
        return Cluster("c", "cloud", "id", "ubuntu", nodes, expected, state)

    whole = (_node("ACTIVE", "master"), _node("ACTIVE"), _node("ACTIVE", index=2))
    assert cluster_state(cluster(*whole)) == "active"
    assert cluster(*whole).lost() == []
    assert cluster_state(cluster(_node("ACTIVE", "master"), _node("ACTIVE"))) == "degraded"
    assert cluster(_node("ACTIVE", "master"), _node("ACTIVE")).lost() == ["c-worker-2"]
    assert cluster_state(cluster(*whole, state="launching")) == "launching"
    assert cluster_state(cluster(_node("BUILD"), _node("ACTIVE"))) == "building"
    assert cluster_state(cluster(_node("ERROR"), _node("ACTIVE"))) == "error"
    assert cluster_state(cluster()) == "empty"
    assert cluster().lost() == ["c-master-1", "c-worker-1", "c-worker-2"]


def test_a_cluster_whose_nodes_are_all_shut_off_or_shelved_is_stopped() -> None:
    expected = {"master": (1,), "worker": (1,)}

    def cluster(master: str, worker: str) -> Cluster:
        nodes = (_node(master, "master"), _node(worker))
        return Cluster("c", "cloud", "id", "ubuntu", nodes, expected, "ready")

    assert cluster_state(cluster("SHUTOFF", "SHUTOFF")) == "stopped"
    assert cluster_state(cluster("SHELVED", "SHELVED_OFFLOADED")) == "stopped"
    assert cluster_state(cluster("SHUTOFF", "SHELVED")) == "stopped"
    assert cluster_state(cluster("ACTIVE", "SHUTOFF")) == "degraded"  # half stopped
    assert cluster_state(cluster("SHUTOFF", "ERROR")) == "error"
    # the verbs that need running nodes say what to do, in one line
    with pytest.raises(NodeError, match=r"^cluster c is stopped; run `sparkstack start c`$"):
        hosts_of(cluster("SHUTOFF", "SHELVED"))
