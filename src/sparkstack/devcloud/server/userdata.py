"""user_data as a namespace host runs it: what cloud-init would do with it, as shell scripts.

A host has no cloud-init, so user_data is turned into at most two scripts before boot: ``boot``
(users, ssh_authorized_keys and write_files from cloud-config; run once before sshd starts, as
cloud-init's config stage) and ``final`` (a ``#!`` user_data script itself, or cloud-config's
runcmd; run once in the background after sshd starts, as cloud-final does). Other cloud-config
keys (packages, bootcmd, ...) are not supported: the hosts have no network to install from.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from dataclasses import dataclass
from typing import Any

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class BootScripts:
    """The scripts host_init.sh runs: ``boot`` (bash, before sshd), ``final`` (after sshd)."""

    boot: str | None = None
    final: bytes | None = None


def boot_scripts(user_data: bytes | None, default_user: str) -> BootScripts:
    """Translate raw (already base64-decoded) user_data into the host's boot scripts."""
    if not user_data:
        return BootScripts()
    if user_data.startswith(_GZIP_MAGIC):
        user_data = gzip.decompress(user_data)
    if user_data.startswith(b"#!"):
        return BootScripts(final=user_data)
    if user_data.startswith(b"#cloud-config"):
        return _from_cloud_config(user_data.decode(), default_user)
    note = "echo 'cloud-init: user_data is neither a #! script nor #cloud-config; ignored'\n"
    return BootScripts(boot=note)


def _from_cloud_config(text: str, default_user: str) -> BootScripts:
    import yaml  # in both venvs (oslo and sparkstack depend on PyYAML); only needed here

    config = yaml.safe_load(text) or {}
    if not isinstance(config, dict):
        raise ValueError("cloud-config user_data must be a YAML mapping")
    lines = ["set -u"]
    for entry in config.get("users") or []:
        lines += _user_lines(entry)
    keys = config.get("ssh_authorized_keys") or []
    if keys:
        lines += _authorized_keys_lines(default_user, keys)
    early = [f for f in config.get("write_files") or [] if not f.get("defer")]
    late = [f for f in config.get("write_files") or [] if f.get("defer")]
    for entry in early:
        lines += _write_file_lines(entry)
    final = ["#!/bin/sh"]
    for entry in late:
        final += _write_file_lines(entry)
    for cmd in config.get("runcmd") or []:
        final.append(cmd if isinstance(cmd, str) else shlex.join(str(c) for c in cmd))
    return BootScripts(
        boot="\n".join(lines) + "\n",
        final=("\n".join(final) + "\n").encode() if len(final) > 1 else None,
    )


def _user_lines(entry: Any) -> list[str]:
    """Shell for one `users:` entry ("default" is the image user host_init.sh always makes)."""
    if entry == "default":
        return []
    spec: dict[str, Any] = {"name": entry} if isinstance(entry, str) else dict(entry)
    name = shlex.quote(str(spec["name"]))
    groups = spec.get("groups") or []
    if isinstance(groups, str):
        groups = [g.strip() for g in groups.split(",") if g.strip()]
    create = ["useradd", "--create-home", "--user-group"]
    create += ["--shell", str(spec.get("shell") or "/bin/bash")]
    if spec.get("homedir"):
        create += ["--home-dir", str(spec["homedir"])]
    lines = [f"id {name} >/dev/null 2>&1 || {shlex.join(create)} {name}"]
    for group in groups:
        g = shlex.quote(group)
        lines.append(f"getent group {g} >/dev/null || groupadd {g}")
        lines.append(f"usermod -a -G {g} {name}")
    password = spec.get("hashed_passwd") or spec.get("passwd")
    lines.append(f"usermod -p {shlex.quote(str(password) if password else '*')} {name}")
    sudo = spec.get("sudo")
    rules = [sudo] if isinstance(sudo, str) else list(sudo or [])
    if rules:
        body = "".join(f"{spec['name']} {rule}\n" for rule in rules)
        lines.append(f"printf %s {shlex.quote(body)} > /etc/sudoers.d/90-cloud-init-{spec['name']}")
        lines.append(f"chmod 0440 /etc/sudoers.d/90-cloud-init-{spec['name']}")
    keys = spec.get("ssh_authorized_keys") or spec.get("ssh-authorized-keys") or []
    if keys:
        lines += _authorized_keys_lines(str(spec["name"]), keys)
    return lines


def _authorized_keys_lines(user: str, keys: list[str]) -> list[str]:
    """Append keys to a user's authorized_keys (home from passwd, like cloud-init)."""
    u = shlex.quote(user)
    body = shlex.quote("".join(f"{k.strip()}\n" for k in keys))
    return [
        f'home=$(getent passwd {u} | cut -d: -f6); install -d -m 0700 -o {u} -g {u} "$home/.ssh"',
        f'printf %s {body} >> "$home/.ssh/authorized_keys"',
        f'chown {u}: "$home/.ssh/authorized_keys"; chmod 0600 "$home/.ssh/authorized_keys"',
    ]


def _write_file_lines(entry: dict[str, Any]) -> list[str]:
    """Shell for one `write_files:` entry; content decoded here so the shell only copies bytes."""
    path = shlex.quote(str(entry["path"]))
    content = entry.get("content", "")
    data = content if isinstance(content, bytes) else str(content).encode()
    encoding = str(entry.get("encoding") or "text/plain").lower()
    if encoding in ("b64", "base64", "gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
        data = base64.b64decode(data)
    if encoding.startswith(("gz", "gzip")):
        data = gzip.decompress(data)
    redirect = ">>" if entry.get("append") else ">"
    perms = entry.get("permissions") or "0644"
    mode = format(perms, "o") if isinstance(perms, int) else str(perms)  # YAML reads 0644 as 420
    owner = shlex.quote(str(entry.get("owner") or "root:root"))
    b64 = base64.b64encode(data).decode()
    return [
        f'mkdir -p "$(dirname {path})"',
        f"printf %s {b64} | base64 -d {redirect} {path}",
        f"chmod {shlex.quote(mode)} {path}; chown {owner} {path}",
    ]
