"""SSH host keys as cloud-init prints them on the console, to pin them before first contact.

On a real cloud the keys appear some seconds after a server is ACTIVE (once cloud-init has run),
so the consoles are read again until every server shows its keys or the deadline passes.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud, translate_errors

BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
END = "-----END SSH HOST KEY KEYS-----"
POLL_SECONDS = 2.0


def parse_host_keys(console: str) -> list[str]:
    """``"<type> <base64>"`` lines of the last host-key block in ``console`` (empty if none)."""
    start = console.rfind(BEGIN)
    if start < 0:
        return []
    end = console.find(END, start)
    if end < 0:
        return []
    keys = []
    for line in console[start + len(BEGIN) : end].splitlines():
        # Serial consoles may prefix lines (timestamps, "ci-info:"); find the key type.
        fields = line.split()
        for i, field in enumerate(fields[:-1]):
            if field.startswith(("ssh-", "ecdsa-", "sk-")):
                keys.append(f"{field} {fields[i + 1]}")
                break
    return keys


def host_keys(cloud: Cloud, server_id: str) -> list[str]:
    """The host keys a server's console log shows now, or an empty list."""
    with translate_errors("reading the console log"):
        output = cloud.conn.compute.get_server_console_output(server_id)
    return parse_host_keys(str(output.get("output") or ""))


def wait_for_host_keys(
    cloud: Cloud,
    server_ids: list[str],
    deadline: float,
    on_progress: Callable[[int], None] = lambda _n: None,
) -> dict[str, list[str]]:
    """Host keys by server id, reading each console until it shows them or ``deadline``
    (``time.monotonic()``) passes; a server still without keys then maps to []."""
    found: dict[str, list[str]] = {}
    while True:
        pending = [sid for sid in server_ids if sid not in found]
        keys = concurrently(
            {sid: functools.partial(host_keys, cloud, sid) for sid in pending},
            "reading console logs",
        )
        found.update({sid: k for sid, k in keys.items() if k})
        on_progress(len(found))
        if len(found) == len(server_ids) or time.monotonic() >= deadline:
            return {sid: found.get(sid, []) for sid in server_ids}
        time.sleep(POLL_SECONDS)
