"""Pure logic of the provisioning layer: spec merging, naming, suggestions, quota arithmetic."""

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sparkstack import keys
from sparkstack.api.clusters import cluster_state
from sparkstack.cloud import naming
from sparkstack.cloud.console import parse_host_keys
from sparkstack.cloud.preflight import Flavor, Need, quota_needs, suggest
from sparkstack.cloud.security import ingress_rules
from sparkstack.cloud.servers import BootOptions, RoleRequest, server_request
from sparkstack.cluster import Cluster, Node, Role
from sparkstack.errors import SpecError, UsageError
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit


def test_unset_nested_flags_keep_file_values(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("name: demo\nworkers: {count: 4, flavor: m1.large}\nnetwork: {name: lan}\n")
    spec = load_spec(file, {"workers": {"count": None, "flavor": "m1.small"}, "network": {}})
    assert (spec.workers.count, spec.workers.flavor) == (4, "m1.small")
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
    for tag in naming.server_tags(longest, Role.WORKER):
        assert len(tag) <= 60 and "," not in tag and "/" not in tag
    assert naming.cluster_from_tags(["sparkstack", naming.cluster_tag("demo")]) == "demo"
    assert naming.cluster_from_tags(["other"]) is None


def test_index_from_multi_create_name() -> None:
    assert naming.index_from_name("demo-worker-12") == 12
    assert naming.index_from_name("demo-worker") is None


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


def test_quota_needs_use_each_flavor() -> None:
    spec = load_spec(
        None,
        {
            "name": "demo",
            "masters": {"count": 1},
            "workers": {"count": 3},
            "network": {"create": True},
        },
    )
    needs = quota_needs(spec, Flavor("m", "big", 4, 8192), Flavor("w", "small", 1, 2048), True)
    assert needs["cores"] == 4 + 3 * 1
    assert needs["ram_mb"] == 8192 + 3 * 2048
    assert needs["floating_ips"] == 1
    assert (needs["ports"], needs["routers"], needs["server_groups"]) == (5, 1, 0)


def test_security_rules_are_minimal() -> None:
    rules = ingress_rules("sg1", "198.19.0.0/24", [(8080, "2001:db8::/32")])
    assert all(r["direction"] == "ingress" and r["security_group_id"] == "sg1" for r in rules)
    members = [r for r in rules if r.get("remote_group_id") == "sg1"]
    assert {r["ethertype"] for r in members} == {"IPv4", "IPv6"}
    ports = [(r["port_range_min"], r["remote_ip_prefix"], r["ethertype"]) for r in rules[2:]]
    assert ports == [(22, "198.19.0.0/24", "IPv4"), (8080, "2001:db8::/32", "IPv6")]


def test_server_request_multi_create_and_single() -> None:
    options = BootOptions("demo", "img", "net", ("sg",), "key", {"a": "b"}, server_group_id="g")
    many = server_request(options, RoleRequest(Role.WORKER, 5, Flavor("f", "f", 1, 1)))
    assert (many["name"], many["min_count"], many["max_count"]) == ("demo-worker", 5, 5)
    assert many["metadata"][naming.META_ROLE] == "worker"
    assert many["scheduler_hints"] == {"group": "g"}
    one = server_request(options, RoleRequest(Role.MASTER, 1, Flavor("f", "f", 1, 1)))
    assert one["name"] == "demo-master-1" and one["image_id"] == "img"
    volume = server_request(
        BootOptions("demo", "img", "net", (), "key", {}, boot_volume_gb=20),
        RoleRequest(Role.MASTER, 1, Flavor("f", "f", 1, 1)),
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
    first = keys.ensure_cluster_key("devcloud", "demo")
    assert first.startswith("ssh-ed25519 ")
    path = keys.cluster_key_path("devcloud", "demo")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.ensure_cluster_key("devcloud", "demo") == first
    assert keys.read_public_key(path.with_suffix(".pub")) == first
    keys.forget_cluster("devcloud", "demo")
    assert not path.exists()
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    with pytest.raises(UsageError, match="not an OpenSSH public key"):
        keys.read_public_key(bad)


def _node(status: str, role: Role = Role.WORKER) -> Node:
    now = datetime.now(UTC)
    return Node("n", role, 1, "id", status, "m1.small", 1, 2048, created=now)


def test_cluster_state() -> None:
    def cluster(*nodes: Node) -> Cluster:
        return Cluster("c", "cloud", "ubuntu", nodes, expected_masters=1, expected_workers=1)

    assert cluster_state(cluster(_node("ACTIVE", Role.MASTER), _node("ACTIVE"))) == "active"
    assert cluster_state(cluster(_node("ACTIVE", Role.MASTER))) == "degraded"
    assert cluster_state(cluster(_node("BUILD"), _node("ACTIVE"))) == "building"
    assert cluster_state(cluster(_node("ERROR"), _node("ACTIVE"))) == "error"
    assert cluster_state(cluster()) == "empty"
