"""The development cloud: real OpenStack services on this machine, for demos and tests.

The product never imports this package; the CLI (``sparkstack devcloud``) and the tests do.
"""

from sparkstack.devcloud.config import ADMIN_CLOUD, CLOUD, DevcloudConfig
from sparkstack.devcloud.control import (
    ServiceStatus,
    UpResult,
    data_plane_available,
    down,
    env_lines,
    is_running,
    restart_service,
    start_service,
    status,
    stop_service,
    total_rss,
    up,
)
from sparkstack.devcloud.install import install, is_installed

__all__ = [
    "ADMIN_CLOUD",
    "CLOUD",
    "DevcloudConfig",
    "ServiceStatus",
    "UpResult",
    "data_plane_available",
    "down",
    "env_lines",
    "install",
    "is_installed",
    "is_running",
    "restart_service",
    "start_service",
    "status",
    "stop_service",
    "total_rss",
    "up",
]
