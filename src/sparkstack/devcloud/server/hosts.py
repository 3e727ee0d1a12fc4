"""Namespace SSH hosts: a network namespace plus PID, UTS, IPC and mount namespaces, with tini as
PID 1, a copy-on-write root filesystem over this machine's own, and sshd with a fresh host key.

Used by the devcloud's virt driver (one host per nova server) and by the SSH test hosts. The
caller makes the network namespace and its NICs; this module boots, stops and reads the host.
A host's state dir holds its disk layers, its console log and pid files. Killing PID 1 makes
the kernel kill every process of the host, so stopping needs only that one recorded pid.

A test-bed fault: ``HostConfig.sshd_delay`` seconds make sshd start that late on every boot of
the host, while the boot itself (``start_host``) returns as soon as host_init.sh is done, as a
VM is ACTIVE before its sshd listens. ``parse_sshd_delay`` reads the devcloud's metadata form.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .userdata import boot_scripts

HOST_INIT = Path(__file__).with_name("host_init.sh")
CONSOLE_LIMIT = 100_000  # bytes of console log returned, as nova's libvirt driver does
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CLEAN_ENV = {"PATH": SYS_PATH, "LANG": "C.UTF-8"}
# The host mounts over these; a state dir inside one would vanish or overlap (overlayfs refuses).
_SHADOWED = ("/etc", "/usr", "/var", "/opt", "/root", "/srv", "/home", "/run", "/dev", "/proc")
_SSH_LISTEN = "00000000:0016"  # 0.0.0.0:22 in /proc/net/tcp
_TCP_LISTEN = "0A"
MAX_SSHD_DELAY = 3600.0


class HostError(RuntimeError):
    """A host failed to boot; the message ends with the tail of its console log."""


@dataclass
class HostConfig:
    """What a host boots with. etc_hosts maps host names to IPs (None: localhost + own name)."""

    name: str
    hostname: str
    netns: str
    state_dir: Path
    user: str = "ubuntu"
    authorized_keys: list[str] = field(default_factory=list)
    user_data: bytes | None = None
    etc_hosts: dict[str, str] | None = None
    sshd_delay: float = 0.0  # seconds sshd starts late on each boot (a test-bed fault)
    layers: list[str] = field(default_factory=list)  # an image's disk layers, top first


def parse_sshd_delay(value: str | None, names: list[str]) -> float:
    """Seconds of sshd delay a metadata value asks of the server called one of ``names``.

    The value is a comma-separated list of ``SECONDS`` (every server carrying it) and
    ``NAME=SECONDS`` (only the server with that name or hostname; wins over a bare number), so
    one value set on every server of a cluster can slow exactly one node:
    ``"demo-worker-2=30"``. Raises ValueError on anything else.
    """
    every: float | None = None
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, seconds = item.rpartition("=")
        delay = _seconds(seconds, item)
        if not sep:
            every = delay
        elif name.strip() in names:
            return delay
    return every or 0.0


def _seconds(text: str, item: str) -> float:
    try:
        delay = float(text)
    except ValueError:
        raise ValueError(f"{item!r}: not SECONDS or NAME=SECONDS") from None
    if not 0 <= delay <= MAX_SSHD_DELAY:
        raise ValueError(f"{item!r}: seconds must be within 0..{MAX_SSHD_DELAY:.0f}")
    return delay


def start_host(cfg: HostConfig, timeout: float = 15.0) -> int:
    """Boot the host in its (already wired) netns; return PID 1's pid once sshd listens (with
    ``cfg.sshd_delay``: once host_init.sh is done, sshd comes up that many seconds later).

    Calling it again after stop_host() is a reboot: the disk layers stay, user_data does not
    run again and the host key is kept.
    """
    state = _check_state_dir(cfg.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    _write_boot_files(cfg, state)
    console = state / "console.log"
    out = subprocess.run(
        [
            "bash",
            "-c",
            # bash backgrounds the host and exits: the host is re-parented to this machine's
            # init, so the caller keeps no zombie and the host outlives a restart of the caller.
            # --kill-child: if unshare is killed, PID 1 of the host gets SIGKILL too.
            'setsid ip netns exec "$1" unshare --uts --ipc --mount --pid --fork --mount-proc '
            '--propagation private --kill-child "$2" -- /bin/bash "$3" "$4" "$5" "$6" '
            '</dev/null >>"$7" 2>&1 & echo $!',
            "boot",
            cfg.netns,
            shutil.which("tini", path=CLEAN_ENV["PATH"]) or "/usr/bin/tini",
            str(HOST_INIT),
            str(state),
            cfg.hostname,
            cfg.user,
            str(console),
        ],
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    unshare_pid = int(out.stdout.strip())
    (state / "unshare.pid").write_text(f"{unshare_pid}\n")
    deadline = time.monotonic() + timeout
    init_pid = _wait_ready(state, unshare_pid, deadline, ssh=cfg.sshd_delay <= 0)
    (state / "init.pid").write_text(f"{init_pid}\n")
    return init_pid


def stop_host(state_dir: Path) -> None:
    """Kill the host's PID 1 (the kernel then kills all its processes) and wait. Idempotent."""
    for pidfile, comm in (("init.pid", "tini"), ("unshare.pid", "unshare")):
        pid = _read_pid(state_dir / pidfile)
        if pid is not None and _comm(pid) == comm:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        (state_dir / pidfile).unlink(missing_ok=True)
    (state_dir / "init-done").unlink(missing_ok=True)


def delete_host(state_dir: Path) -> None:
    """Stop the host and remove its disk and console log. Idempotent."""
    stop_host(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)


def console_log(state_dir: Path) -> str:
    """The host's console: its boot log, with the SSH host keys in cloud-init's form."""
    try:
        with (state_dir / "console.log").open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - CONSOLE_LIMIT))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def running_pid(state_dir: Path) -> int | None:
    """PID 1 of the host if it is running, else None."""
    pid = _read_pid(state_dir / "init.pid")
    return pid if pid is not None and _comm(pid) == "tini" and _alive(pid) else None


def save_config(cfg: HostConfig) -> None:
    """Record the config in the state dir so the host can be booted again (power on, reboot)."""
    data = asdict(cfg)
    data["state_dir"] = str(cfg.state_dir)
    data["user_data"] = cfg.user_data.hex() if cfg.user_data else None
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    (cfg.state_dir / "host.json").write_text(json.dumps(data))


def load_config(state_dir: Path) -> HostConfig:
    """The config recorded by save_config()."""
    data = json.loads((state_dir / "host.json").read_text())
    data["state_dir"] = Path(data["state_dir"])
    data["user_data"] = bytes.fromhex(data["user_data"]) if data["user_data"] else None
    return HostConfig(**data)


def _check_state_dir(path: Path) -> Path:
    state = path.absolute()
    for shadowed in _SHADOWED:
        if state == Path(shadowed) or state.is_relative_to(shadowed):
            raise ValueError(f"host state dir {state} is under {shadowed}: the host mounts over it")
    return state


def _write_boot_files(cfg: HostConfig, state: Path) -> None:
    (state / "init-done").unlink(missing_ok=True)
    delay = state / "sshd-delay"  # read by host_init.sh just before it starts sshd
    if cfg.sshd_delay > 0:
        tmp = state / "sshd-delay.tmp"
        tmp.write_text(f"{cfg.sshd_delay:.3f}\n")
        tmp.replace(delay)
    else:
        delay.unlink(missing_ok=True)
    for layer in cfg.layers:  # overlayfs separates lower dirs with ":"
        if ":" in layer or "\n" in layer or not Path(layer).is_absolute():
            raise ValueError(f"not a usable disk layer path: {layer!r}")
    (state / "layers").write_text("".join(f"{layer}\n" for layer in cfg.layers))
    (state / "authorized_keys").write_text("".join(f"{k.strip()}\n" for k in cfg.authorized_keys))
    hosts = cfg.etc_hosts if cfg.etc_hosts is not None else {cfg.hostname: "127.0.1.1"}
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{ip} {name}" for name, ip in hosts.items()]
    (state / "etc_hosts").write_text("\n".join(lines) + "\n")
    scripts = boot_scripts(cfg.user_data, cfg.user)
    for fname, content in (("cloud-boot.sh", scripts.boot), ("user-data-final", scripts.final)):
        target = state / fname
        target.unlink(missing_ok=True)
        if content is not None:
            target.write_bytes(content.encode() if isinstance(content, str) else content)


def _wait_ready(state: Path, unshare_pid: int, deadline: float, ssh: bool = True) -> int:
    """Wait until host_init.sh is done and (``ssh``) sshd listens; return tini's pid (unshare's
    child)."""
    init_pid: int | None = None
    while True:
        if not _alive(unshare_pid):
            raise HostError(f"host died while booting: {_tail(state)}")
        if init_pid is None:
            init_pid = _child_tini(unshare_pid)
        if (
            init_pid is not None
            and (state / "init-done").exists()
            and (not ssh or _ssh_listening(init_pid))
        ):
            return init_pid
        if time.monotonic() > deadline:
            for pid in (init_pid, unshare_pid):
                if pid is not None:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            what = "start sshd" if ssh else "finish booting"
            raise HostError(f"host did not {what} in time: {_tail(state)}")
        time.sleep(0.02)


def _child_tini(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        if _comm(int(child)) == "tini":
            return int(child)
    return None


def _ssh_listening(pid: int) -> bool:
    """Whether something listens on 0.0.0.0:22 in the network namespace of pid."""
    try:
        rows = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(r.split()[1] == _SSH_LISTEN and r.split()[3] == _TCP_LISTEN for r in rows)


def _tail(state: Path) -> str:
    return " | ".join(console_log(state).strip().splitlines()[-8:])


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (kill -0 succeeds on zombies)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # read() of a pid that just exited raises ESRCH, not ENOENT
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
