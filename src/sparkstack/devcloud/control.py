"""``up``, ``down``, ``status`` and ``restart`` of the devcloud."""

from __future__ import annotations

import base64
import fcntl
import importlib.util
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType

import sparkstack.devcloud.object_storage as swift
import sparkstack.devcloud.process as process
from sparkstack.devcloud.config import (
    ADMIN_CLOUD,
    CLOUD,
    HOST,
    PORTS,
    SERVICE_USER,
    SWIFT_PORTS,
    DevcloudConfig,
    tenant_reachable_ports,
    write_private,
)
from sparkstack.devcloud.configs import (
    compute_host,
    compute_state_dir,
    write_compute_config,
    write_configs,
)
from sparkstack.devcloud.install import install_fingerprint, is_installed, is_swift_installed
from sparkstack.devcloud.services import (
    Service,
    all_services,
    apis,
    base_env,
    computes,
    infrastructure,
    nova_compute,
)
from sparkstack.devcloud.services import reconciler as reconciler_service
from sparkstack.errors import DevcloudError
from sparkstack.events import Phase, Reporter, silent

SERVER_DIR = Path(__file__).parent / "server"
DATABASES = ("keystone", "placement", "glance", "neutron", "nova_api", "nova_cell0", "nova_cell1")
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class State:
    """How the devcloud was started; kept in state.json so that status/down/restart agree."""

    computes: int
    data_plane: bool

    @classmethod
    def read(cls, cfg: DevcloudConfig) -> State | None:
        try:
            return cls(**json.loads(cfg.state_file.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def write(self, cfg: DevcloudConfig) -> None:
        cfg.state_file.write_text(json.dumps(asdict(self)) + "\n")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    healthy: bool
    pid: int | None
    log: str

    @property
    def state(self) -> str:
        return "healthy" if self.healthy else ("unhealthy" if self.running else "stopped")


@dataclass(frozen=True)
class UpResult:
    """What ``up`` did: ``already_running`` when a healthy devcloud was found.

    ``computes`` is how many run now; ``computes_added`` how many of them this call added to a
    running devcloud; ``computes_requested`` what the caller asked for (0: nothing asked), so a
    request for fewer than run (never removed) can be told. ``object_storage``: Swift runs;
    ``object_storage_seconds``: how long this call took to start it (None: it did not).
    """

    already_running: bool
    seconds: float
    computes: int
    data_plane: bool
    clouds_yaml: Path
    computes_added: int = 0
    computes_requested: int = 0
    object_storage: bool = False
    object_storage_seconds: float | None = None


_lock_depth: dict[Path, int] = {}


@contextmanager
def exclusive(cfg: DevcloudConfig, timeout: float = 900.0) -> Iterator[None]:
    """Serialize up/down/restart on one data dir across processes (re-entrant in one process).

    Two concurrent ``up`` runs would overwrite each other's pid files and orphan processes.
    """
    path = cfg.data_dir / "control.lock"
    if _lock_depth.get(path):
        _lock_depth[path] += 1
        try:
            yield
        finally:
            _lock_depth[path] -= 1
        return
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.seek(0)
                    raise DevcloudError(
                        f"another devcloud command (pid {handle.read().strip()}) holds {path}"
                        f" for over {timeout:.0f}s: wait for it or end it"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        _lock_depth[path] = 1
        try:
            yield
        finally:
            _lock_depth[path] = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def data_plane_available() -> bool:
    """True once the data plane's driver and reconciler exist in server/."""
    return all(
        importlib.util.find_spec(f"sparkstack.devcloud.server.{name}") is not None
        for name in ("driver", "reconciler", "net", "hosts")
    )


def services_of(cfg: DevcloudConfig) -> list[Service]:
    """The devcloud's services as last started, Swift's last when it was asked for."""
    state = State.read(cfg) or State(computes=1, data_plane=False)
    services = all_services(cfg, state.computes, state.data_plane)
    if swift.enabled(cfg):
        services.extend(swift.services(cfg))
    return services


def status(cfg: DevcloudConfig | None = None) -> list[ServiceStatus]:
    """Each service of the devcloud (as last started) with its health and log file."""
    cfg = cfg or DevcloudConfig.load()
    result = []
    for service in services_of(cfg):
        pid = service.pid(cfg)
        result.append(
            ServiceStatus(
                name=service.name,
                running=pid is not None,
                healthy=pid is not None and service.healthy(cfg),
                pid=pid,
                log=str(service.log(cfg)),
            )
        )
    return result


def is_running(cfg: DevcloudConfig) -> bool:
    """True when any service of the devcloud has a live recorded process."""
    return State.read(cfg) is not None and any(s.pid(cfg) for s in services_of(cfg))


def up(
    cfg: DevcloudConfig | None = None,
    *,
    computes: int | None = None,
    data_plane: bool | None = None,
    object_storage: bool = False,
    report: Reporter = silent,
) -> UpResult:
    """Start every service and bootstrap the cloud; a healthy running devcloud is reused.

    ``computes``: nova-compute services (default 1). A running devcloud with fewer gets the
    missing ones started, discovered and in placement (its servers keep running); one with more
    keeps them all (computes are never removed by ``up``). ``data_plane=None`` means: the data
    plane when its code exists, else nova's fake driver; a running devcloud keeps its own.
    ``object_storage``: also Swift (see object_storage.py); a running devcloud without it gets
    it added. Without it a fresh devcloud starts without Swift and a running one keeps its own.
    """
    cfg = cfg or DevcloudConfig.load()
    started = time.monotonic()
    if not is_installed(cfg):
        raise DevcloudError("the devcloud is not installed: run `sparkstack devcloud install`")
    if data_plane is None:
        data_plane = data_plane_available()
    elif data_plane and not data_plane_available():
        raise DevcloudError("the devcloud data plane is not available: use --no-data-plane")
    if computes is not None and computes < 1:
        raise DevcloudError("--computes must be at least 1")
    if object_storage and not is_swift_installed(cfg):
        raise DevcloudError(
            "Swift is not installed: run `sparkstack devcloud install --object-storage`"
        )
    with exclusive(cfg):
        if is_running(cfg):
            result = _already_running(cfg, started)
            if computes is not None and computes > result.computes:
                result = _add_computes(cfg, computes, started, report)
            else:
                result = replace(result, computes_requested=computes or 0)
            if object_storage and not result.object_storage:
                result = _add_object_storage(cfg, result, report)
            return replace(result, seconds=time.monotonic() - started)
        state = State(computes=computes or 1, data_plane=data_plane)
        return _up_locked(cfg, state, object_storage, started, report)


def _up_locked(
    cfg: DevcloudConfig, state: State, object_storage: bool, started: float, report: Reporter
) -> UpResult:
    ports = {**PORTS, **(SWIFT_PORTS if object_storage else {})}
    busy = [f"{name}:{port}" for name, port in ports.items() if process.tcp_open(HOST, port, 0.3)]
    if busy:
        raise DevcloudError(
            f"ports in use by something else ({', '.join(busy)}): stop it, or the other devcloud"
            " (`sparkstack devcloud down` with its SPARKSTACK_DEVCLOUD_DIR)"
        )
    swift_seconds = None
    try:
        swift.mark_disabled(cfg)  # a fresh devcloud has Swift only when asked again
        _start_all(cfg, state, report)
        if object_storage:
            swift_started = time.monotonic()
            _start_object_storage(cfg, report)
            swift_seconds = time.monotonic() - swift_started
    except BaseException:
        down(cfg)
        raise
    return UpResult(
        False,
        time.monotonic() - started,
        state.computes,
        state.data_plane,
        cfg.clouds_yaml,
        object_storage=object_storage,
        object_storage_seconds=swift_seconds,
    )


def _already_running(cfg: DevcloudConfig, started: float) -> UpResult:
    """Report a running devcloud; a loaded machine gets 30 s before a slow API counts as ill."""
    deadline = time.monotonic() + 30
    bad = [s for s in status(cfg) if not s.healthy]
    while bad and all(s.running for s in bad) and time.monotonic() < deadline:
        time.sleep(2)
        bad = [s for s in status(cfg) if not s.healthy]
    if bad:
        detail = ", ".join(f"{s.name} {s.state} (log {s.log})" for s in bad)
        raise DevcloudError(
            f"the devcloud is partly running: {detail}; fix with `sparkstack devcloud restart"
            " SERVICE` or `sparkstack devcloud down` then `up`"
        )
    state = State.read(cfg) or State(1, False)
    return UpResult(
        True,
        time.monotonic() - started,
        state.computes,
        state.data_plane,
        cfg.clouds_yaml,
        object_storage=swift.enabled(cfg),
    )


def _start_all(cfg: DevcloudConfig, state: State, report: Reporter) -> None:
    total = 10 + int(state.data_plane)  # the advances below: ten steps, the reconciler last
    with Phase(report, "up", total=total, text="devcloud up") as phase:
        _prepare_dirs(cfg)
        state.write(cfg)
        write_configs(cfg, state.computes, state.data_plane)
        new_db = not (cfg.lib / "mysql" / "data").exists()
        if new_db:
            _run(cfg, "mariadb-install", _mariadb_install_argv(cfg))
        for service in infrastructure(cfg):
            service.start(cfg)
        _wait_healthy(cfg, infrastructure(cfg)[0])
        _create_databases(cfg)
        phase.advance("mariadb")
        if state.data_plane:  # before the catalog names the gateway: bootstrap goes through it
            _net().setup_external()
            _net().expose_apis(tenant_reachable_ports())
        # Schemas already migrated by this very install need no sync (saves ~20 s of CPU).
        synced = (
            not new_db
            and _schema_stamp(cfg).exists()
            and (_schema_stamp(cfg).read_text() == install_fingerprint())
        )
        by_name = {s.name: s for s in services_of(cfg)}
        with ThreadPoolExecutor(max_workers=5) as pool:
            # each project's services start as soon as its own schema is ready
            starts = {
                name: pool.submit(_sync_then_start, cfg, name, [] if synced else argvs, by_name)
                for name, argvs in _db_syncs(cfg).items()
            }
            if not synced:
                _keystone_setup(cfg)
            by_name["keystone"].start(cfg)
            _wait_healthy(cfg, by_name["keystone"])
            if not synced:
                _bootstrap(cfg, "identity", state)
            elif _registered_catalog(cfg) != _catalog_env(cfg, state.data_plane):
                _bootstrap(cfg, "catalog", state)  # public URLs of the other data plane mode
            _catalog_stamp(cfg).write_text(_catalog_env(cfg, state.data_plane))
            phase.advance("keystone and identity")
            for name, future in starts.items():
                future.result()
                phase.message(f"{name} schema ready, started")
        _schema_stamp(cfg).write_text(install_fingerprint())
        phase.advance("schemas ready, APIs starting")
        api = apis(cfg)
        later = [api[n] for n in ("placement", "glance", "neutron-api", "nova-api")]
        daemons = [by_name["nova-conductor"], by_name["nova-scheduler"]]
        _wait_healthy(cfg, api["placement"])
        phase.advance("placement")
        for index, compute in enumerate(computes(cfg, state.computes, state.data_plane), 1):
            compute_state_dir(cfg, index).mkdir(parents=True, exist_ok=True)
            compute.start(cfg)
        for service in [*later[1:], *daemons]:
            _wait_healthy(cfg, service)
            phase.advance(service.name)
        try:
            _bootstrap(cfg, "resources", state)
        except DevcloudError as exc:
            dead = [f"{s.name} (log {s.log})" for s in status(cfg) if not s.running]
            raise DevcloudError(f"{exc}; exited: {', '.join(dead)}" if dead else str(exc)) from exc
        phase.advance(f"{state.computes} computes, flavors, image, networks")
        if state.data_plane:
            reconciler = reconciler_service(cfg)
            reconciler.start(cfg)
            _wait_healthy(cfg, reconciler, timeout=5)
            phase.advance("data plane reconciler")


def _add_computes(cfg: DevcloudConfig, count: int, started: float, report: Reporter) -> UpResult:
    """Start computes ``old+1..count`` on a healthy running devcloud, as ``_start_all`` does:
    config and state dir each, then wait until nova reports them up, they are mapped into
    cell1 (``discover_hosts``) and placement has their inventory. State records the new count
    before they start (so ``status`` and ``down`` know them); on failure they are stopped and
    the old count restored, leaving the devcloud as it was.
    """
    old = State.read(cfg) or State(1, False)
    new = replace(old, computes=count)
    indexes = range(old.computes + 1, count + 1)
    added = [nova_compute(cfg, index, old.data_plane) for index in indexes]
    with Phase(report, "up", total=len(added) + 1, text=f"devcloud: {count} computes") as phase:
        new.write(cfg)
        since = time.time()
        try:
            for index, service in zip(indexes, added, strict=True):
                write_compute_config(cfg, index, old.data_plane)
                if service.pid(cfg) is None:  # else a leftover of an interrupted add runs
                    service.start(cfg)
                phase.advance(f"{service.name} started")
            hosts = [compute_host(index) for index in indexes]
            try:
                _bootstrap(cfg, "computes", new, hosts=hosts, since=since)
            except DevcloudError as exc:
                dead = ", ".join(f"{s.name} (log {s.log(cfg)})" for s in added if not s.pid(cfg))
                raise DevcloudError(f"{exc}; exited: {dead}" if dead else str(exc)) from exc
            phase.advance(f"{' '.join(hosts)} up, discovered, in placement")
        except BaseException:
            process.stop_groups([pid for s in added if (pid := s.pid(cfg)) is not None])
            for service in added:
                service.pid_file(cfg).unlink(missing_ok=True)
            old.write(cfg)
            raise
    return UpResult(
        True,
        time.monotonic() - started,
        count,
        old.data_plane,
        cfg.clouds_yaml,
        computes_added=len(added),
        computes_requested=count,
        object_storage=swift.enabled(cfg),
    )


def _add_object_storage(cfg: DevcloudConfig, result: UpResult, report: Reporter) -> UpResult:
    """Start Swift on a healthy running devcloud; on failure stop what of it started, so the
    devcloud is left as it was (without Swift)."""
    started = time.monotonic()
    busy = [
        f"{service.name}:{SWIFT_PORTS[service.name]}"
        for service in swift.services(cfg)
        if service.pid(cfg) is None and process.tcp_open(HOST, SWIFT_PORTS[service.name], 0.3)
    ]
    if busy:
        raise DevcloudError(
            f"Swift's ports are in use by something else ({', '.join(busy)}): stop it first"
        )
    try:
        _start_object_storage(cfg, report)
    except BaseException:
        services = swift.services(cfg)
        process.stop_groups([pid for s in services if (pid := s.pid(cfg)) is not None])
        for service in services:
            service.pid_file(cfg).unlink(missing_ok=True)
        swift.mark_disabled(cfg)
        raise
    return replace(result, object_storage=True, object_storage_seconds=time.monotonic() - started)


def _start_object_storage(cfg: DevcloudConfig, report: Reporter) -> None:
    """Swift's configs, its rings (built once), memcached and the four servers, and its
    endpoints in the catalog (registered while the servers start). It is recorded as part of
    the devcloud before anything starts, so that ``status`` and ``down`` know it."""
    services = swift.services(cfg)
    with Phase(report, "up", total=3, text="devcloud: object storage (Swift)") as phase:
        swift.mark_enabled(cfg)
        swift.write_configs(cfg)
        _build_rings(cfg)
        phase.advance("configs and rings")
        for service in services:
            if service.pid(cfg) is None:  # else a leftover of an interrupted add runs
                service.start(cfg)
        with ThreadPoolExecutor(max_workers=1) as side:
            catalog = side.submit(_bootstrap_object_storage, cfg)
            for service in services:
                _wait_healthy(cfg, service, timeout=60)
            phase.advance(f"{', '.join(s.name for s in services)} healthy")
            catalog.result()
        phase.advance(f"catalog: object-store and s3 at {swift.proxy_url(cfg)}")


def _build_rings(cfg: DevcloudConfig) -> None:
    """The account, container and object rings, each once (in parallel: ~1 s each)."""

    def build(server: str) -> None:
        for leftover in (cfg.swift_etc / f"{server}.builder", cfg.swift_etc / "backups"):
            if leftover.is_dir():  # an interrupted earlier build: start it over
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        create, add, rebalance = swift.ring_commands(cfg, server)
        _run(cfg, "swift-rings", create)
        _run(cfg, "swift-rings", add)
        # exit status 1 is a warning (e.g. about balance with one device); the ring is written
        _run(cfg, "swift-rings", rebalance, ok_codes=(0, 1))
        if not swift.ring_file(cfg, server).exists():
            raise DevcloudError(
                f"the {server} ring was not written (log {cfg.logs}/swift-rings.log)"
            )

    missing = swift.missing_rings(cfg)
    if missing:
        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            for future in [pool.submit(build, server) for server in missing]:
                future.result()


def _bootstrap_object_storage(cfg: DevcloudConfig) -> None:
    """Register Swift's endpoints (server/bootstrap.py's object-storage phase)."""
    state = State.read(cfg) or State(1, False)
    urls = swift.catalog_urls(cfg, cfg.public_url("swift-proxy", state.data_plane))
    env = {
        "SSDC_ADMIN_CLOUD": ADMIN_CLOUD,
        "SSDC_OBJECT_STORE_URL": urls["object-store"],
        "SSDC_OBJECT_STORE_INTERNAL_URL": urls["object-store-internal"],
        "SSDC_OBJECT_STORE_ADMIN_URL": urls["object-store-admin"],
        "SSDC_S3_URL": urls["s3"],
        "SSDC_S3_INTERNAL_URL": urls["s3-internal"],
    }
    # by path, not as ssdc.bootstrap: the ssdc alias is whatever checkout started the devcloud
    argv = [str(cfg.python), str(SERVER_DIR / "bootstrap.py"), "object-storage"]
    _run(cfg, "bootstrap-object-storage", argv, extra_env=env)


def _prepare_dirs(cfg: DevcloudConfig) -> None:
    for path in (cfg.etc, cfg.logs, cfg.pids, cfg.lib / "home", cfg.lock, cfg.pylib):
        path.mkdir(parents=True, exist_ok=True)
    for sub in ("keystone", "nova", "neutron", "glance", "rabbitmq", "mysql"):
        (cfg.lib / sub).mkdir(parents=True, exist_ok=True)
    (cfg.lib / "rabbitmq" / "enabled_plugins").write_text("[].\n")
    alias = cfg.pylib / "ssdc"
    if alias.is_symlink() or alias.exists():
        alias.unlink()
    alias.symlink_to(SERVER_DIR.resolve(), target_is_directory=True)


def _mariadb_install_argv(cfg: DevcloudConfig) -> list[str]:
    return [
        "mariadb-install-db",
        "--no-defaults",
        "--user=root",
        f"--datadir={cfg.lib / 'mysql' / 'data'}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
    ]


def _create_databases(cfg: DevcloudConfig) -> None:
    password = cfg.passwords()["db"]
    sql = "".join(
        f"CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb3;\n" for db in DATABASES
    )
    sql += (
        f"CREATE USER IF NOT EXISTS 'ssdc'@'%' IDENTIFIED BY '{password}';\n"
        f"ALTER USER 'ssdc'@'%' IDENTIFIED BY '{password}';\n"
        "GRANT ALL ON *.* TO 'ssdc'@'%';\n"
    )
    argv = ["mariadb", "--no-defaults", "-uroot", f"--socket={cfg.mysql_socket}"]
    _run(cfg, "mariadb-setup", argv, stdin=sql)


def _manage(cfg: DevcloudConfig, tool: str, conf: str, *args: str) -> list[str]:
    return [str(cfg.bin / tool), f"--config-file={cfg.etc / conf}", *args]


def _db_syncs(cfg: DevcloudConfig) -> dict[str, list[list[str]]]:
    """Schema migrations of every project but keystone, in parallel (each takes seconds)."""
    db = f"mysql+pymysql://ssdc:{cfg.passwords()['db']}@{HOST}:{PORTS['mariadb']}"
    nova = "nova/nova.conf"
    neutron_cf = [f"--config-file={cfg.etc / 'neutron/plugins/ml2/ml2_conf.ini'}"]
    steps: dict[str, list[list[str]]] = {
        "neutron": [
            _manage(
                cfg, "neutron-db-manage", "neutron/neutron.conf", *neutron_cf, "upgrade", "heads"
            )
        ],
        "nova": [
            _manage(cfg, "nova-manage", nova, "api_db", "sync"),
            _manage(
                cfg,
                "nova-manage",
                nova,
                "cell_v2",
                "map_cell0",
                f"--database_connection={db}/nova_cell0?charset=utf8",
            ),
            _manage(cfg, "nova-manage", nova, "db", "sync"),
        ],
        "glance": [_manage(cfg, "glance-manage", "glance/glance-api.conf", "db_sync")],
        "placement": [_manage(cfg, "placement-manage", "placement/placement.conf", "db", "sync")],
    }

    return steps


SYNC_SERVICES = {
    "placement": ["placement"],
    "glance": ["glance"],
    "neutron": ["neutron-api"],
    "nova": ["nova-api", "nova-conductor", "nova-scheduler"],
}


def _sync_then_start(
    cfg: DevcloudConfig, name: str, argvs: list[list[str]], by_name: dict[str, Service]
) -> None:
    """Migrate one project's schema (if needed), then start its services."""
    if name == "nova" and argvs:
        # api_db sync and map_cell0 first; then db sync (cell1 and the mapped cell0) and
        # create_cell, which only writes to the API database, at the same time
        *first, db_sync = argvs
        for argv in first:
            _run(cfg, "dbsync-nova", argv)
        with ThreadPoolExecutor(max_workers=1) as side:
            cell1 = side.submit(_ensure_cell1, cfg)
            _run(cfg, "dbsync-nova", db_sync)
            cell1.result()
    else:
        for argv in argvs:
            _run(cfg, f"dbsync-{name}", argv)
    if name in ("neutron", "nova"):  # their services talk RPC from the start
        _wait_healthy(cfg, by_name["rabbitmq"])
    for service in SYNC_SERVICES[name]:
        by_name[service].start(cfg)


def _schema_stamp(cfg: DevcloudConfig) -> Path:
    """Records which install last migrated the databases."""
    return cfg.lib / "schema.stamp"


def _ensure_cell1(cfg: DevcloudConfig) -> None:
    """Create cell1; nova-manage exits 2 when it already exists (a re-run on old data)."""
    argv = _manage(cfg, "nova-manage", "nova/nova.conf", "cell_v2", "create_cell", "--name=cell1")
    _run(cfg, "dbsync-nova", argv, ok_codes=(0, 2))


def _key_repository(path: Path) -> None:
    """What ``keystone-manage fernet_setup``/``credential_setup`` make (a staged key 0 and a
    primary key 1, Fernet format), without two more ~5 s keystone-manage runs."""
    if path.exists():
        return
    path.mkdir(mode=0o700, parents=True)
    for index in ("0", "1"):
        write_private(path / index, base64.urlsafe_b64encode(os.urandom(32)).decode())


def _keystone_setup(cfg: DevcloudConfig) -> None:
    conf = "keystone/keystone.conf"
    auth = f"{cfg.url('keystone')}/v3/"
    _run(cfg, "dbsync-keystone", _manage(cfg, "keystone-manage", conf, "db_sync"))
    for sub in ("fernet-keys", "credential-keys"):
        _key_repository(cfg.lib / "keystone" / sub)
    bootstrap = [
        "bootstrap",
        f"--bootstrap-password={cfg.passwords()['admin']}",
        f"--bootstrap-admin-url={auth}",
        f"--bootstrap-internal-url={auth}",
        f"--bootstrap-public-url={auth}",
        "--bootstrap-region-id=RegionOne",
    ]
    _run(cfg, "dbsync-keystone", _manage(cfg, "keystone-manage", conf, *bootstrap))


def _bootstrap(
    cfg: DevcloudConfig,
    phase: str,
    state: State,
    hosts: list[str] | None = None,
    since: float | None = None,
) -> None:
    """Run server/bootstrap.py in the server venv (its openstacksdk, as admin).

    ``hosts``: the compute hosts to wait for by name (default: all ``state.computes``);
    ``since``: when they were started (older heartbeats are a previous run's).
    """
    pw = cfg.passwords()
    discover = _manage(
        cfg, "nova-manage", "nova/nova.conf", "cell_v2", "discover_hosts", "--verbose"
    )
    if hosts is None:
        hosts = [compute_host(index) for index in range(1, state.computes + 1)]
    env = {
        "SSDC_ADMIN_CLOUD": ADMIN_CLOUD,
        "SSDC_SERVICE_USER": SERVICE_USER,
        "SSDC_SERVICE_PASSWORD": pw["service"],
        "SSDC_DEMO_PASSWORD": pw["demo"],
        **_catalog(cfg, state.data_plane),
        "SSDC_COMPUTES": str(state.computes),
        "SSDC_COMPUTE_HOSTS": " ".join(hosts),
        "SSDC_SINCE": "" if since is None else f"{since:.0f}",
        "SSDC_DISCOVER": " ".join(discover),
    }
    _run(cfg, f"bootstrap-{phase}", [str(cfg.python), "-m", "ssdc.bootstrap", phase], extra_env=env)


_CATALOG = {  # service type: (devcloud service, path)
    "identity": ("keystone", ""),
    "compute": ("nova-api", "/v2.1"),
    "placement": ("placement", ""),
    "network": ("neutron-api", ""),
    "image": ("glance", ""),
}


def _catalog(cfg: DevcloudConfig, data_plane: bool) -> dict[str, str]:
    """The catalog's URLs as bootstrap.py takes them: loopback, and the public ones."""

    def urls(url: Callable[[str], str]) -> str:
        return ",".join(f"{kind}={url(name)}{path}" for kind, (name, path) in _CATALOG.items())

    return {
        "SSDC_ENDPOINTS": urls(cfg.url),
        "SSDC_PUBLIC_ENDPOINTS": urls(lambda name: cfg.public_url(name, data_plane)),
    }


def _catalog_env(cfg: DevcloudConfig, data_plane: bool) -> str:
    return json.dumps(_catalog(cfg, data_plane), sort_keys=True)


def _catalog_stamp(cfg: DevcloudConfig) -> Path:
    """The catalog the identity bootstrap last registered (changes with the data plane mode)."""
    return cfg.lib / "catalog.json"


def _registered_catalog(cfg: DevcloudConfig) -> str:
    try:
        return _catalog_stamp(cfg).read_text()
    except FileNotFoundError:
        return ""


def _run(
    cfg: DevcloudConfig,
    log_name: str,
    argv: list[str],
    *,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    ok_codes: tuple[int, ...] = (0,),
) -> str:
    """Run a setup command to completion, logging it; a failure names the step and its log."""
    log = cfg.logs / f"{log_name}.log"
    env = {**base_env(cfg), **(extra_env or {})}
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv[:3])} ...\n{result.stdout}{result.stderr}")
    if result.returncode not in ok_codes:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DevcloudError(f"devcloud setup step {log_name} failed: {last[0][:200]} (log {log})")
    return result.stdout


def _wait_healthy(cfg: DevcloudConfig, service: Service, timeout: float = START_TIMEOUT) -> None:
    """Wait until ``service`` is healthy; fail at once if its process died."""
    deadline = time.monotonic() + timeout
    while not service.healthy(cfg):
        if service.pid(cfg) is None:
            raise DevcloudError(f"{service.name} exited while starting: see {service.log(cfg)}")
        if time.monotonic() > deadline:
            raise DevcloudError(
                f"{service.name} not healthy after {timeout:.0f}s: see {service.log(cfg)}"
            )
        time.sleep(0.2)


def _net() -> ModuleType:
    """The data plane's network module (imported late: it may not exist yet)."""
    from sparkstack.devcloud.server import net

    return net


def down(
    cfg: DevcloudConfig | None = None, *, purge: bool = False, purge_install: bool = False
) -> list[str]:
    """Stop every process recorded in the pid files (reverse start order) and the data plane.

    ``purge`` also deletes the data (databases, configs, logs, passwords) but keeps the server
    venv; ``purge_install`` deletes that too. Returns the names of the services stopped.
    """
    cfg = cfg or DevcloudConfig.load()
    with exclusive(cfg):
        return _down_locked(cfg, purge, purge_install)


def _down_locked(cfg: DevcloudConfig, purge: bool, purge_install: bool) -> list[str]:
    state = State.read(cfg)
    known = services_of(cfg)
    names = [s.name for s in known]
    extra = (
        sorted(p.stem for p in cfg.pids.glob("*.pid") if p.stem not in names)
        if cfg.pids.exists()
        else []
    )
    by_name = {s.name: s for s in known}
    stopped: list[str] = []
    order = [*reversed(names), *extra]
    # computes and the reconciler first (they talk to the rest), then the APIs, then DB and bus
    for group in _stop_waves(order):
        pgids = []
        for name in group:
            pid_file = by_name[name].pid_file(cfg) if name in by_name else cfg.pids / f"{name}.pid"
            pid = process.recorded(pid_file)
            if pid is not None:
                pgids.append(pid)
                stopped.append(name)
            pid_file.unlink(missing_ok=True)
        process.stop_groups(pgids)
    if state and state.data_plane and data_plane_available():
        _net().teardown_dataplane(cfg.hosts_dir)
    if purge:
        _purge(cfg, keep_venv=not purge_install)
    return stopped


def _stop_waves(order: list[str]) -> list[list[str]]:
    """Stop in three waves: everything OpenStack, then rabbitmq + epmd, then mariadb."""
    last = ["rabbitmq", "epmd", "mariadb"]
    first = [n for n in order if n not in last]
    return [first, ["rabbitmq"], ["epmd", "mariadb"]]


def _purge(cfg: DevcloudConfig, keep_venv: bool) -> None:
    if not cfg.data_dir.exists():
        return
    for child in cfg.data_dir.iterdir():
        if (keep_venv and child in (cfg.venv, cfg.swift_venv)) or child.name == "control.lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def find_service(cfg: DevcloudConfig, name: str) -> Service:
    by_name = {s.name: s for s in services_of(cfg)}
    if name not in by_name:
        raise DevcloudError(f"no devcloud service {name!r}; services: {', '.join(by_name)}")
    return by_name[name]


def stop_service(name: str, cfg: DevcloudConfig | None = None) -> None:
    """Stop one service (tests use it to see how the product copes with an outage)."""
    cfg = cfg or DevcloudConfig.load()
    with exclusive(cfg):
        service = find_service(cfg, name)
        pid = service.pid(cfg)
        if pid is not None:
            process.stop_groups([pid])
        service.pid_file(cfg).unlink(missing_ok=True)


def start_service(name: str, cfg: DevcloudConfig | None = None) -> None:
    """Start one stopped service and wait until it is healthy; a running one is left alone."""
    cfg = cfg or DevcloudConfig.load()
    with exclusive(cfg):
        service = find_service(cfg, name)
        if service.pid(cfg) is None:
            service.start(cfg)
        _wait_healthy(cfg, service)


def restart_service(name: str, cfg: DevcloudConfig | None = None) -> None:
    """Stop then start one service, e.g. after changing its code."""
    cfg = cfg or DevcloudConfig.load()
    with exclusive(cfg):
        stop_service(name, cfg)
        start_service(name, cfg)


def env_lines(cfg: DevcloudConfig | None = None) -> list[str]:
    """Shell lines that point an OpenStack client at the devcloud."""
    cfg = cfg or DevcloudConfig.load()
    return [f"export OS_CLIENT_CONFIG_FILE={cfg.clouds_yaml}", f"export OS_CLOUD={CLOUD}"]


def total_rss(cfg: DevcloudConfig | None = None) -> int:
    """Resident memory of every devcloud process, in bytes."""
    cfg = cfg or DevcloudConfig.load()
    return sum(process.rss_bytes(pid) for s in services_of(cfg) if (pid := s.pid(cfg)))
