"""SSH test hosts: real sshd in namespaces, strict host keys from the console, nothing left."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from sparkstack.devcloud.server import hosts
from sparkstack.devcloud.server.net import netns_add, netns_delete, run
from sparkstack.devcloud.testhosts import (
    STATE_ROOT,
    TestBed,
    ensure_host_packages,
    host_keys_from_console,
    test_hosts,
)

pytestmark = pytest.mark.testhosts


async def _run(bed: TestBed, ip: str, command: str, known_hosts: Path | None = None) -> str:
    async with asyncssh.connect(
        ip,
        username=bed.user,
        client_keys=[str(bed.key_path)],
        known_hosts=str(known_hosts or bed.known_hosts),
        connect_timeout=10,
    ) as conn:
        result = await conn.run(command, check=True)
        return str(result.stdout)


def _leftovers(prefix: str, state: Path) -> list[str]:
    """Links and namespaces ``<prefix>-*``; processes of the host(s) whose state is ``state``
    or under it."""
    links = json.loads(run("ip", "-j", "link", "show") or "[]")
    found = [link["ifname"] for link in links if link["ifname"].startswith(prefix + "-")]
    found += [ns for ns in os.listdir("/run/netns") if ns.startswith(prefix + "-")]
    for pid in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"host_init.sh" in cmdline and any(
            f"{state}{end}".encode() in cmdline for end in ("/", "\0")
        ):
            found.append(f"process {pid}")
    return found


def test_three_hosts_login_with_strict_host_keys_and_leave_nothing() -> None:
    with test_hosts(3, prefix="sstt", subnet="198.18.251.0/24") as bed:
        running = _leftovers("sstt", bed.state_dir)  # what the teardown must remove, found
        assert {"sstt-br0", "sstt-h1", "sstt-h2", "sstt-h3"} <= set(running)
        assert sum(item.startswith("process ") for item in running) >= 3
        assert [h.ip for h in bed.hosts] == ["198.18.251.11", "198.18.251.12", "198.18.251.13"]
        assert bed.key_path.stat().st_mode & 0o777 == 0o600
        for host in bed.hosts:
            out = asyncio.run(_run(bed, host.ip, "hostname; hostname -I; sudo -n id -un; id -un"))
            assert out.split() == [host.name, host.ip, "root", "ubuntu"]
            assert host.host_key.startswith("ssh-ed25519 ")
        # A host sees only its own processes and cannot reach beyond its bridge.
        out = asyncio.run(_run(bed, bed.hosts[0].ip, "ps -e -o comm= | sort -u; ip route"))
        assert "tini" in out and "default" not in out
        # A wrong host key is refused: strict checking really is on.
        other = bed.hosts[1]
        wrong = bed.state_dir / "wrong_known_hosts"
        wrong.write_text(f"{bed.hosts[0].ip} {other.host_key}\n")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            asyncio.run(_run(bed, bed.hosts[0].ip, "true", known_hosts=wrong))
        # A stopped host refuses connections; started again it keeps its host key.
        bed.stop_host(other.name)
        with pytest.raises(OSError):
            asyncio.run(_run(bed, other.ip, "true"))
        bed.start_host(other.name)
        assert asyncio.run(_run(bed, other.ip, "hostname")).strip() == other.name
    assert _leftovers("sstt", STATE_ROOT / "sstt") == []
    assert not (STATE_ROOT / "sstt").exists()


def test_cloud_config_user_data_runs_once() -> None:
    ensure_host_packages()
    state = Path("/tmp/sparkstack-testhosts/ud-test")
    netns_add("sstu-h1")
    try:
        cfg = hosts.HostConfig(
            name="sstu-h1",
            hostname="sstu-h1",
            netns="sstu-h1",
            state_dir=state,
            user_data=b"""#cloud-config
users:
  - default
  - name: spark
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTest spark@test]
write_files:
  - path: /etc/sparkstack/hello.txt
    content: "hello\\n"
    permissions: '0600'
runcmd:
  - [sh, -c, 'echo ran >> /var/tmp/runcmd-count']
""",
        )
        hosts.save_config(cfg)
        hosts.start_host(cfg)
        assert _leftovers("sstu", state)  # the host's processes, as the last check looks for them
        # the first boot's runcmd has run (it runs after sshd starts) before the "reboot"
        first = _console_when(state, lambda text: "user-data exited with 0" in text)
        keys = host_keys_from_console(first)
        assert len(keys) == 1
        # the key on the console is the one sshd serves
        served = _in_host(state, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
        assert " ".join(served) == keys[0]
        assert "-----BEGIN SSH HOST KEY FINGERPRINTS-----" in first
        hosts.stop_host(state)
        hosts.start_host(hosts.load_config(state))  # a reboot: user_data does not run again
        # the second boot finished too (its user_data would have run by then)
        console = _console_when(state, lambda text: text.count("sparkstack finished at") == 2)
        assert "Datasource DataSourceNone" in console.rsplit("sparkstack finished at", 1)[1]
        out = _in_host(
            state,
            "cat /var/tmp/runcmd-count; cat /etc/sparkstack/hello.txt; "
            "stat -c %a /etc/sparkstack/hello.txt; id -un spark; "
            "cat /home/spark/.ssh/authorized_keys",
        )
        assert out.split()[:5] == ["ran", "hello", "600", "spark", "ssh-ed25519"]
        assert console.count("-----BEGIN SSH HOST KEY KEYS-----") == 2
        # host_keys_from_console reads the last boot's block: the key after the reboot...
        assert host_keys_from_console(console) == keys  # ...is the first boot's
        assert host_keys_from_console(console[len(first) :]) == keys
        assert not Path("/etc/sparkstack").exists()  # the root namespace's disk is untouched
    finally:
        hosts.delete_host(state)
        netns_delete("sstu-h1")
    assert _leftovers("sstu", state) == []


def _console_when(state: Path, ready: Any, timeout: float = 30) -> str:
    """The host's console once ``ready(text)`` holds (AssertionError after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not ready(text := hosts.console_log(state)):
        assert time.monotonic() < deadline, f"console not as expected: {text[-500:]}"
        time.sleep(0.1)
    return text


def _in_host(state: Path, command: str) -> str:
    """Run a command inside a host's namespaces (nsenter into its PID 1), waiting for runcmd."""
    pid = hosts.running_pid(state)
    assert pid is not None
    args = ["nsenter", "-t", str(pid), "-a", "sh", "-c"]
    for _ in range(50):
        proc = subprocess.run([*args, command], capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout
        asyncio.run(asyncio.sleep(0.1))
    raise AssertionError(proc.stderr)
