"""The data plane's L3 and security-group agent, as a reconciler of neutron's listings.

``python -m ssdc.reconciler --cloud devcloud-admin [--interval 1] [--once]`` (env
OS_CLIENT_CONFIG_FILE, SSDC_HOSTS_DIR, SSDC_CHANGES_FILE). When neutron-api has answered a
write (it grows SSDC_CHANGES_FILE by a byte each time), and every 30 s regardless, it lists
neutron's routers, ports, subnets, networks, floating IPs and security groups as admin and makes
Linux match them:

* routers: namespace ``qrouter-<id>`` (ip_forward on), a veth per router port (``qr-`` on the
  tenant bridge, ``qg-`` on ``ssdc-ex``), floating IPs as /32 on ``qg-`` with nftables DNAT and
  SNAT, SNAT of the tenant subnets to the gateway IP, hairpin masquerade on ``qr-``;
* security groups: one nftables table per server namespace (ingress, IPv4; remote-group rules
  as sets of the member ports' fixed IPs), rules sorted so the text is stable;
* garbage: namespaces of deleted routers, empty tenant bridges.

Why listing: it is level-triggered (a missed event, a restart of this process or of neutron, a
half-applied change: the next pass repairs it) and uses only the public API; the one thing inside
neutron-server is the write counter (ssdc.wsgi), which only says when to look. nft tables are
replaced atomically and only when their text changed.

Status: neutron's API does not let anyone set a floating IP's or a port's status (only agents do,
over RPC), so floating IPs stay DOWN although they work. Router ports are given a binding host
here, so the devcloud's bind-any mechanism driver binds them and they turn ACTIVE.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import openstack

from . import net

LOG = logging.getLogger("ssdc.reconciler")
SG_TABLE = ("inet", "ssdc-sg")
NAT_TABLE = ("ip", "ssdc-nat")
BINDING_HOST = "ssdc-l3"
PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}


@dataclass
class Snapshot:
    """One pass's view of neutron."""

    routers: list[Any]
    ports: list[Any]
    subnets: dict[str, Any]
    mtus: dict[str, int]
    fips: list[Any]
    sgs: dict[str, Any]


@dataclass
class Reconciler:
    """Makes Linux match neutron; remembers what it applied to skip unchanged work."""

    conn: Any
    applied: dict[str, tuple[int | None, str]] = field(default_factory=dict)  # ns -> (inode, text)
    nics: dict[str, tuple[int | None, dict[str, str]]] = field(default_factory=dict)  # mac->if
    bound: set[str] = field(default_factory=set)
    subnets: dict[str, Any] = field(default_factory=dict)
    mtus: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> Snapshot:
        """List what changes as servers come and go; subnets and networks (prefix lengths,
        MTUs) only when a port names one not seen before: 4 list calls a pass instead of 6."""
        api = self.conn.network
        ports = list(api.ports())
        snap = Snapshot(
            routers=list(api.routers()),
            ports=ports,
            subnets=self.subnets,
            mtus=self.mtus,
            fips=list(api.ips()),
            sgs={s.id: s for s in api.security_groups()},
        )
        if any(ip["subnet_id"] not in self.subnets for p in ports for ip in p.fixed_ips):
            self.subnets.clear()
            self.subnets.update({s.id: s for s in api.subnets()})
        if any(p.network_id not in self.mtus for p in ports):
            self.mtus.clear()
            self.mtus.update({n.id: n.mtu or 1500 for n in api.networks()})
        return snap

    def reconcile(self) -> Snapshot:
        """One pass: list neutron, make Linux match; returns the listing (to apply again)."""
        snap = self.snapshot()
        self.apply(snap)
        return snap

    def apply(self, snap: Snapshot) -> None:
        for router in snap.routers:
            try:
                self.sync_router(router, snap)
            except Exception:
                LOG.exception("router %s failed", router.id)
        wanted = {net.router_netns(r.id) for r in snap.routers}
        for ns in net.netns_list():
            if ns.startswith("qrouter-") and ns not in wanted:
                net.netns_delete(ns)
                self.applied.pop(ns, None)
                LOG.info("deleted %s", ns)
        self.sync_security_groups(snap)
        for bridge in net.gc_tenant_bridges():
            LOG.info("deleted empty bridge %s", bridge)
        self.bind_router_ports(snap)

    # ------------------------------------------------------------------ routers
    def sync_router(self, router: Any, snap: Snapshot) -> None:
        ns = net.router_netns(router.id)
        if not net.netns_exists(ns):
            net.netns_add(ns)
            # ip_forward is per network namespace and starts at 0 in a new one.
            net.run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            LOG.info("router %s: created %s", router.name, ns)
        want: dict[str, tuple[Any, str, list[str]]] = {}  # ifname -> (port, bridge, addrs)
        qg, gw_ip, tenant = None, None, []
        for port in snap.ports:
            if port.device_id != router.id:
                continue
            addrs = _v4_addrs(port, snap.subnets)
            if port.device_owner == "network:router_interface":
                ifname = "qr-" + port.id[:11]
                want[ifname] = (port, net.bridge_name(port.network_id), addrs)
                tenant += [(str(ipaddress.ip_interface(a).network), ifname) for a in addrs]
            elif port.device_owner == "network:router_gateway":
                qg = "qg-" + port.id[:11]
                gw_ip = addrs[0].split("/")[0] if addrs else None
                want[qg] = (port, net.EX_BRIDGE, addrs)
        fips = []
        for fip in snap.fips:
            if fip.router_id == router.id and fip.port_id and fip.fixed_ip_address and qg:
                net.check_allowed(fip.floating_ip_address)
                net.check_allowed(fip.fixed_ip_address)
                fips.append((fip.floating_ip_address, fip.fixed_ip_address))
                want[qg][2].append(f"{fip.floating_ip_address}/32")  # answer ARP for it
        have = net.netns_links(ns)
        for ifname in have:
            if ifname != "lo" and ifname not in want:
                net.run("ip", "-n", ns, "link", "del", ifname, check=False)
                LOG.info("router %s: removed %s", router.name, ifname)
        for ifname, (port, bridge, _) in want.items():
            if ifname not in have:
                mtu = snap.mtus.get(port.network_id, 1500)
                net.plug_veth(ns, ifname, net.tap_name(port.id), bridge, port.mac_address, mtu)
                LOG.info("router %s: plugged %s into %s", router.name, ifname, bridge)
        self._sync_addresses(ns, {ifname: addrs for ifname, (_, _, addrs) in want.items()})
        snat = (router.external_gateway_info or {}).get("enable_snat", True)
        pre = [f"ip daddr {floating} dnat to {fixed}" for floating, fixed in fips]
        post = [f'ip saddr {fixed} oifname "{qg}" snat to {floating}' for floating, fixed in fips]
        for cidr, qr in tenant:
            if qg and gw_ip and snat:
                post.append(f'ip saddr {cidr} oifname "{qg}" snat to {gw_ip}')
            # Hairpin: a server using a neighbour's floating IP must get the reply through the
            # router, not straight from the neighbour, so masquerade what leaves by qr-.
            post.append(f'oifname "{qr}" ip saddr {cidr} ct status dnat masquerade')
        body = _chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", pre)
        body += _chain(
            "postrouting", "type nat hook postrouting priority srcnat; policy accept;", post
        )
        if self.nft_sync(ns, net.nft_table(*NAT_TABLE, body)):
            LOG.info("router %s: NAT with %d floating IPs", router.name, len(fips))

    def _sync_addresses(self, ns: str, want: dict[str, list[str]]) -> None:
        current: dict[str, set[str]] = {}
        for link in json.loads(net.run("ip", "-n", ns, "-j", "addr", "show") or "[]"):
            current[link["ifname"]] = {
                f"{a['local']}/{a['prefixlen']}"
                for a in link.get("addr_info", [])
                if a.get("family") == "inet"
            }
        for ifname, addrs in want.items():
            have = current.get(ifname, set())
            for addr in sorted(set(addrs) - have):
                net.run("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
                LOG.info("%s: %s + %s", ns, ifname, addr)
            for addr in sorted(have - set(addrs)):
                net.run("ip", "-n", ns, "addr", "del", addr, "dev", ifname, check=False)
                LOG.info("%s: %s - %s", ns, ifname, addr)

    def bind_router_ports(self, snap: Snapshot) -> None:
        """Give unbound router ports a host, so the bind-any driver binds them ACTIVE."""
        for port in snap.ports:
            owner = port.device_owner or ""
            if not owner.startswith("network:router_") or port.binding_host_id:
                continue
            if port.id in self.bound:
                continue
            self.bound.add(port.id)  # try once: a refusal must not cost an API call per pass
            try:
                self.conn.network.update_port(port, binding_host_id=BINDING_HOST)
            except Exception as exc:
                LOG.warning("could not bind router port %s: %s", port.id, exc)

    # ------------------------------------------------------------------ security groups
    def sync_security_groups(self, snap: Snapshot) -> None:
        members: dict[str, set[str]] = {}
        for port in snap.ports:
            for sg in port.security_group_ids or []:
                for ip in port.fixed_ips:
                    if ":" not in ip["ip_address"]:
                        members.setdefault(sg, set()).add(ip["ip_address"])
        by_vm: dict[str, list[Any]] = {}
        for port in snap.ports:
            if (port.device_owner or "").startswith("compute:") and port.device_id:
                by_vm.setdefault(port.device_id, []).append(port)
        for vm, ports in by_vm.items():
            ns = net.vm_netns(vm)
            mac2if = self._nics(ns, ports)
            if mac2if is None:
                continue
            text = net.nft_table(*SG_TABLE, _sg_body(ports, mac2if, snap.sgs, members))
            if self.nft_sync(ns, text):
                LOG.info(
                    "server %s: security groups applied (%d rules)", vm, text.count(" accept # ")
                )
        for ns in list(self.nics):
            if not net.netns_exists(ns):
                self.nics.pop(ns, None)
                self.applied.pop(ns, None)

    def _nics(self, ns: str, ports: list[Any]) -> dict[str, str] | None:
        """{mac: ifname} in a server's namespace, or None until every port's NIC exists."""
        inode = _inode(ns)
        if inode is None:
            return None  # not spawned yet
        cached = self.nics.get(ns)
        if cached is None or cached[0] != inode:
            mac2if = {mac: ifname for ifname, mac in net.netns_links(ns).items()}
            # The driver makes the namespace a moment before its NICs: caching a partial map
            # would write a table matching no interface (the driver's default-deny holds meanwhile).
            if not all(p.mac_address in mac2if for p in ports):
                return None
            self.nics[ns] = (inode, mac2if)
        return self.nics[ns][1]

    def nft_sync(self, ns: str, text: str) -> bool:
        """Apply text in ns unless this exact text is already applied to this same namespace."""
        key = (_inode(ns), text)
        if self.applied.get(ns) == key:
            return False
        net.nft_apply(ns, text)
        self.applied[ns] = key
        return True


def _sg_body(
    ports: list[Any], mac2if: dict[str, str], sgs: dict[str, Any], members: dict[str, set[str]]
) -> str:
    """The ssdc-sg table body: drop by default, one chain per port holding its ingress rules."""
    dispatch = [
        "ct state established,related accept",
        "ct state invalid drop",
        'iifname "lo" accept',
    ]
    chains = ""
    for port in sorted(ports, key=lambda p: p.id):
        ifname = mac2if.get(port.mac_address)
        if not ifname:
            continue
        if port.is_port_security_enabled is False:
            dispatch.append(f'iifname "{ifname}" accept')
            continue
        chain = "port-" + port.id[:11]
        dispatch.append(f'iifname "{ifname}" jump {chain}')
        rules = []
        for sg_id in port.security_group_ids or []:
            sg = sgs.get(sg_id)
            if sg is None:
                continue
            for rule in sg.security_group_rules:
                if rule.get("direction") == "ingress" and rule.get("ethertype") == "IPv4":
                    match = rule_to_nft(rule, members)
                    if match:
                        rules.append(f"{match} accept # sg {sg.name} rule {rule['id'][:8]}")
        chains += _chain(chain, None, sorted(rules))  # the API's rule order is not stable
    return _chain("input", "type filter hook input priority 0; policy drop;", dispatch) + chains


def rule_to_nft(rule: dict[str, Any], members: dict[str, set[str]]) -> str | None:
    """The match of one neutron ingress rule (nft syntax), or None if it can match nothing."""
    match = []
    if rule.get("remote_ip_prefix"):
        prefix = ipaddress.ip_network(rule["remote_ip_prefix"], strict=False)
        if prefix.version != 4:
            return None
        if prefix.prefixlen:
            match.append(f"ip saddr {prefix}")
    if rule.get("remote_group_id"):
        ips = sorted(members.get(rule["remote_group_id"], ()), key=ipaddress.ip_address)
        if not ips:
            return None
        match.append("ip saddr { " + ", ".join(ips) + " }")
    proto = str(rule.get("protocol") or "").lower()
    proto = PROTOCOLS.get(proto, proto)
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in ("tcp", "udp"):
        if low is not None:
            match.append(f"{proto} dport {low}" + (f"-{high}" if high not in (None, low) else ""))
        else:
            match.append(f"meta l4proto {proto}")
    elif proto == "icmp":
        match.append("meta l4proto icmp")
        if low is not None:
            match.append(f"icmp type {low}")
            if high is not None:
                match.append(f"icmp code {high}")
    elif proto not in ("", "any", "0"):
        match.append(f"meta l4proto {proto}")
    return " ".join(match) if match else "meta nfproto ipv4"


def _chain(name: str, hook: str | None, rules: Iterable[str]) -> str:
    head = f"    {hook}\n" if hook else ""
    return f"  chain {name} {{\n{head}" + "".join(f"    {r}\n" for r in rules) + "  }\n"


def _v4_addrs(port: Any, subnets: dict[str, Any]) -> list[str]:
    """['198.18.10.1/24', ...]: a port's IPv4 fixed IPs with their subnet's prefix length."""
    out = []
    for ip in port.fixed_ips:
        subnet = subnets.get(ip["subnet_id"])
        if subnet is None or subnet.ip_version != 4:
            continue
        net.check_allowed(subnet.cidr)
        out.append(f"{ip['ip_address']}/{ipaddress.ip_network(subnet.cidr).prefixlen}")
    return out


def _inode(ns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except FileNotFoundError:
        return None


#: How often the loop looks at local state (the hosts dir) between API passes.
TICK = 0.25
#: Seconds after a change during which the last listing is applied again every interval.
HOT_WINDOW = 20.0


def snapshot_digest(snap: Snapshot) -> str:
    """Ids and revision numbers of everything a pass acts on (a rule change bumps its group's)."""
    items = [*snap.routers, *snap.ports, *snap.fips, *snap.sgs.values()]
    return "|".join(sorted(f"{i.id}:{i.revision_number}" for i in items))


def local_digest() -> str:
    """The hosts the drivers run: a new server needs its security-group table at once."""
    try:
        return "|".join(sorted(os.listdir(net.hosts_dir())))
    except FileNotFoundError:
        return ""


def writes_seen() -> int | None:
    """How many write requests neutron-api has answered (the size of its changes file), or
    None when neutron signals none (no ``SSDC_CHANGES_FILE``)."""
    path = os.environ.get("SSDC_CHANGES_FILE")
    if not path:
        return None
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


@dataclass
class Pacer:
    """Decides when to list neutron, and when to apply again what it showed last.

    A listing costs neutron-api about 0.4 s of CPU (4 list calls): polling at 1 s kept a core
    of this 2-core machine 45-68 % busy with nothing happening, and at 1-2 s it took 15 of the
    ~100 CPU minutes of a test-suite run. So neutron is listed when its API has answered a
    write since the last listing (at most every ``interval``), and every ``safety_interval``
    regardless (a change made another way, a failed pass: the next one repairs it). For
    HOT_WINDOW seconds after a change the last listing is applied again every ``interval``,
    without an API call: a server's namespace and NICs appear after its ports do.
    """

    interval: float
    safety_interval: float
    last_list: float = float("-inf")
    last_apply: float = float("-inf")
    last_change: float = float("-inf")
    writes: int | None = -1
    seen: str | None = None
    local: str | None = None

    def list_due(self, writes: int | None) -> bool:
        since = time.monotonic() - self.last_list
        return since >= self.interval and (writes != self.writes or since >= self.safety_interval)

    def listed(self, writes: int | None, digest: str | None) -> None:
        """After a listing pass (``digest`` None: it failed, so list again soon)."""
        now = time.monotonic()
        self.last_list = self.last_apply = now
        self.writes = writes if digest is not None else -1
        if digest is None or digest != self.seen:
            self.seen = digest
            self.last_change = now

    def apply_due(self, local: str) -> bool:
        now = time.monotonic()
        if local != self.local:
            self.local = local
            self.last_change = now
            return True
        return now - self.last_change < HOT_WINDOW and now - self.last_apply >= self.interval

    def applied(self) -> None:
        self.last_apply = time.monotonic()


def run(reconciler: Reconciler, pacer: Pacer, once: bool) -> None:
    """List and apply, or apply the last listing again, as the pacer says; forever."""
    snap: Snapshot | None = None
    while True:
        writes = writes_seen()  # before listing: a write during the listing is seen next time
        local = local_digest()
        if pacer.list_due(writes):
            try:
                snap = reconciler.reconcile()
                pacer.listed(writes, snapshot_digest(snap))
            except Exception:
                LOG.exception("pass failed")
                pacer.listed(writes, None)
            if once:
                return
        elif snap is not None and pacer.apply_due(local):
            try:
                reconciler.apply(snap)
            except Exception:
                LOG.exception("apply failed")
            pacer.applied()
        time.sleep(TICK)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ssdc.reconciler", description="devcloud data plane reconciler"
    )
    parser.add_argument("--cloud", default="devcloud-admin")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
    parser.add_argument(
        "--safety-interval",
        type=float,
        default=30.0,
        help="seconds between listings with no write signalled (2 s when neutron signals none)",
    )
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("openstack").setLevel(logging.WARNING)
    net.setup_external()
    reconciler = Reconciler(openstack.connect(cloud=args.cloud))
    signalled = writes_seen() is not None
    safety = args.safety_interval if signalled else min(args.safety_interval, 2.0)
    LOG.info(
        "reconciler started, interval %.1fs, listing on neutron writes %s (else every %.0fs), "
        "hosts %s",
        args.interval,
        "yes" if signalled else "no",
        safety,
        net.hosts_dir(),
    )
    run(reconciler, Pacer(args.interval, safety), args.once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
