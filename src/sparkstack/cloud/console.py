"""SSH host keys as cloud-init prints them on the console, to pin them before first contact."""

from __future__ import annotations

from sparkstack.cloud.connection import Cloud, translate_errors

BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
END = "-----END SSH HOST KEY KEYS-----"


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
    """The host keys a server's console log shows, or an empty list."""
    with translate_errors("reading the console log"):
        output = cloud.conn.compute.get_server_console_output(server_id)
    return parse_host_keys(str(output.get("output") or ""))
