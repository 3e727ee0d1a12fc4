"""Files on nodes: written as data (JSON on stdin), read back whole; never through a shell."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from sparkstack.errors import NodeError
from sparkstack.nodes.connection import Target
from sparkstack.nodes.runner import Fleet


@dataclass(frozen=True)
class FileSpec:
    """A file to have on a node: its content, mode and owner."""

    content: str
    mode: int = 0o644
    owner: str = "root"


def sudo(target: Target) -> str:
    """Prefix for a root command: nothing for root, else non-interactive sudo."""
    return "" if target.user == "root" else "sudo -n"


def _writer() -> str:
    return resources.files("sparkstack.nodes").joinpath("remote_write_files.py").read_text()


async def write_files(
    fleet: Fleet,
    target: Target,
    files: Mapping[str, FileSpec],
    dirs: Mapping[str, tuple[str, int]] | None = None,
) -> set[str]:
    """Have ``files`` on ``target`` (written only where content, mode or owner differ); return
    the paths written. ``dirs`` ({path: (owner, mode)}) are made first."""
    payload = {
        "dirs": {path: [owner, mode] for path, (owner, mode) in (dirs or {}).items()},
        "files": {
            path: {"content": f.content, "mode": f.mode, "owner": f.owner}
            for path, f in files.items()
        },
    }
    command = f"{sudo(target)} python3 -c {shlex.quote(_writer())}"
    result = await fleet.run(target, command, input=json.dumps(payload))
    if not result.ok:
        raise NodeError(f"{target.name}: cannot write files: {result.tail()}")
    return {line[8:] for line in result.stdout.splitlines() if line.startswith("CHANGED ")}


async def read_file(fleet: Fleet, target: Target, path: str) -> str | None:
    """The content of ``path`` on ``target`` (readable by the login user), None if absent."""
    quoted = shlex.quote(path)
    result = await fleet.run(target, f"test -f {quoted} && cat {quoted}")
    return result.stdout if result.ok else None


#: sparkstack's own directory on a node (owned by the login user, mode 0700): the cluster's
#: manifest and secrets on the masters, the verified tarballs on the first node.
NODE_STATE_DIR = "/var/lib/sparkstack"
