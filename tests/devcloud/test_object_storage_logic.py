"""Adding Swift to a running devcloud: a failure leaves the devcloud as it was (no service runs)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sparkstack.devcloud.control as control
from sparkstack.devcloud import object_storage, process
from sparkstack.devcloud.config import DevcloudConfig
from sparkstack.errors import DevcloudError

pytestmark = pytest.mark.unit


def test_a_failed_add_stops_what_started_and_forgets_swift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    memcached = object_storage.services(cfg)[0]
    started: list[int] = []

    def half_start(cfg: DevcloudConfig, _report: object) -> None:
        object_storage.mark_enabled(cfg)  # recorded first, as the real one does
        log, pid_file = memcached.log(cfg), memcached.pid_file(cfg)
        started.append(process.start(["sleep", "60"], {}, log, pid_file))
        raise DevcloudError("swift-proxy exited while starting")

    monkeypatch.setattr(control, "_start_object_storage", half_start)
    monkeypatch.setattr(process, "tcp_open", lambda *_a, **_k: False)
    result = control.UpResult(True, 0.0, 1, False, cfg.clouds_yaml)
    with pytest.raises(DevcloudError, match="swift-proxy exited"):
        control._add_object_storage(cfg, result, lambda _event: None)
    deadline = time.monotonic() + 5
    while process.group_members(started[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process.group_members(started[0])
    assert not memcached.pid_file(cfg).exists()
    assert not object_storage.enabled(cfg)
    assert "memcached" not in [s.name for s in control.services_of(cfg)]


def test_a_busy_swift_port_is_named_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = DevcloudConfig.load(tmp_path)
    monkeypatch.setattr(process, "tcp_open", lambda _host, port, *_a: port == 8090)
    result = control.UpResult(True, 0.0, 1, False, cfg.clouds_yaml)
    with pytest.raises(DevcloudError, match="swift-proxy:8090"):
        control._add_object_storage(cfg, result, lambda _event: None)
    assert not object_storage.enabled(cfg)
