"""Linux networking of the devcloud data plane, shared by the virt driver and the reconciler.

Names follow neutron's linuxbridge and l3-agent conventions, so `ip link` reads like a neutron
node: ``brq<net[:11]>`` bridge per tenant network, ``tap<port[:11]>`` root-namespace end of a
port's veth, ``qrouter-<id>`` router namespace with ``qr-``/``qg-<port[:11]>`` ends, ``vm-<uuid>``
one server's network namespace, ``ssdc-ex`` the external bridge where the root namespace (the
"internet", where clients run) holds 198.19.0.1. Interface names fit IFNAMSIZ: 3 + 11 = 14.
Every address configured here is inside 198.18.0.0/15; anything else is refused.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from . import hosts

ALLOWED = ipaddress.IPv4Network("198.18.0.0/15")
EX_BRIDGE = "ssdc-ex"
EX_ADDRESS = "198.19.0.1/24"
DEFAULT_HOSTS_DIR = "/tmp/sparkstack-devcloud/hosts"
#: The root namespace's nft table that forwards tenant traffic to the public APIs (expose_apis)
API_TABLE = "ssdc-apis"
_DATAPLANE_NETNS = re.compile(r"^(vm|qrouter)-[0-9a-f-]{36}$")
_TENANT_BRIDGE = re.compile(r"^brq[0-9a-f-]{11}$")


def hosts_dir() -> Path:
    """Where the servers' state dirs live (env SSDC_HOSTS_DIR); the lock file sits beside it."""
    return Path(os.environ.get("SSDC_HOSTS_DIR", DEFAULT_HOSTS_DIR))


def bridge_name(network_id: str) -> str:
    return "brq" + network_id[:11]


def tap_name(port_id: str) -> str:
    return "tap" + port_id[:11]


def vm_netns(instance_uuid: str) -> str:
    return "vm-" + instance_uuid


def router_netns(router_id: str) -> str:
    return "qrouter-" + router_id


def check_allowed(addr_or_cidr: str) -> None:
    """Refuse any address outside 198.18.0.0/15: nothing may be configured elsewhere."""
    net = ipaddress.ip_network(addr_or_cidr, strict=False)
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(ALLOWED):
        raise ValueError(f"{addr_or_cidr} is outside {ALLOWED}; refusing to configure it")


def run(*cmd: str, check: bool = True, input: str | None = None) -> str:
    """Run a command and return stdout; the error carries stderr (it shows in nova's fault)."""
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, env=hosts.CLEAN_ENV)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> rc={proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return (
        subprocess.run([*prefix, "link", "show", "dev", name], capture_output=True).returncode == 0
    )


def netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def netns_list() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def netns_links(netns: str) -> dict[str, str]:
    """{ifname: mac} of the links in a namespace (empty if it is gone)."""
    out = run("ip", "-n", netns, "-j", "link", "show", check=False)
    return {link["ifname"]: link.get("address", "") for link in json.loads(out or "[]")}


def netns_add(name: str) -> None:
    run("ip", "netns", "add", name)
    run("ip", "-n", name, "link", "set", "lo", "up")


def netns_delete(name: str) -> None:
    """Delete a namespace, its veths first: the kernel frees a namespace's devices only some
    time after `ip netns del`, and the bridges they were on must be empty now to be deleted."""
    if not netns_exists(name):
        return
    for ifname in netns_links(name):
        if ifname != "lo":
            run("ip", "-n", name, "link", "del", ifname, check=False)
    run("ip", "netns", "del", name, check=False)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock shared by processes (nova-compute threads, both computes, the
    reconciler) through a lock file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def net_lock() -> AbstractContextManager[None]:
    """Held around bridge create/delete and veth plug, so an "empty" bridge is never deleted
    just before a plug."""
    return file_lock(hosts_dir().parent / "net.lock")


def ensure_bridge(name: str) -> None:
    """Create a bridge on demand (hold net_lock): no STP, no forwarding delay, no IPv6."""
    if not link_exists(name):
        run("ip", "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        # No link-local address: the root namespace must have no foot in tenant networks.
        run("sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1", check=False)
    run("ip", "link", "set", name, "up")


def bridge_ports(name: str) -> list[str]:
    out = run("ip", "-j", "link", "show", "master", name, check=False)
    return [link["ifname"] for link in json.loads(out or "[]")]


def gc_bridge(name: str) -> None:
    """Delete a tenant bridge once nothing is plugged into it (hold net_lock)."""
    if name != EX_BRIDGE and link_exists(name) and not bridge_ports(name):
        run("ip", "link", "del", name, check=False)


def gc_tenant_bridges() -> list[str]:
    """Delete every empty brq bridge; return their names."""
    out = run("ip", "-j", "link", "show", "type", "bridge", check=False)
    gone = []
    with net_lock():
        for link in json.loads(out or "[]"):
            name = link["ifname"]
            if _TENANT_BRIDGE.match(name) and not bridge_ports(name):
                gc_bridge(name)
                gone.append(name)
    return gone


def plug_veth(netns: str, inner: str, outer: str, bridge: str, mac: str, mtu: int) -> None:
    """A veth pair: ``inner`` in netns with the port's MAC, ``outer`` on ``bridge``."""
    with net_lock():
        ensure_bridge(bridge)
        if link_exists(outer):  # leftover of a crashed attempt
            run("ip", "link", "del", outer, check=False)
        run(
            "ip",
            "link",
            "add",
            outer,
            "mtu",
            str(mtu),
            "type",
            "veth",
            "peer",
            "name",
            inner,
            "mtu",
            str(mtu),
            "netns",
            netns,
        )
        run("ip", "link", "set", outer, "master", bridge, "up")
    run("ip", "-n", netns, "link", "set", inner, "address", mac, "up")


def nft_apply(netns: str, text: str) -> None:
    """Apply an nft script inside a namespace in one transaction (all or nothing)."""
    run("ip", "netns", "exec", netns, "nft", "-f", "-", input=text)


def nft_table(family: str, name: str, body: str) -> str:
    """An nft script that atomically replaces one table with ``body``."""
    return (
        f"table {family} {name}\ndelete table {family} {name}\ntable {family} {name} {{\n{body}}}\n"
    )


def setup_external() -> None:
    """The root namespace's side: ``ssdc-ex`` at 198.19.0.1/24, and tenant ranges unreachable,
    so a packet to a fixed IP fails at once instead of leaving by the default route."""
    check_allowed(EX_ADDRESS)
    with net_lock():
        ensure_bridge(EX_BRIDGE)
    run("ip", "addr", "replace", EX_ADDRESS, "dev", EX_BRIDGE)
    run("ip", "route", "replace", "unreachable", str(ALLOWED))


def expose_apis(ports: list[int]) -> None:
    """Make the APIs on these loopback ports reachable at the external gateway address, as a
    cloud's public endpoints are from its servers (through their router) and from its clients.

    Only two paths lead in: packets that arrive on ``ssdc-ex`` (routers' gateway ports and
    floating IPs, nothing else is on that bridge) and this machine's own connections, both to
    198.19.0.1 on exactly these ports, DNATed to 127.0.0.1. The address does not listen itself,
    so the same ports from anywhere else find nothing; ``route_localnet`` on ``ssdc-ex`` only
    lets the DNATed packets to loopback, and every other packet from the bridge to 127/8 is
    dropped.
    """
    gateway = EX_ADDRESS.split("/")[0]
    check_allowed(gateway)
    wanted = ", ".join(str(int(port)) for port in sorted(set(ports)))
    match = f"ip daddr {gateway} tcp dport {{ {wanted} }} dnat ip to 127.0.0.1"
    body = (
        "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n"
        f'    iifname "{EX_BRIDGE}" {match}\n  }}\n'
        "  chain output {\n    type nat hook output priority -100; policy accept;\n"
        f"    {match}\n  }}\n"
        "  chain input {\n    type filter hook input priority filter; policy accept;\n"
        f'    iifname "{EX_BRIDGE}" ip daddr 127.0.0.0/8 ct status dnat accept\n'
        f'    iifname "{EX_BRIDGE}" ip daddr 127.0.0.0/8 drop\n  }}\n'
    )
    run("nft", "-f", "-", input=nft_table("ip", API_TABLE, body))
    run("sysctl", "-qw", f"net.ipv4.conf.{EX_BRIDGE}.route_localnet=1")


def teardown_dataplane(hosts_dir: Path) -> None:
    """Kill remaining hosts by recorded pid, delete every namespace, veth, bridge and route the
    data plane made, and the hosts dir. Idempotent."""
    if hosts_dir.is_dir():
        for state in sorted(hosts_dir.iterdir()):
            hosts.stop_host(state)
    for ns in netns_list():
        if _DATAPLANE_NETNS.match(ns):
            netns_delete(ns)
    out = run("ip", "-j", "link", "show", "type", "bridge", check=False)
    for link in json.loads(out or "[]"):
        name = link["ifname"]
        if name == EX_BRIDGE or _TENANT_BRIDGE.match(name):
            for port in bridge_ports(name):  # veths whose other end is already gone
                run("ip", "link", "del", port, check=False)
            run("ip", "link", "del", name, check=False)
    run("ip", "route", "del", "unreachable", str(ALLOWED), check=False)
    run("nft", "delete", "table", "ip", API_TABLE, check=False)
    shutil.rmtree(hosts_dir.parent / "images", ignore_errors=True)  # disks.cache_dir()
    if hosts_dir.is_dir():
        for state in sorted(hosts_dir.iterdir()):
            hosts.delete_host(state)
