"""The devcloud data plane, the whole way, as a cloud user sees it (openstacksdk as `devcloud`).

Three servers with a keypair and user_data; a floating IP on the first; SSH to it with host keys
from the console log (strict checking), to the others through it; fixed IPs unreachable from
here; security-group rules followed within about a second; stop/start/reboot act on the host;
delete leaves no namespace, veth, host dir or process. Prints the figures it measures.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shlex
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from sparkstack.devcloud import DevcloudConfig
from sparkstack.devcloud.config import PORTS
from sparkstack.devcloud.server import hosts, net
from sparkstack.devcloud.testhosts import host_keys_from_console

pytestmark = pytest.mark.devcloud

USER = "ubuntu"
SCRIPT = '#!/bin/sh\necho "user-data ran as $(id -un) on $(hostname)" > /var/tmp/user-data-ran\n'
CLOUD_CONFIG = """#cloud-config
write_files:
  - path: /etc/ssdc-test.conf
    content: "written by cloud-config\\n"
runcmd:
  - [sh, -c, "id -un > /var/tmp/runcmd-ran"]
"""


def _fixed_ip(server: Any) -> str:
    return next(
        a["addr"]
        for addrs in server.addresses.values()
        for a in addrs
        if a.get("OS-EXT-IPS:type", "fixed") == "fixed"
    )


def _tcp(ip: str, port: int, timeout: float = 1.0) -> str:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return "open"
    except OSError as exc:
        return exc.strerror or type(exc).__name__


@dataclass
class Bed:
    conn: Any
    admin: Any
    servers: list[Any]
    ips: list[str]
    fip: str
    sg: Any
    key: Path
    known_hosts: Path
    started: float

    async def run(self, index: int, command: str) -> str:
        """Run a command on server `index`: 0 at its floating IP, others through server 0."""
        opts = {
            "username": USER,
            "client_keys": [str(self.key)],
            "known_hosts": str(self.known_hosts),
            "connect_timeout": 5,
        }
        async with asyncssh.connect(self.fip, **opts) as jump:
            if index == 0:
                return str((await jump.run(command, check=True)).stdout)
            async with asyncssh.connect(self.ips[index], tunnel=jump, **opts) as conn:
                return str((await conn.run(command, check=True)).stdout)

    def ssh(self, index: int, command: str, wait: float = 0.0) -> str:
        deadline = time.monotonic() + wait
        while True:
            try:
                return asyncio.run(self.run(index, command))
            except (OSError, asyncssh.Error):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


def _hosts_dir() -> Path:
    return DevcloudConfig.load().hosts_dir


@pytest.fixture(scope="module")
def bed(devcloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    if not devcloud.data_plane:
        pytest.skip("the devcloud runs without the data plane (nova's fake driver)")
    conn, admin = devcloud.connect(), devcloud.connect(admin=True)
    work = tmp_path_factory.mktemp("dataplane")
    key = asyncssh.generate_private_key("ssh-ed25519")
    (work / "id").write_bytes(key.export_private_key())
    (work / "id").chmod(0o600)
    tag = f"ssdct{os.getpid()}"
    keypair = conn.compute.create_keypair(name=tag, public_key=key.export_public_key().decode())
    sg = conn.network.create_security_group(name=tag, description="data plane test")
    for rule in (
        {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
        {"remote_group_id": sg.id},
    ):
        conn.network.create_security_group_rule(
            security_group_id=sg.id, direction="ingress", ethertype="IPv4", **rule
        )
    image = conn.image.find_image("ubuntu-24.04")
    flavor = conn.compute.find_flavor("m1.tiny")
    private = conn.network.find_network("private")
    public = conn.network.find_network("public")
    user_data = [SCRIPT, CLOUD_CONFIG, None]
    started = time.monotonic()
    servers = [
        conn.compute.create_server(
            name=f"{tag}-{i}",
            image_id=image.id,
            flavor_id=flavor.id,
            key_name=keypair.name,
            networks=[{"uuid": private.id}],
            security_groups=[{"name": sg.name}],
            **({"user_data": base64.b64encode(ud.encode()).decode()} if ud else {}),
        )
        for i, ud in enumerate(user_data, start=1)
    ]
    fip = None
    try:
        servers = [conn.compute.wait_for_server(s, interval=0.3, wait=120) for s in servers]
        print(f"\nFIGURE 3 servers ACTIVE {time.monotonic() - started:.1f}s after the first create")
        port = next(conn.network.ports(device_id=servers[0].id))
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
        ips = [_fixed_ip(s) for s in servers]
        lines = []
        for server, ip in zip(servers, ips, strict=True):
            console = conn.compute.get_server_console_output(server)["output"]
            names = f"{ip},{fip.floating_ip_address}" if server is servers[0] else ip
            lines += [f"{names} {k}" for k in host_keys_from_console(console)]
        (work / "known_hosts").write_text("\n".join(lines) + "\n")
        yield Bed(
            conn,
            admin,
            servers,
            ips,
            fip.floating_ip_address,
            sg,
            work / "id",
            work / "known_hosts",
            started,
        )
    finally:
        if fip is not None:
            conn.network.delete_ip(fip, ignore_missing=True)
        for server in servers:
            conn.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=0.3, wait=120)
        conn.network.delete_security_group(sg, ignore_missing=True)
        conn.compute.delete_keypair(keypair, ignore_missing=True)


def test_ssh_at_floating_ip_and_through_it(bed: Bed) -> None:
    assert (
        len(
            host_keys_from_console(
                bed.conn.compute.get_server_console_output(bed.servers[0])["output"]
            )
        )
        == 1
    )
    out = bed.ssh(0, "hostname; sudo -n id -un; cat /var/tmp/user-data-ran", wait=30)
    ready = time.monotonic() - bed.started
    assert out.split("\n")[:2] == [bed.servers[0].name, "root"]
    assert f"user-data ran as root on {bed.servers[0].name}" in out
    for index in (1, 2):
        out = bed.ssh(index, "hostname; ip -4 -o addr show eth0; ip route show default", wait=30)
        assert out.startswith(bed.servers[index].name)
        assert bed.ips[index] in out and "default via 198.18.10.1" in out
    print(
        f"\nFIGURE 3 servers SSH-ready {time.monotonic() - bed.started:.1f}s "
        f"(first at its floating IP {ready:.1f}s)"
    )
    out = bed.ssh(1, "cat /etc/ssdc-test.conf; cat /var/tmp/runcmd-ran", wait=10)
    assert out.split("\n")[:2] == ["written by cloud-config", "root"]


def _banner(bed: Bed, index: int, ip: str, port: int = 22) -> str:
    """What server ``index`` reads first from ``ip:port`` ("" when it cannot connect)."""
    probe = f"exec 3<>/dev/tcp/{ip}/{port} && head -c 7 <&3"
    return bed.ssh(index, f"timeout 5 bash -c {shlex.quote(probe)} 2>/dev/null || :", wait=30)


def test_fixed_ips_unreachable_from_root_namespace(bed: Bed) -> None:
    # sshd listens on every fixed IP: a member of the security group reaches each one...
    for index, ip in enumerate(bed.ips):
        assert _banner(bed, 1 if index == 0 else 0, ip) == "SSH-2.0", ip
    # ...this machine, outside the cloud, only the floating IP
    for ip in bed.ips:
        assert _tcp(ip, 22) != "open"
    assert _tcp(bed.fip, 22) == "open"


def test_servers_reach_the_public_apis_and_nothing_else_of_this_machine(bed: Bed) -> None:
    """As on a real cloud, a server reaches the catalog's public endpoints through its router
    (an s3a executor, a cluster's reaper); the rest of this machine's loopback stays closed."""
    urls = [bed.conn.endpoint_for(kind) for kind in ("identity", "compute", "network")]
    for url in urls:
        assert not url.startswith("http://127."), url
        code = bed.ssh(1, f"curl -s -m 5 -o /dev/null -w %{{http_code}} {shlex.quote(url)} || :")
        assert code in {"200", "300", "401"}, (url, code)  # an answer of the API itself
    gateway = urls[0].split("//")[1].split(":")[0]
    assert _banner(bed, 1, gateway, PORTS["mariadb"]) == ""  # loopback-only: not forwarded
    assert _banner(bed, 1, "127.0.0.1", PORTS["mariadb"]) == ""  # the server's own loopback
    assert _tcp(gateway, PORTS["keystone"]) == "open"  # this machine's clients, the same URL


def test_members_and_hairpin(bed: Bed) -> None:
    bed.ssh(1, "setsid -f python3 -m http.server 8080 >/dev/null 2>&1 </dev/null; sleep 0.5")
    code = bed.ssh(2, f"curl -s -m 5 -o /dev/null -w %{{http_code}} http://{bed.ips[1]}:8080/")
    assert code == "200"  # the remote-group rule lets members in
    assert bed.ssh(2, f"exec 3<>/dev/tcp/{bed.fip}/22 && head -c 7 <&3") == "SSH-2.0"


def test_security_group_rules_are_followed(bed: Bed) -> None:
    bed.ssh(0, "setsid -f python3 -m http.server 8080 >/dev/null 2>&1 </dev/null; sleep 0.5")
    # it listens: from inside the server and from a member of its security group...
    assert _http_code(bed, 0, "127.0.0.1") == "200"
    assert _http_code(bed, 1, bed.ips[0]) == "200"
    # ...but from outside, with no rule for 8080, the port is closed
    assert _tcp(bed.fip, 8080) != "open"
    rule = bed.conn.network.create_security_group_rule(
        security_group_id=bed.sg.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=8080,
        port_range_max=8080,
        remote_ip_prefix="198.19.0.0/24",
    )
    opened = _wait_for(lambda: _tcp(bed.fip, 8080, 0.3) == "open")
    bed.conn.network.delete_security_group_rule(rule)
    closed = _wait_for(lambda: _tcp(bed.fip, 8080, 0.3) != "open")
    assert _http_code(bed, 0, "127.0.0.1") == "200"  # closed by the rule, not a dead server
    print(f"\nFIGURE rule add -> port open {opened:.1f}s, rule delete -> closed {closed:.1f}s")
    assert opened < 15 and closed < 15  # about 1 s on an idle machine; slower under load


def test_stop_start_and_reboot_act_on_the_host(bed: Bed) -> None:
    compute, server = bed.conn.compute, bed.servers[2]
    boot_id = bed.ssh(2, "cat /proc/1/stat | cut -d' ' -f22")
    assert _banner(bed, 0, bed.ips[2]) == "SSH-2.0"
    assert hosts.running_pid(_hosts_dir() / server.id) is not None
    compute.stop_server(server)
    compute.wait_for_server(server, status="SHUTOFF", interval=0.3, wait=60)
    # the host is gone (not just unreachable): its port is closed to its neighbour, no PID 1
    assert _banner(bed, 0, bed.ips[2]) == ""
    assert hosts.running_pid(_hosts_dir() / server.id) is None
    with pytest.raises((OSError, asyncssh.Error)):
        bed.ssh(2, "true")
    compute.start_server(server)
    compute.wait_for_server(server, status="ACTIVE", interval=0.3, wait=60)
    after_start = bed.ssh(2, "cat /proc/1/stat | cut -d' ' -f22", wait=30)
    compute.reboot_server(server, "SOFT")
    _wait_for(lambda: compute.get_server(server).status == "ACTIVE", timeout=60)
    after_reboot = bed.ssh(
        2, "cat /proc/1/stat | cut -d' ' -f22; cat /var/tmp/runcmd-ran || :", wait=30
    )
    assert len({boot_id, after_start, after_reboot.split()[0]}) == 3  # a new PID 1 each boot


def test_a_snapshot_boots_with_the_files_of_its_server(bed: Bed) -> None:
    """nova createImage packs the server's disk into Glance; a server booted from it has the
    server's files (as `image bake` needs), while what is not on its disk (/home) is not."""
    bed.ssh(1, "sudo sh -c 'mkdir -p /opt/baked && echo from-the-snapshot > /opt/baked/file'")
    image = bed.conn.compute.create_server_image(bed.servers[1], f"{bed.servers[1].name}-snap")
    image = bed.conn.image.wait_for_status(
        bed.conn.image.get_image(image), status="active", wait=120
    )
    try:
        assert image.properties.get("ssdc_disk") == "layers"
        server = bed.conn.compute.create_server(
            name=f"{bed.servers[0].name[:-2]}-4",
            image_id=image.id,
            flavor_id=bed.conn.compute.find_flavor("m1.tiny").id,
            key_name=bed.servers[1].key_name,
            networks=[{"uuid": bed.conn.network.find_network("private").id}],
            security_groups=[{"name": bed.sg.name}],
        )
        bed.servers.append(server)  # deleted with the others
        server = bed.conn.compute.wait_for_server(server, interval=0.3, wait=120)
        bed.servers[-1] = server
        bed.ips.append(_fixed_ip(server))
        console = bed.conn.compute.get_server_console_output(server)["output"]
        with bed.known_hosts.open("a") as known:
            known.writelines(f"{bed.ips[-1]} {k}\n" for k in host_keys_from_console(console))
        index = len(bed.ips) - 1
        assert bed.ssh(index, "cat /opt/baked/file", wait=30).strip() == "from-the-snapshot"
        assert bed.ssh(index, "hostname").strip() == server.name
    finally:
        bed.conn.image.delete_image(image, ignore_missing=True)


def test_delete_leaves_nothing(bed: Bed) -> None:
    ports = [p.id for s in bed.servers for p in bed.admin.network.ports(device_id=s.id)]
    uuids = [s.id for s in bed.servers]
    # what delete must remove exists now, under the names looked for below
    assert len(ports) == len(uuids)
    assert sorted(ns[3:] for ns in net.netns_list() if ns[3:] in uuids) == sorted(uuids)
    assert all(net.tap_name(p) in _links() for p in ports)
    assert all((_hosts_dir() / u).exists() for u in uuids)
    assert len(_processes_of(uuids)) >= len(uuids)
    assert _fip_on_router(bed.fip)
    started = time.monotonic()
    bed.conn.network.delete_ip(bed.conn.network.find_ip(bed.fip))
    for server in bed.servers:
        bed.conn.compute.delete_server(server)
    for server in bed.servers:
        bed.conn.compute.wait_for_delete(server, interval=0.2, wait=120)
    print(f"\nFIGURE delete of 3 servers + floating IP {time.monotonic() - started:.1f}s")
    assert not [ns for ns in net.netns_list() if ns[3:] in uuids]
    links = _links()
    assert not [p for p in ports if net.tap_name(p) in links]
    assert not [u for u in uuids if (_hosts_dir() / u).exists()]
    assert not _processes_of(uuids)
    assert _wait_for(lambda: not _fip_on_router(bed.fip), timeout=5) < 5


def _http_code(bed: Bed, index: int, ip: str, port: int = 8080) -> str:
    return bed.ssh(index, f"curl -s -m 5 -o /dev/null -w %{{http_code}} http://{ip}:{port}/ || :")


def _links() -> set[str]:
    return {link["ifname"] for link in json.loads(net.run("ip", "-j", "link", "show"))}


def _processes_of(uuids: list[str]) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "host_init.sh" in cmdline and any(u in cmdline for u in uuids):
            found.append(int(pid))
    return found


def _fip_on_router(fip: str) -> bool:
    for ns in net.netns_list():
        if ns.startswith("qrouter-") and f"{fip}/32" in net.run("ip", "-n", ns, "-4", "-o", "addr"):
            return True
    return False


def _wait_for(check: Any, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - started


SSHD_DELAY = 10.0


def _ssh_port_inside(server_id: str) -> bool:
    """Whether port 22 of the server's fixed IP accepts, tried from inside its own namespace."""
    probe = "exec 3<>/dev/tcp/127.0.0.1/22 && head -c 7 <&3"
    out = net.run("ip", "netns", "exec", net.vm_netns(server_id), "bash", "-c", probe, check=False)
    return out.startswith("SSH-2.0")


def test_sshd_delay_metadata_slows_exactly_one_server(devcloud: Any) -> None:
    """The test-bed fault ``ssdc_sshd_delay``: one value on both servers, naming one of them."""
    if not devcloud.data_plane:
        pytest.skip("the devcloud runs without the data plane (nova's fake driver)")
    conn = devcloud.connect()
    tag = f"ssdcd{os.getpid()}"
    image = conn.image.find_image("ubuntu-24.04")
    flavor = conn.compute.find_flavor("m1.tiny")
    private = conn.network.find_network("private")
    metadata = {"ssdc_sshd_delay": f"{tag}-slow={SSHD_DELAY:g}"}
    servers = []
    try:
        started = time.monotonic()
        for name in (f"{tag}-slow", f"{tag}-fast"):
            servers.append(
                conn.compute.create_server(
                    name=name,
                    image_id=image.id,
                    flavor_id=flavor.id,
                    networks=[{"uuid": private.id}],
                    metadata=metadata,
                )
            )
        slow = conn.compute.wait_for_server(servers[0], interval=0.2, wait=120)
        active = time.monotonic()
        # ACTIVE while its sshd does not listen yet: the boot did not wait for sshd...
        assert not _ssh_port_inside(slow.id)
        # ...though the console shows the host keys already, as cloud-init's does
        console = conn.compute.get_server_console_output(slow)["output"]
        assert len(host_keys_from_console(console)) == 1
        assert f"sshd starts in {SSHD_DELAY:.3f}s" in console
        fast = conn.compute.wait_for_server(servers[1], interval=0.2, wait=120)
        assert _ssh_port_inside(fast.id)  # the same metadata, another name: no delay
        closed = 1
        while not _ssh_port_inside(slow.id):
            closed += 1
            assert time.monotonic() - active < SSHD_DELAY + 30, "sshd never came up"
            time.sleep(0.2)
        opened = time.monotonic()
        booted = (_hosts_dir() / slow.id / "init-done").stat().st_mtime
        late = time.time() - booted
        print(
            f"\nFIGURE sshd delay {SSHD_DELAY:g}s: slow server ACTIVE {active - started:.1f}s"
            f" after create, its port 22 closed {opened - active:.1f}s more ({closed} probes),"
            f" open {late:.1f}s after its boot finished"
        )
        assert SSHD_DELAY - 0.5 < late < SSHD_DELAY + 10
    finally:
        for server in servers:
            conn.compute.delete_server(server, ignore_missing=True)
        for server in servers:
            conn.compute.wait_for_delete(server, interval=0.3, wait=120)
