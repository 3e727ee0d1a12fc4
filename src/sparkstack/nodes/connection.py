"""Reach one node over SSH: wait for sshd, go through a jump host, verify the host key.

A node that is still booting refuses or drops connections for a while, so connecting retries
(tenacity) until a deadline; the error that ends the wait names the node and the last cause.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from sparkstack.errors import HostKeyError, NodeError
from sparkstack.nodes.hostkeys import HostKeyStore

#: Failures worth another try while a server boots: refused/unreachable (directly or through the
#: jump host), drops, slow answers, and a key not yet in authorized_keys (cloud-init writes it
#: after sshd starts).
_TRANSIENT = (
    OSError,
    asyncio.TimeoutError,
    asyncssh.ConnectionLost,
    asyncssh.PermissionDenied,
    asyncssh.ChannelOpenError,
)

#: AES-GCM first: with AES-NI it moves a 458 MB Spark tarball in 4 s where asyncssh's default
#: (chacha20-poly1305) needs 7 s; the rest stay as fallbacks for older sshd builds.
_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
)


@dataclass(frozen=True)
class Target:
    """A node as SSH sees it: ``host`` is the address reachable from the client, or from ``via``."""

    name: str
    host: str
    user: str
    port: int = 22
    via: Target | None = None

    def describe(self) -> str:
        hop = f" via {self.via.name}" if self.via else ""
        return f"{self.name} ({self.user}@{self.host}{hop})"


@dataclass
class SSHAccess:
    """How to log in to the nodes of one cluster."""

    key_path: Path
    host_keys: HostKeyStore
    ready_timeout: float = 300.0
    connect_timeout: float = 10.0
    keepalive: float = 15.0
    _key: asyncssh.SSHKey | None = field(default=None, repr=False)

    def client_key(self) -> asyncssh.SSHKey:
        """The private key, read once."""
        if self._key is None:
            try:
                self._key = asyncssh.read_private_key(self.key_path)
            except (OSError, asyncssh.KeyImportError) as exc:
                raise NodeError(f"cannot read SSH key {self.key_path}: {exc}") from exc
        return self._key


class _PinningClient(asyncssh.SSHClient):
    def __init__(self, store: HostKeyStore):
        self._store = store

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        return self._store.admit(host, key)


async def connect(
    target: Target,
    access: SSHAccess,
    tunnel: asyncssh.SSHClientConnection | None = None,
) -> asyncssh.SSHClientConnection:
    """Open one connection to ``target`` (through ``tunnel`` when given), retrying until ready."""
    started = time.monotonic()
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(_TRANSIENT),
        stop=stop_after_delay(access.ready_timeout),
        wait=wait_exponential(multiplier=0.25, max=3),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                conn: asyncssh.SSHClientConnection = await asyncssh.connect(
                    target.host,
                    target.port,
                    tunnel=tunnel or (),
                    username=target.user,
                    client_keys=[access.client_key()],
                    known_hosts=access.host_keys.trusted,
                    client_factory=lambda: _PinningClient(access.host_keys),
                    connect_timeout=access.connect_timeout,
                    keepalive_interval=access.keepalive,
                    config=[],
                    agent_path=None,
                    encryption_algs=_CIPHERS,
                )
                return conn
    except asyncssh.HostKeyNotVerifiable as exc:
        why = access.host_keys.refusals.get(target.host, str(exc))
        raise HostKeyError(f"{target.describe()}: refused: {why}") from exc
    except (*_TRANSIENT, asyncssh.Error) as exc:
        waited = time.monotonic() - started
        cause = _cause(exc)
        raise NodeError(
            f"{target.describe()}: no SSH after {waited:.0f} s: {cause}; "
            "check that the server runs and that port 22 is open to this client"
        ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _cause(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "connection timed out"
    if isinstance(exc, asyncssh.PermissionDenied):
        return "the key was refused (permission denied)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, asyncssh.ChannelOpenError):
        return f"the jump host cannot reach it ({exc.reason})"
    return str(exc) or type(exc).__name__
