"""Swift in the devcloud (``up --object-storage``): its services, configs, rings and URLs.

A real Swift from PyPI (in ``swift-venv``): account, container and object servers with one
device and one replica under ``lib/swift/node``, and a proxy that speaks the Swift API
(Keystone tokens: authtoken + keystoneauth) and the S3 API (s3api + s3token: Keystone EC2
credentials, their secrets cached in memcached). All on 127.0.0.1. The catalog gets
``object-store`` (the Swift API) and ``s3`` (the proxy's root, for S3 clients; SigV4 region
RegionOne, path-style addressing); on the data plane their public endpoints are at the external
gateway, which the data plane forwards to the proxy (server/net.py ``expose_apis``).

What is pure lives here (tests render it without a running service); ``control`` starts it.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

from sparkstack.devcloud.config import HOST, SWIFT_PORTS, DevcloudConfig, write_private
from sparkstack.devcloud.configs import context, render
from sparkstack.devcloud.services import Service, base_env

REGION = "RegionOne"
#: the storage servers, each with its ring; the proxy comes after them
STORAGE_SERVERS = ("account", "container", "object")
RING_PART_POWER = 8  # 256 partitions: plenty for one device
DEVICE = "d1"


def proxy_url(cfg: DevcloudConfig) -> str:
    return cfg.url("swift-proxy")


def catalog_urls(cfg: DevcloudConfig, public: str | None = None) -> dict[str, str]:
    """What ``bootstrap object-storage`` registers: the Swift API per project (keystone fills in
    the project), the proxy's own root for admin, and the S3 endpoint. ``public``: the proxy's
    root as the public endpoints give it (default: loopback), internal ones stay on loopback."""
    root = proxy_url(cfg)
    front = public or root
    return {
        "object-store": f"{front}/v1/AUTH_%(project_id)s",
        "object-store-internal": f"{root}/v1/AUTH_%(project_id)s",
        "object-store-admin": f"{root}/v1",
        "s3": front,
        "s3-internal": root,
    }


def enabled(cfg: DevcloudConfig) -> bool:
    """True when Swift belongs to the devcloud as last started (``up --object-storage``)."""
    return cfg.object_storage_file.exists()


def mark_enabled(cfg: DevcloudConfig) -> None:
    urls = catalog_urls(cfg)
    record = {"swift": urls["object-store"], "s3": urls["s3"], "region": REGION}
    cfg.object_storage_file.write_text(json.dumps(record) + "\n")


def mark_disabled(cfg: DevcloudConfig) -> None:
    cfg.object_storage_file.unlink(missing_ok=True)


def _env(cfg: DevcloudConfig) -> dict[str, str]:
    env = base_env(cfg)
    env["PATH"] = f"{cfg.swift_bin}:{env['PATH']}"
    return env


def config_path(cfg: DevcloudConfig, server: str) -> Path:
    return cfg.swift_etc / f"{server}-server.conf"


def services(cfg: DevcloudConfig) -> list[Service]:
    """memcached, then the storage servers, then the proxy (start order; stop in reverse)."""
    memcached = Service(
        "memcached",
        # -U 0: no UDP; 64 MiB is far more than a few thousand cached tokens and secrets need
        ["memcached", "-l", HOST, "-p", str(SWIFT_PORTS["memcached"]), "-U", "0", "-m", "64"]
        + (["-u", "root"] if getpass.getuser() == "root" else []),
        _env(cfg),
        port=SWIFT_PORTS["memcached"],
    )
    result = [memcached]
    for server in (*STORAGE_SERVERS, "proxy"):
        name = f"swift-{server}"
        # -v: log to stdout, i.e. to the service's log (there is no /dev/log to send syslog to)
        argv = [str(cfg.swift_bin / f"swift-{server}-server"), str(config_path(cfg, server)), "-v"]
        url = f"http://{HOST}:{SWIFT_PORTS[name]}/healthcheck"
        result.append(Service(name, argv, _env(cfg), url=url))
    return result


def config_files(cfg: DevcloudConfig) -> dict[Path, str]:
    """swift.conf and the four servers' configs, by path, rendered (pure: writes nothing)."""
    c = context(cfg, data_plane=False)
    common = {"c": c, "user": getpass.getuser(), "swift_etc": cfg.swift_etc}
    files = {cfg.swift_etc / "swift.conf": render("swift.conf.j2", c=c)}
    for server in STORAGE_SERVERS:
        files[config_path(cfg, server)] = render(
            "swift-storage.conf.j2",
            **common,
            server=server,
            port=SWIFT_PORTS[f"swift-{server}"],
            devices=cfg.swift_devices,
        )
    files[config_path(cfg, "proxy")] = render(
        "swift-proxy-server.conf.j2",
        **common,
        port=SWIFT_PORTS["swift-proxy"],
        region=REGION,
        memcached_port=SWIFT_PORTS["memcached"],
    )
    return files


def write_configs(cfg: DevcloudConfig) -> None:
    """Write Swift's configs (0600: the proxy's holds the service password) and its device."""
    for path, text in config_files(cfg).items():
        write_private(path, text)
    (cfg.swift_devices / DEVICE).mkdir(parents=True, exist_ok=True)


def ring_file(cfg: DevcloudConfig, server: str) -> Path:
    return cfg.swift_etc / f"{server}.ring.gz"


def ring_commands(cfg: DevcloudConfig, server: str) -> list[list[str]]:
    """swift-ring-builder's create, add and rebalance of one ring: one replica on ``d1``."""
    tool = str(cfg.swift_bin / "swift-ring-builder")
    builder = str(cfg.swift_etc / f"{server}.builder")
    port = str(SWIFT_PORTS[f"swift-{server}"])
    device = ["--region", "1", "--zone", "1", "--ip", HOST, "--port", port]
    return [
        # part power, replicas, min_part_hours
        [tool, builder, "create", str(RING_PART_POWER), "1", "1"],
        [tool, builder, "add", *device, "--device", DEVICE, "--weight", "100"],
        [tool, builder, "rebalance"],
    ]


def missing_rings(cfg: DevcloudConfig) -> list[str]:
    """The servers whose ring is not built yet (rings are built once and kept)."""
    return [server for server in STORAGE_SERVERS if not ring_file(cfg, server).exists()]
