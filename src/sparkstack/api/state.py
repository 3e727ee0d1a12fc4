"""The cluster's own record on its masters: the manifest and the per-cluster secrets.

Both live in ``/var/lib/sparkstack`` (owned by the login user, mode 0700; files 0600) on every
node a client reaches, so they survive the loss of one master and need nothing but the cluster's
key to read. The secrets never leave the cluster except to be written on its nodes: the client
keeps no copy.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from sparkstack.errors import NodeError
from sparkstack.manifest import Manifest
from sparkstack.nodes.files import NODE_STATE_DIR, FileSpec, read_file, write_files
from sparkstack.nodes.runner import Fleet, each
from sparkstack.services.base import Host

MANIFEST_FILE = f"{NODE_STATE_DIR}/manifest.json"
SECRETS_FILE = f"{NODE_STATE_DIR}/secrets.json"


@dataclass(frozen=True)
class ClusterState:
    manifest: Manifest
    secrets: dict[str, str]


def new_secrets(names: list[str], have: dict[str, str] | None = None) -> dict[str, str]:
    """``have`` plus a fresh random secret for each name it lacks."""
    made = dict(have or {})
    for name in names:
        made.setdefault(name, secrets.token_hex(32))
    return made


async def read_state(fleet: Fleet, hosts: list[Host]) -> tuple[ClusterState | None, str]:
    """The state from the first of ``hosts`` that has it, or (None, why not)."""
    reasons = []
    for host in hosts:
        try:
            manifest = await read_file(fleet, host.target, MANIFEST_FILE)
            secret_text = await read_file(fleet, host.target, SECRETS_FILE)
        except NodeError as exc:
            reasons.append(str(exc))
            continue
        if manifest is None or secret_text is None:
            reasons.append(f"{host.name} has no manifest")
            continue
        try:
            kept = json.loads(secret_text)
        except ValueError:
            reasons.append(f"{host.name}: {SECRETS_FILE} is damaged")
            continue
        if not isinstance(kept, dict):
            reasons.append(f"{host.name}: {SECRETS_FILE} is damaged")
            continue
        record = Manifest.from_json(manifest, host.name)
        return ClusterState(record, {str(k): str(v) for k, v in kept.items()}), ""
    return None, "; ".join(reasons) or "no master to read it from"


async def write_state(fleet: Fleet, hosts: list[Host], state: ClusterState) -> None:
    """Have the state on every one of ``hosts``."""

    async def one(host: Host) -> None:
        user = host.target.user
        files = {
            MANIFEST_FILE: FileSpec(state.manifest.to_json(), 0o600, user),
            SECRETS_FILE: FileSpec(json.dumps(state.secrets, indent=2) + "\n", 0o600, user),
        }
        await write_files(fleet, host.target, files, {NODE_STATE_DIR: (user, 0o700)})

    await each(hosts, one)
