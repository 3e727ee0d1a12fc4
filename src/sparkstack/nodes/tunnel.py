"""Local port forwarding through an SSH connection (``sparkstack ui``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncssh

from sparkstack.errors import NodeError


@asynccontextmanager
async def forward_local(
    conn: asyncssh.SSHClientConnection, remote_host: str, remote_port: int, local_port: int = 0
) -> AsyncIterator[int]:
    """Listen on 127.0.0.1:``local_port`` (0: any free port) and forward to the remote side.

    Yields the local port; the listener closes when the block ends.
    """
    try:
        listener = await conn.forward_local_port("127.0.0.1", local_port, remote_host, remote_port)
    except OSError as exc:
        raise NodeError(f"cannot listen on local port {local_port}: {exc.strerror}") from exc
    try:
        yield listener.get_port()
    finally:
        listener.close()
        await listener.wait_closed()
