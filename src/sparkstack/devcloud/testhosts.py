"""SSH test hosts: real sshd hosts in Linux namespaces, for tests of the node layer.

Each host is a network namespace on a bridge ``<prefix>-br0`` (the root namespace holds .1),
booted by the same code as the devcloud's servers (server/hosts.py): its own hostname, PID
namespace, copy-on-write root filesystem, user ``ubuntu`` with key-only login and passwordless
sudo. Host keys come from each host's console log, as a cloud client would read them, into a
known_hosts file for strict checking. The hosts have no default route: nothing leaves the machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from sparkstack.errors import DevcloudError

from .install import HOST_PACKAGES, NODE_PACKAGES, apt_install, missing_apt_packages
from .server import hosts
from .server.net import ALLOWED, netns_delete, netns_list, run

#: What a host needs to boot, and what the software tested on it (Spark: Java, python3) needs:
#: a host is an overlay of this machine's root and cannot install anything itself.
PACKAGES = (*HOST_PACKAGES, *NODE_PACKAGES)
STATE_ROOT = Path("/tmp/sparkstack-testhosts")
USER = "ubuntu"
KEYS_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
KEYS_END = "-----END SSH HOST KEY KEYS-----"


def ensure_host_packages() -> None:
    """Install the Debian packages of PACKAGES that dpkg does not list as installed (sshd, sudo,
    tini, nft, ...; Java, python3, curl for the nodes' software), starting no daemon."""
    missing = missing_apt_packages(PACKAGES)
    if not missing:
        return
    if os.geteuid() != 0:
        raise DevcloudError(f"packages {' '.join(missing)} are missing; run as root to install")
    apt_install(missing, STATE_ROOT / "install-apt.log")


@dataclass(frozen=True)
class TestHost:
    """One host: its hostname, its IP on the test bridge, its SSH host key ("ssh-ed25519 AAAA")."""

    __test__ = False  # not a pytest test class, despite the name

    name: str
    ip: str
    host_key: str


@dataclass
class TestBed:
    """Running test hosts and what a client needs to log in with strict host-key checking."""

    __test__ = False

    hosts: list[TestHost]
    user: str
    key_path: Path
    public_key: str
    known_hosts: Path
    state_dir: Path = field(default=STATE_ROOT, repr=False)

    def host(self, name: str) -> TestHost:
        return next(h for h in self.hosts if h.name == name)

    def stop_host(self, name: str) -> None:
        """Stop every process of one host (its address stays: connections are refused)."""
        self.host(name)
        hosts.stop_host(self.state_dir / name)

    def start_host(self, name: str) -> None:
        """Boot a stopped host again, with the same disk and host key."""
        hosts.start_host(hosts.load_config(self.state_dir / name))


def host_keys_from_console(text: str) -> list[str]:
    """The "type base64" host keys between cloud-init's BEGIN/END SSH HOST KEY KEYS lines."""
    if KEYS_BEGIN not in text:
        return []
    block = text.rsplit(KEYS_BEGIN, 1)[1].split(KEYS_END, 1)[0]
    return [" ".join(line.split()[:2]) for line in block.splitlines() if line.startswith("ssh-")]


@contextmanager
def test_hosts(
    count: int, *, prefix: str = "ssth", subnet: str = "198.18.250.0/24"
) -> Iterator[TestBed]:
    """Start hosts ``<prefix>-h1``... at .11, .12, ... of ``subnet``; tear all down on exit."""
    net = ipaddress.ip_network(subnet)
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(ALLOWED):
        raise DevcloudError(f"test host subnet {subnet} must be inside {ALLOWED}")
    if not 1 <= count <= min(200, net.num_addresses - 12):
        raise DevcloudError(f"cannot fit {count} test hosts in {subnet}")
    if len(f"{prefix}-h{count}") > 15:
        raise DevcloudError(f"prefix {prefix!r} is too long for interface names (max 15 chars)")
    if os.geteuid() != 0:
        raise DevcloudError("test hosts need root (network namespaces); run the tests as root")
    ensure_host_packages()
    state = STATE_ROOT / prefix
    owner = _owner(state)
    if owner is not None:
        raise DevcloudError(f"test hosts {prefix}-* are in use by pid {owner}; use another prefix")
    _teardown(prefix, state)  # leftovers of a run that was killed
    state.mkdir(parents=True, mode=0o755)
    (state / "owner.pid").write_text(f"{os.getpid()}\n")
    try:
        yield _bring_up(count, prefix, net, state)
    finally:
        _teardown(prefix, state)


test_hosts.__test__ = False  # type: ignore[attr-defined]


def _bring_up(count: int, prefix: str, net: ipaddress.IPv4Network, state: Path) -> TestBed:
    bridge = f"{prefix}-br0"
    run("ip", "link", "add", bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0")
    run("ip", "addr", "add", f"{net[1]}/{net.prefixlen}", "dev", bridge)
    run("ip", "link", "set", bridge, "up")
    names = [f"{prefix}-h{i}" for i in range(1, count + 1)]
    ips = {name: str(net[10 + i]) for i, name in enumerate(names, start=1)}
    for name, ip in ips.items():
        run("ip", "netns", "add", name)
        run("ip", "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", name)
        run("ip", "link", "set", name, "master", bridge, "up")
        run("ip", "-n", name, "link", "set", "lo", "up")
        run("ip", "-n", name, "addr", "add", f"{ip}/{net.prefixlen}", "dev", "eth0")
        run("ip", "-n", name, "link", "set", "eth0", "up")

    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"sparkstack-testhosts-{prefix}")
    key_path = state / "id_ed25519"
    key_path.write_bytes(key.export_private_key())
    key_path.chmod(0o600)
    public_key = key.export_public_key().decode().strip()

    configs = [
        hosts.HostConfig(
            name=name,
            hostname=name,
            netns=name,
            state_dir=state / name,
            user=USER,
            authorized_keys=[public_key],
            etc_hosts=ips,
        )
        for name in names
    ]
    for cfg in configs:
        hosts.save_config(cfg)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda cfg: hosts.start_host(cfg, timeout=30), configs))

    bed_hosts = []
    for name, ip in ips.items():
        found = host_keys_from_console(hosts.console_log(state / name))
        if not found:
            raise DevcloudError(f"test host {name} printed no SSH host key on its console")
        bed_hosts.append(TestHost(name=name, ip=ip, host_key=found[0]))
    known_hosts = state / "known_hosts"
    known_hosts.write_text("".join(f"{h.name},{h.ip} {h.host_key}\n" for h in bed_hosts))
    return TestBed(bed_hosts, USER, key_path, public_key, known_hosts, state)


def _owner(state: Path) -> int | None:
    """The pid of another live process that runs test hosts in this state dir, if any."""
    try:
        pid = int((state / "owner.pid").read_text())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _teardown(prefix: str, state: Path) -> None:
    """Stop the hosts by recorded pid, delete their namespaces, the bridge and the state dir."""
    if state.is_dir():
        for host_dir in state.iterdir():
            if host_dir.is_dir():
                hosts.stop_host(host_dir)
    ours = re.compile(rf"^{re.escape(prefix)}-h[0-9]+$")
    for link in json.loads(run("ip", "-j", "link", "show", check=False) or "[]"):
        if ours.match(link["ifname"]):
            run("ip", "link", "del", link["ifname"], check=False)  # the peer goes with it
    for ns in netns_list():
        if ours.match(ns):
            netns_delete(ns)
    run("ip", "link", "del", f"{prefix}-br0", check=False)
    with suppress(FileNotFoundError):
        shutil.rmtree(state)
