"""Shared pytest configuration: the session-wide ``devcloud`` fixture and test ordering.

The devcloud is one real OpenStack on this machine. The fixture installs it (idempotent), reuses
one that already runs healthy (adding computes up to two when it runs fewer: tests need two
hosts for anti-affinity, and Swift), or starts one with two computes and Swift (and the data
plane when its code exists), and at the end of the session stops only what it started itself
(computes it added to a devcloud that ran before stay: the devcloud's state records them).
Tests marked ``devcloud_last`` run after every other test (the check that ``down`` leaves
nothing behind).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack.config import loader

from sparkstack import devcloud as dc
from sparkstack.devcloud import ADMIN_CLOUD, CLOUD, DevcloudConfig
from sparkstack.errors import DevcloudError

sys.path.insert(0, str(Path(__file__).parent))  # helper modules beside the tests

COMPUTES = 2
#: scripts/test.sh runs the suite as several pytest processes that share one devcloud; this says
#: what this process may do with it: "shared" (start it if none runs, never stop it: other
#: processes use it), "owned" (the script started it for this run: this process, the last,
#: tests ``down``). Unset: one process, which stops what it started.
DEVCLOUD_USE = os.environ.get("SPARKSTACK_TEST_DEVCLOUD", "")


@dataclass
class Devcloud:
    """What tests need of the running devcloud."""

    cfg: DevcloudConfig
    started_here: bool
    data_plane: bool
    #: what the session's ``up`` did (computes added, time taken)
    up: dc.UpResult
    cloud: str = CLOUD
    admin_cloud: str = ADMIN_CLOUD

    @property
    def clouds_yaml(self) -> Path:
        return self.cfg.clouds_yaml

    def connect(self, *, admin: bool = False, **overrides: Any) -> Any:
        """An openstacksdk connection as the demo member (or admin)."""
        config = loader.OpenStackConfig(config_files=[str(self.clouds_yaml)])
        region = config.get_one(self.admin_cloud if admin else self.cloud, **overrides)
        return openstack.connection.Connection(config=region)

    def stop_service(self, name: str) -> None:
        dc.stop_service(name, self.cfg)

    def start_service(self, name: str) -> None:
        dc.start_service(name, self.cfg)


def _let_ctrl_c_through() -> None:
    """A suite started in the background of a script inherits SIGINT ignored, and so would
    every sparkstack process it starts (an ignored signal stays ignored across exec): the
    Ctrl-C tests' signals would be lost. A Python handler here is reset to the default in
    each child, which then raises KeyboardInterrupt as under a terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config: pytest.Config) -> None:
    _let_ctrl_c_through()
    config.addinivalue_line(
        "markers", "devcloud_last: runs after every other test of the session (devcloud down)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move ``devcloud_last`` tests to the very end, keeping the order of the rest."""
    items.sort(key=lambda item: item.get_closest_marker("devcloud_last") is not None)


def _start_or_reuse(cfg: DevcloudConfig) -> dc.UpResult:
    """With object storage: the end-to-end tests need it, in whatever lane they run."""
    dc.install(cfg, object_storage=True)
    try:
        result = dc.up(cfg, computes=COMPUTES, object_storage=True)
    except DevcloudError as exc:
        if "partly running" not in str(exc):
            raise
        # a broken leftover: stop it by its pid files and start afresh
        dc.down(cfg)
        result = dc.up(cfg, computes=COMPUTES, object_storage=True)
    return result


@pytest.fixture(scope="session")
def devcloud() -> Iterator[Devcloud]:
    """The running devcloud; started (and at the end stopped) here unless it already ran."""
    if os.environ.get("SPARKSTACK_TEST_LANE") == "no-devcloud":
        pytest.fail("this test needs the devcloud: mark it `devcloud` (scripts/test.sh runs it)")
    cfg = DevcloudConfig.load()
    result = _start_or_reuse(cfg)
    started_here = {"shared": False, "owned": True}.get(DEVCLOUD_USE, not result.already_running)
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(cfg.clouds_yaml)
    cloud = Devcloud(cfg=cfg, started_here=started_here, data_plane=result.data_plane, up=result)
    yield cloud
    if started_here:
        dc.down(cfg)
