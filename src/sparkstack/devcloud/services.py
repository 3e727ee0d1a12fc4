"""One description per devcloud service: command, environment, log, pid file, health check."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sparkstack.devcloud.process as process
from sparkstack.devcloud.config import HOST, PORTS, DevcloudConfig
from sparkstack.devcloud.configs import compute_config, compute_host

GUNICORN_OPTIONS = [
    "--workers=1",
    "--threads=8",
    "--worker-class=gthread",
    "--timeout=300",
    "--graceful-timeout=5",
    "--keep-alive=30",
    # else every gunicorn shares /root/.gunicorn/gunicorn.ctl
    "--no-control-socket",
]
# name, WSGI module, config-dir variable, health path
APIS = [
    ("keystone", "keystone.wsgi.api", "OS_KEYSTONE_CONFIG_DIR", "/v3"),
    ("placement", "placement.wsgi.api", "OS_PLACEMENT_CONFIG_DIR", "/"),
    ("glance", "glance.wsgi.api", "OS_GLANCE_CONFIG_DIR", "/versions"),
    ("neutron-api", "neutron.wsgi.api", "OS_NEUTRON_CONFIG_DIR", "/"),
    ("nova-api", "nova.wsgi.osapi_compute", "OS_NOVA_CONFIG_DIR", "/"),
]
RECONCILER = "reconciler"


@dataclass(frozen=True)
class Service:
    """A long-running process of the devcloud and how to tell that it works."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None  # healthy when it accepts TCP connections here...
    url: str | None = None  # ...or answers HTTP here; else: healthy while it runs

    def log(self, cfg: DevcloudConfig) -> Path:
        return cfg.logs / f"{self.name}.log"

    def pid_file(self, cfg: DevcloudConfig) -> Path:
        return cfg.pids / f"{self.name}.pid"

    def pid(self, cfg: DevcloudConfig) -> int | None:
        return process.recorded(self.pid_file(cfg))

    def healthy(self, cfg: DevcloudConfig) -> bool:
        """Its process runs and its port or URL answers."""
        if self.pid(cfg) is None:
            return False
        if self.url:
            return process.http_ok(self.url)
        if self.port:
            return process.tcp_open(HOST, self.port)
        return True

    def start(self, cfg: DevcloudConfig) -> int:
        return process.start(self.argv, self.env, self.log(cfg), self.pid_file(cfg))


def base_env(cfg: DevcloudConfig) -> dict[str, str]:
    """The environment of every server process: the venv first on PATH, ``ssdc`` importable."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "TZ")}
    return {
        **keep,
        "HOME": str(cfg.lib / "home"),
        "PATH": f"{cfg.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(cfg.pylib),
        "PYTHONUNBUFFERED": "1",
        "OS_CLIENT_CONFIG_FILE": str(cfg.clouds_yaml),
        "SSDC_HOSTS_DIR": str(cfg.hosts_dir),
    }


def mariadb(cfg: DevcloudConfig) -> Service:
    data = cfg.lib / "mysql"
    argv = [
        "mariadbd",
        "--no-defaults",
        "--user=root",
        f"--datadir={data / 'data'}",
        f"--socket={cfg.mysql_socket}",
        f"--pid-file={data / 'mariadb.pid'}",
        f"--bind-address={HOST}",
        f"--port={PORTS['mariadb']}",
        "--skip-name-resolve",
        "--skip-log-bin",
        # a throwaway test cloud: speed over durability
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--sync-binlog=0",
        "--innodb-buffer-pool-size=256M",
        "--max-connections=2000",
        "--character-set-server=utf8mb3",
        "--collation-server=utf8mb3_general_ci",
    ]
    return Service("mariadb", argv, base_env(cfg), port=PORTS["mariadb"])


def epmd(cfg: DevcloudConfig) -> Service:
    """Erlang's port mapper, ours and on loopback (rabbitmq would start a public one)."""
    return Service("epmd", ["epmd", "-address", HOST], base_env(cfg), port=PORTS["epmd"])


def rabbitmq(cfg: DevcloudConfig) -> Service:
    rabbit = cfg.lib / "rabbitmq"
    env = {
        **base_env(cfg),
        "HOME": str(rabbit),
        "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        "RABBITMQ_NODENAME": "ssdc@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(PORTS["rabbitmq-dist"]),
        "RABBITMQ_CONFIG_FILE": str(cfg.etc / "rabbitmq" / "rabbitmq"),
        "RABBITMQ_MNESIA_BASE": str(rabbit / "mnesia"),
        "RABBITMQ_LOG_BASE": str(cfg.logs),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(rabbit / "enabled_plugins"),
        "ERL_EPMD_ADDRESS": HOST,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    argv = ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
    return Service("rabbitmq", argv, env, port=PORTS["rabbitmq"])


def api(cfg: DevcloudConfig, name: str, module: str, config_var: str, path: str) -> Service:
    """An OpenStack API under gunicorn on loopback."""
    config_dir = cfg.etc / name.removesuffix("-api")
    env = {**base_env(cfg), config_var: str(config_dir), "SSDC_WSGI_APP": module}
    if name == "neutron-api":
        env["SSDC_CHANGES_FILE"] = str(cfg.neutron_writes)
    argv = [
        str(cfg.bin / "gunicorn"),
        *GUNICORN_OPTIONS,
        f"--bind={HOST}:{PORTS[name]}",
        "ssdc.wsgi:application",
    ]
    return Service(name, argv, env, url=f"{cfg.url(name)}{path}")


def nova_daemon(cfg: DevcloudConfig, binary: str) -> Service:
    argv = [str(cfg.bin / binary), f"--config-file={cfg.etc / 'nova' / 'nova.conf'}"]
    return Service(binary, argv, base_env(cfg))


def nova_compute(cfg: DevcloudConfig, index: int, data_plane: bool) -> Service:
    """A compute with nova's fake driver, or the data plane's driver through its launcher."""
    config = f"--config-file={compute_config(cfg, index)}"
    if data_plane:
        argv = [str(cfg.python), "-m", "ssdc.nova_compute", config]
    else:
        argv = [str(cfg.bin / "nova-compute"), config]
    return Service(compute_host(index).replace("ssdc-", "nova-"), argv, base_env(cfg))


def reconciler(cfg: DevcloudConfig) -> Service:
    """The data plane's reconciler: routers, floating IPs, security groups from neutron's data."""
    argv = [
        str(cfg.python),
        "-m",
        "ssdc.reconciler",
        "--cloud",
        "devcloud-admin",
        "--interval",
        "1",
    ]
    env = {**base_env(cfg), "SSDC_CHANGES_FILE": str(cfg.neutron_writes)}
    return Service(RECONCILER, argv, env)


def infrastructure(cfg: DevcloudConfig) -> list[Service]:
    return [mariadb(cfg), epmd(cfg), rabbitmq(cfg)]


def apis(cfg: DevcloudConfig) -> dict[str, Service]:
    return {name: api(cfg, name, module, var, path) for name, module, var, path in APIS}


def computes(cfg: DevcloudConfig, count: int, data_plane: bool) -> list[Service]:
    return [nova_compute(cfg, index, data_plane) for index in range(1, count + 1)]


def all_services(cfg: DevcloudConfig, computes_count: int, data_plane: bool) -> list[Service]:
    """Every service in start order (stop in reverse)."""
    services = [
        *infrastructure(cfg),
        *apis(cfg).values(),
        nova_daemon(cfg, "nova-conductor"),
        nova_daemon(cfg, "nova-scheduler"),
        *computes(cfg, computes_count, data_plane),
    ]
    if data_plane:
        services.append(reconciler(cfg))
    return services
