"""Pure logic of the data plane: security-group rules to nftables, cloud-config to scripts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sparkstack.devcloud.server import hosts, net, reconciler, userdata, wsgi
from sparkstack.devcloud.server.reconciler import SG_TABLE, _sg_body, rule_to_nft


def _rule(**kw: object) -> dict[str, object]:
    return {"id": "r" * 36, "direction": "ingress", "ethertype": "IPv4", **kw}


@pytest.mark.unit
def test_rules_translate_to_nft_matches() -> None:
    members = {"g1": {"198.18.10.12", "198.18.10.5"}}
    assert (
        rule_to_nft(
            _rule(
                protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0"
            ),
            members,
        )
        == "tcp dport 22"
    )
    assert (
        rule_to_nft(
            _rule(
                protocol="6",
                port_range_min=8000,
                port_range_max=8100,
                remote_ip_prefix="198.19.0.0/24",
            ),
            members,
        )
        == "ip saddr 198.19.0.0/24 tcp dport 8000-8100"
    )
    assert (
        rule_to_nft(_rule(remote_group_id="g1"), members)
        == "ip saddr { 198.18.10.5, 198.18.10.12 }"
    )
    assert rule_to_nft(_rule(remote_group_id="empty"), members) is None
    assert rule_to_nft(_rule(protocol="icmp", port_range_min=8), members) == (
        "meta l4proto icmp icmp type 8"
    )
    assert rule_to_nft(_rule(remote_ip_prefix="::/0"), members) is None


@pytest.mark.unit
def test_security_group_text_is_stable_whatever_the_rule_order() -> None:
    rules = [
        _rule(id=f"{i}" * 36, protocol="tcp", port_range_min=p, port_range_max=p)
        for i, p in ((1, 22), (2, 8080), (3, 7077))
    ]
    port = SimpleNamespace(
        id="p" * 36,
        mac_address="fa:16:3e:00:00:01",
        is_port_security_enabled=True,
        security_group_ids=["sg"],
    )
    one = {"sg": SimpleNamespace(name="default", security_group_rules=rules)}
    two = {"sg": SimpleNamespace(name="default", security_group_rules=rules[::-1])}
    mac2if = {"fa:16:3e:00:00:01": "eth0"}
    assert _sg_body([port], mac2if, one, {}) == _sg_body([port], mac2if, two, {})
    assert "policy drop" in _sg_body([port], mac2if, one, {})


@pytest.mark.unit
def test_addresses_outside_the_test_range_are_refused() -> None:
    net.check_allowed("198.19.0.7")
    net.check_allowed("198.18.10.0/24")
    for bad in ("10.0.0.0/8", "192.168.1.0/24", "8.8.8.8", "198.17.0.0/16"):
        with pytest.raises(ValueError):
            net.check_allowed(bad)


@pytest.mark.unit
def test_user_data_kinds() -> None:
    assert userdata.boot_scripts(None, "ubuntu") == userdata.BootScripts()
    script = b"#!/bin/sh\necho hi\n"
    assert userdata.boot_scripts(script, "ubuntu").final == script
    scripts = userdata.boot_scripts(
        b"#cloud-config\nssh_authorized_keys: [ssh-ed25519 AAAA k]\nruncmd:\n - echo one\n"
        b" - [touch, /tmp/a b]\nwrite_files:\n - path: /x\n   content: aGk=\n   encoding: b64\n",
        "ubuntu",
    )
    assert scripts.boot is not None and "getent passwd ubuntu" in scripts.boot
    assert "printf %s aGk= | base64 -d > /x" in scripts.boot
    assert scripts.final == b"#!/bin/sh\necho one\ntouch '/tmp/a b'\n"


@pytest.mark.testhosts
def test_generated_tables_are_valid_nft() -> None:
    ns = "ssdc-nftcheck"
    net.netns_add(ns)
    try:
        port = SimpleNamespace(
            id="p" * 36,
            mac_address="fa:16:3e:00:00:01",
            is_port_security_enabled=True,
            security_group_ids=["sg"],
        )
        rules = [
            _rule(protocol="tcp", port_range_min=22, port_range_max=22),
            _rule(remote_group_id="sg"),
            _rule(protocol="icmp", port_range_min=8),
            _rule(protocol="udp", remote_ip_prefix="198.19.0.0/24"),
        ]
        sgs = {"sg": SimpleNamespace(name="default", security_group_rules=rules)}
        body = _sg_body([port], {"fa:16:3e:00:00:01": "eth0"}, sgs, {"sg": {"198.18.10.3"}})
        net.nft_apply(ns, net.nft_table(*SG_TABLE, body))
        net.nft_apply(ns, net.nft_table(*SG_TABLE, body))  # replacing works too
        listed = net.run("ip", "netns", "exec", ns, "nft", "list", "table", *SG_TABLE)
        assert "tcp dport 22 accept" in listed and "198.18.10.3" in listed
    finally:
        net.netns_delete(ns)


@pytest.mark.unit
def test_sshd_delay_metadata_names_one_server_or_all() -> None:
    names = ["demo-worker-2", "demo-worker-2.novalocal"]
    assert hosts.parse_sshd_delay(None, names) == 0
    assert hosts.parse_sshd_delay("", names) == 0
    assert hosts.parse_sshd_delay("12", names) == 12
    assert hosts.parse_sshd_delay("demo-worker-2=30", names) == 30
    assert hosts.parse_sshd_delay("demo-worker-2=30", ["demo-worker-1"]) == 0
    assert hosts.parse_sshd_delay("5, demo-worker-2=7.5", names) == 7.5
    assert hosts.parse_sshd_delay("demo-worker-2=7.5,5", names) == 7.5
    assert hosts.parse_sshd_delay("5, demo-worker-2=7.5", ["demo-master-1"]) == 5
    for bad in ("soon", "demo-worker-2=", "demo-worker-2=-1", "4000", "nan", "x=inf"):
        with pytest.raises(ValueError):
            hosts.parse_sshd_delay(bad, names)


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The reconciler's clock, moved by the test."""
    clock = [100.0]
    monkeypatch.setattr(reconciler.time, "monotonic", lambda: clock[0])
    return clock


@pytest.mark.unit
def test_the_reconciler_lists_neutron_after_a_write_or_a_failure_and_else_rarely(
    now: list[float],
) -> None:
    pacer = reconciler.Pacer(interval=1.0, safety_interval=30.0)
    assert pacer.list_due(0)  # the first pass
    pacer.listed(0, "d1")
    now[0] += 5
    assert not pacer.list_due(0)  # nothing written: no listing
    assert pacer.list_due(3)  # neutron answered writes
    pacer.listed(3, "d2")
    now[0] += 0.5
    assert not pacer.list_due(4)  # at most every interval
    now[0] += 0.5
    assert pacer.list_due(4)
    pacer.listed(4, None)  # the pass failed: list again, writes or not
    now[0] += 1
    assert pacer.list_due(4)
    pacer.listed(4, "d2")
    now[0] += 30
    assert pacer.list_due(4)  # the safety listing


@pytest.mark.unit
def test_between_listings_the_last_one_is_applied_again_while_things_change(
    now: list[float],
) -> None:
    pacer = reconciler.Pacer(interval=1.0, safety_interval=30.0)
    pacer.listed(0, "d1")  # a change: hot
    assert pacer.apply_due("host-a")  # a new server's host, at once
    pacer.applied()
    assert not pacer.apply_due("host-a")
    now[0] += 1
    assert pacer.apply_due("host-a")  # hot: every interval
    pacer.applied()
    now[0] += reconciler.HOT_WINDOW
    assert not pacer.apply_due("host-a")  # quiet again


@pytest.mark.unit
def test_neutron_counts_the_requests_that_may_write(tmp_path: Path) -> None:
    changes = tmp_path / "writes"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        return [b"ok"]

    wrapped = wsgi.signalling_writes(app, str(changes))
    for method in ("GET", "HEAD", "OPTIONS"):
        assert wrapped({"REQUEST_METHOD": method, "PATH_INFO": "/"}, None) == [b"ok"]
    assert not changes.exists()
    for method in ("POST", "PUT", "DELETE"):
        wrapped({"REQUEST_METHOD": method, "PATH_INFO": "/"}, None)
    with pytest.raises(RuntimeError):
        wrapped({"REQUEST_METHOD": "POST", "PATH_INFO": "/boom"}, None)
    assert changes.stat().st_size == 4
