"""`down` stops exactly the devcloud's own processes and leaves no listening socket.

Runs last in the session (marker ``devcloud_last``, ordered by tests/conftest.py) and only when the
session's fixture started the devcloud itself: a devcloud someone else started is left alone.
"""

from __future__ import annotations

from typing import Any

import psutil
import pytest

from sparkstack import devcloud as dc
from sparkstack.devcloud import process
from sparkstack.devcloud.config import HOST, PORTS, SWIFT_PORTS
from sparkstack.devcloud.control import services_of

pytestmark = [pytest.mark.devcloud, pytest.mark.devcloud_last]


def test_down_leaves_no_process_and_no_listening_socket(devcloud: Any) -> None:
    if not devcloud.started_here:
        pytest.skip("the devcloud ran before this session: not stopping someone else's devcloud")
    cfg = devcloud.cfg
    groups = [pid for s in services_of(cfg) if (pid := s.pid(cfg))]
    assert groups, "the devcloud should be running before down"
    members = [p.pid for pgid in groups for p in process.group_members(pgid)]

    stopped = dc.down(cfg)

    assert len(stopped) == len(groups)
    assert all(not process.group_members(pgid) for pgid in groups)
    assert not [pid for pid in members if psutil.pid_exists(pid) and _alive(pid)]
    ports = {**PORTS, **SWIFT_PORTS}  # Swift's too, when up --object-storage started it
    assert not [name for name, port in ports.items() if process.tcp_open(HOST, port, 0.5)]
    assert not list(cfg.pids.glob("*.pid"))
    assert all(s.state == "stopped" for s in dc.status(cfg))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
