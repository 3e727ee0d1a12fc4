"""Host keys: pinned per cluster on first contact, checked against the console log when given.

The file is an OpenSSH ``known_hosts`` (``HOST TYPE BASE64`` per line) in the cluster's private
data directory, never ``~/.ssh``, so the system ``ssh`` client can use it too (``login``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import asyncssh


def _key_line(key: asyncssh.SSHKey) -> str:
    """``TYPE BASE64`` of a public key, without its comment."""
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


def _parse(lines: Iterable[str]) -> list[asyncssh.SSHKey]:
    keys = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2:
            keys.append(asyncssh.import_public_key(f"{fields[0]} {fields[1]}"))
    return keys


class HostKeyStore:
    """Host keys checked against what the cloud showed before first contact, then pinned.

    ``expected`` maps an address to the key lines the server printed on its console; a host
    presenting another key is refused even on first contact, and so is a host whose console
    showed none, unless ``trust_first`` (the user's explicit choice) lets its first key in.
    Once pinned, a key never changes silently: a different key later is refused (the host was
    rebuilt, or someone is in between).
    """

    def __init__(
        self,
        path: Path,
        expected: Mapping[str, Sequence[str]] | None = None,
        *,
        trust_first: bool = False,
    ):
        self.path = path
        self.expected = {host: _parse(lines) for host, lines in (expected or {}).items()}
        self.trust_first = trust_first
        self.refusals: dict[str, str] = {}

    def pinned(self, host: str) -> list[asyncssh.SSHKey]:
        """Keys recorded for ``host`` in the file."""
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        return _parse(" ".join(line.split()[1:]) for line in lines if line.split()[:1] == [host])

    def trusted(
        self, host: str, _addr: str, _port: int | None
    ) -> tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]:
        """asyncssh's ``known_hosts`` callable: (trusted keys, CA keys, revoked keys)."""
        return self.pinned(host), [], []

    def admit(self, host: str, key: asyncssh.SSHKey) -> bool:
        """Called for a key that is not pinned: pin it if allowed, else say why not."""
        if self.pinned(host):
            self.refusals[host] = (
                f"host key changed since first contact (pinned in {self.path}); if the server "
                "was rebuilt, delete its line there"
            )
            return False
        expected = self.expected.get(host)
        if expected and key not in expected:
            self.refusals[host] = "host key differs from the one on the server's console log"
            return False
        if not expected and not self.trust_first:
            self.refusals[host] = (
                "its console log shows no SSH host key to check it against; wait until the "
                "server has booted, or pass --trust-first-host-key to accept the first key"
            )
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.path.open("a") as handle:
            handle.write(f"{host} {_key_line(key)}\n")
        self.path.chmod(0o600)
        return True
