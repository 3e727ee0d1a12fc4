"""Supervised processes: each service runs in its own session, recorded in a pid file.

The pid file holds the session leader's pid (== its process group id) and its start time, so a
recycled pid is never mistaken for ours. Stopping signals that process group only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil


def start(argv: list[str], env: dict[str, str], log: Path, pid_file: Path) -> int:
    """Start ``argv`` in a new session, output to ``log``; record it in ``pid_file``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    pid_file.write_text(f"{proc.pid} {psutil.Process(proc.pid).create_time()}\n")
    return proc.pid


def recorded(pid_file: Path) -> int | None:
    """The pid of the session in ``pid_file`` if that very process still runs, else None."""
    try:
        pid_text, created = pid_file.read_text().split()
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(created)) > 0.01:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.pid
    except (FileNotFoundError, ValueError, psutil.Error):
        return None


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes of process group ``pgid`` (zombies excluded)."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_groups(pgids: list[int], timeout: float = 10.0) -> list[int]:
    """TERM each group, wait up to ``timeout`` for all to end, then KILL the rest.

    Returns the groups that had to be killed.
    """
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    remaining = list(pgids)
    while remaining and time.monotonic() < deadline:
        remaining = [pgid for pgid in remaining if group_members(pgid)]
        if remaining:
            time.sleep(0.2)
    for pgid in remaining:
        signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(group_members(pgid) for pgid in remaining) and time.monotonic() < deadline:
        time.sleep(0.1)
    return remaining


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, timeout: float = 5.0) -> bool:
    """True when the URL answers 2xx, 3xx or 401 (an API that wants a token is healthy)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status < 400)
    except urllib.error.HTTPError as exc:
        return exc.code in (300, 401)
    except (urllib.error.URLError, OSError):
        return False


def rss_bytes(pgid: int) -> int:
    """Resident memory of every process of a group."""
    total = 0
    for proc in group_members(pgid):
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total
