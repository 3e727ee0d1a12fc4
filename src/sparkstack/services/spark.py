"""Apache Spark standalone: install, configure, start, health-check and read it over SSH.

Roles: ``spark-master`` (a Master daemon; the client's way in: submit, ui, login) and
``spark-worker`` (a Worker daemon). A node may host both.

Install: the verified tarball goes through :mod:`sparkstack.services.staging`; a node whose
``/opt/spark`` already points at this tarball's install is left alone.

Configure: spark-env.sh, spark-defaults.conf (0600: it holds the cluster's secret), log4j2 and a
control script per daemon, rendered per node from templates; each node binds and advertises its
private IP; worker cores and memory follow its flavor; every port Spark listens on is pinned (so
the security group can open exactly those between members). Files are written only when their
content differs, and only daemons whose files changed are restarted.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sparkstack.cluster import Role
from sparkstack.errors import NodeError, ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.files import FileSpec
from sparkstack.nodes.runner import each
from sparkstack.services.base import (
    SMALL_JVM_OPTS,
    SMALL_NODE_MB,
    Deployment,
    Host,
    Port,
    ServiceStatus,
    control,
    indent,
    template,
    write_each,
)
from sparkstack.services.tarball import TarballService
from sparkstack.spec import SparkSpec

SPARK_LINK = "/opt/spark"
STATE_DIR = "/var/lib/spark"
LOG_DIR = "/var/log/spark"
PROFILE = "/etc/profile.d/sparkstack-spark.sh"
MASTER_PORT = 7077
WORKER_PORT = 7078
MASTER_UI_PORT = 8080
WORKER_UI_PORT = 8081
#: The History Server (on the first master, when event logs go to object storage).
HISTORY_PORT = 18080
HISTORY = "history-server"
#: Drivers (on a master) and block managers (every executor) bind the first free port from
#: these on, at most ``spark.port.maxRetries`` further: pinned so the security group can open
#: exactly these between members, instead of every port.
DRIVER_PORT = 7100
BLOCK_MANAGER_PORT = 7120
PORT_RETRIES = 16
#: How long a failed start waits for the other workers that may die of the same settings.
LATE_DEATH_SECONDS = 5.0
#: When a user sets one of those to 0 (any port), all that is left is the ephemeral range.
EPHEMERAL = (32768, 60999)

#: Spark refuses executors below 450m ("Executor memory ... must be at least 471859200").
MIN_EXECUTOR_MB = 512
#: JVM memory outside the heap (metaspace, code, CDS, threads): ~100 MiB measured per daemon.
JVM_NON_HEAP_MB = 128

_MAIN_CLASS = {
    "master": "org.apache.spark.deploy.master.Master",
    "worker": "org.apache.spark.deploy.worker.Worker",
    HISTORY: "org.apache.spark.deploy.history.HistoryServer",
}
_DAEMON = {Role.SPARK_MASTER: "master", Role.SPARK_WORKER: "worker"}
#: A daemon is up when it listens on these: a worker that registers before the master's UI
#: (bound last in its start) listens is told to wait 5-15 s for its next try.
_DAEMON_PORTS = {
    "master": (MASTER_PORT, MASTER_UI_PORT),
    "worker": (WORKER_PORT, WORKER_UI_PORT),
    HISTORY: (HISTORY_PORT,),
}


def _daemon_args(daemon: str, ip: str, url: str) -> list[str]:
    """The arguments of a daemon's main class, as Spark's sbin/start-*.sh give them."""
    if daemon == "master":
        return ["--host", ip, "--port", str(MASTER_PORT), "--webui-port", str(MASTER_UI_PORT)]
    if daemon == "worker":
        return ["--webui-port", str(WORKER_UI_PORT), "--port", str(WORKER_PORT), url]
    return []


def default_url(version: str, hadoop: str = "3") -> str:
    """Apache's archive of every release (mirrors drop old ones); its .sha512 sits beside it."""
    return (
        f"https://archive.apache.org/dist/spark/spark-{version}/"
        f"spark-{version}-bin-hadoop{hadoop}.tgz"
    )


@dataclass(frozen=True)
class Resources:
    """Memory and cores of one node's daemons, from its flavor."""

    worker_cores: int
    worker_memory_mb: int
    daemon_memory_mb: int
    executor_memory_mb: int
    small: bool

    @property
    def jvm_opts(self) -> str:
        return SMALL_JVM_OPTS if self.small else ""


def resources_for(vcpus: int, ram_mb: int) -> Resources:
    """Split a node's RAM between the system, the Spark daemon and executors.

    The daemon heap grows with the node (128m on 2 GiB, Spark's default 1g from 16 GiB); the
    system keeps 10% (at least 512 MiB, at most 2 GiB); executors get the rest, one executor per
    worker using all of it less Spark's off-heap overhead (max(384 MiB, 10%)).
    """
    daemon = min(1024, max(128, (ram_mb // 16) // 64 * 64))
    system = max(512, min(2048, ram_mb // 10))
    worker_memory = max(MIN_EXECUTOR_MB, ram_mb - system - daemon - JVM_NON_HEAP_MB)
    small = ram_mb < SMALL_NODE_MB
    executor = worker_memory - max(384, worker_memory // 10)
    executor = MIN_EXECUTOR_MB if small else max(MIN_EXECUTOR_MB, executor // 64 * 64)
    return Resources(max(1, vcpus), worker_memory, daemon, min(executor, worker_memory), small)


def master_url(ips: list[str]) -> str:
    """``spark://m1:7077,m2:7077``: workers and drivers follow whichever master leads."""
    return "spark://" + ",".join(f"{ip}:{MASTER_PORT}" for ip in ips)


@dataclass(frozen=True)
class SparkApp:
    id: str
    name: str
    cores: int


@dataclass(frozen=True)
class SparkMaster:
    """One master as it answers for itself: ALIVE (leads), STANDBY, RECOVERING, or down."""

    name: str
    ip: str
    status: str


@dataclass(frozen=True)
class SparkStatus(ServiceStatus):
    """Spark as its leading master sees it; ``status`` is that master's own word (ALIVE...)."""

    master_url: str | None = None
    status: str = "down"
    alive_workers: int = 0
    expected_workers: int = 0
    dead_workers: list[str] = field(default_factory=list)
    cores: int = 0
    cores_used: int = 0
    memory_mb: int = 0
    memory_used_mb: int = 0
    running_apps: list[SparkApp] = field(default_factory=list)
    masters: list[SparkMaster] = field(default_factory=list)


async def master_status(dep: Deployment, host: Host) -> dict[str, Any] | None:
    """A master's ``/json/`` page read on the master itself; None when it does not answer."""
    page = await _json_page(dep, host, MASTER_UI_PORT)
    return page if isinstance(page, dict) else None


async def worker_status(dep: Deployment, host: Host) -> dict[str, Any] | None:
    """A worker's own ``/json/`` page (its executors), read on it; None when it does not
    answer. A master's word on a decommissioned worker's cores goes stale: this does not."""
    page = await _json_page(dep, host, WORKER_UI_PORT)
    return page if isinstance(page, dict) else None


async def _json_page(
    dep: Deployment, host: Host, port: int, path: str = "/json/"
) -> dict[str, Any] | list[Any] | None:
    url = f"http://{host.ip}:{port}{path}"
    code = (
        "import sys, urllib.request as u; "
        f"sys.stdout.write(u.urlopen({url!r}, timeout=5).read().decode())"
    )
    try:
        result = await dep.fleet.run(host.target, f"python3 -c {shlex.quote(code)}")
    except NodeError:
        return None
    if not result.ok:
        return None
    try:
        status = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return status if isinstance(status, dict | list) else None


async def history_apps(dep: Deployment, host: Host) -> list[Any] | None:
    """The applications the History Server on ``host`` lists; None when it does not answer."""
    apps = await _json_page(dep, host, HISTORY_PORT, "/api/v1/applications")
    return apps if isinstance(apps, list) else None


def alive_workers(status: dict[str, Any]) -> set[str]:
    """Addresses of the workers a master lists as ALIVE."""
    return {str(w.get("host", "")) for w in status.get("workers", []) if w.get("state") == "ALIVE"}


class SparkStandalone(TarballService):
    """Spark's standalone cluster manager: a master (several with recovery) and workers."""

    name: ClassVar[str] = "spark"
    roles: ClassVar[tuple[Role, ...]] = (Role.SPARK_MASTER, Role.SPARK_WORKER)
    client_roles: ClassVar[tuple[Role, ...]] = (Role.SPARK_MASTER,)
    settings_key: ClassVar[str] = "spark"
    link: ClassVar[str] = SPARK_LINK
    release_keys: ClassVar[tuple[str, ...]] = ("version", "hadoop")
    artifact_hint: ClassVar[str] = "--spark-version / spark.version, spark.url or --spark-tarball"
    label: ClassVar[str] = "Spark"
    runs_jobs: ClassVar[bool] = True
    web_ui_port: ClassVar[int | None] = MASTER_UI_PORT
    web_uis: ClassVar[dict[str, int]] = {"history": HISTORY_PORT}

    @property
    def settings(self) -> SparkSpec:
        return self.spec.spark

    @property
    def software(self) -> SparkSpec:
        return self.spec.spark

    def default_url(self) -> str:
        return default_url(self.settings.version, self.settings.hadoop)

    def install_hosts(self, dep: Deployment) -> list[Host]:
        return self.spark_hosts(dep)

    def secrets(self) -> tuple[str, ...]:
        return ("spark",)

    def _port_base(self, key: str, default: int) -> tuple[int, int]:
        value = str(self.settings.conf.get(key, default))
        base = int(value) if value.isdigit() else default
        retries = str(self.settings.conf.get("spark.port.maxRetries", PORT_RETRIES))
        if base == 0:
            return EPHEMERAL
        return base, min(65535, base + (int(retries) if retries.isdigit() else PORT_RETRIES))

    def ports(self) -> list[Port]:
        driver = self._port_base("spark.driver.port", DRIVER_PORT)
        blocks = self._port_base("spark.blockManager.port", BLOCK_MANAGER_PORT)
        return [
            Port(MASTER_PORT, MASTER_PORT, "spark master RPC", Role.SPARK_MASTER),
            Port(MASTER_UI_PORT, MASTER_UI_PORT, "spark master web UI", Role.SPARK_MASTER),
            Port(WORKER_PORT, WORKER_PORT, "spark worker RPC", Role.SPARK_WORKER),
            Port(WORKER_UI_PORT, WORKER_UI_PORT, "spark worker web UI", Role.SPARK_WORKER),
            Port(*driver, "spark drivers (on the masters)", Role.SPARK_MASTER),
            Port(*blocks, "spark block managers (executors and drivers)"),
        ] + [Port(HISTORY_PORT, HISTORY_PORT, "spark history server", Role.SPARK_MASTER)] * bool(
            self.event_log
        )

    @property
    def ha(self) -> bool:
        """Several masters: one leads, the others stand by, elected through ZooKeeper."""
        return self.spec.count(Role.SPARK_MASTER) > 1

    @property
    def on_hdfs(self) -> bool:
        return self.spec.count(Role.HDFS_NAMENODE) > 0

    @property
    def on_object_storage(self) -> bool:
        return self.spec.object_storage.enabled

    @property
    def event_log(self) -> str | None:
        """Where applications log their events (s3a://...), read by the History Server."""
        return self.spec.object_storage.event_log if self.on_object_storage else None

    def depends_on(self) -> tuple[str, ...]:
        return (
            ("zookeeper",) * self.ha
            + ("hdfs",) * self.on_hdfs
            + ("object-storage",) * self.on_object_storage
        )

    def history_host(self, dep: Deployment) -> Host | None:
        """The node that runs the History Server: the first master, when there are event logs."""
        return dep.with_role(Role.SPARK_MASTER)[0] if self.event_log else None

    def master_hosts(self, dep: Deployment) -> list[Host]:
        """Masters that run a Master daemon: all of them with ZooKeeper recovery, else the
        first (the spec refuses several masters without it: they would split the workers)."""
        masters = dep.with_role(Role.SPARK_MASTER)
        return masters if self.ha else masters[:1]

    def daemons(self, dep: Deployment, host: Host) -> list[str]:
        """The Spark daemons ``host`` runs (a small cluster may put all on one node)."""
        daemons = []
        if host in self.master_hosts(dep):
            daemons.append("master")
        if host.has(Role.SPARK_WORKER):
            daemons.append("worker")
        if host == self.history_host(dep):
            daemons.append(HISTORY)
        return daemons

    def spark_hosts(self, dep: Deployment) -> list[Host]:
        return [h for h in dep.hosts if h.has(Role.SPARK_MASTER) or h.has(Role.SPARK_WORKER)]

    # ---- configure -----------------------------------------------------------------------

    def defaults_conf(self, dep: Deployment) -> dict[str, str]:
        """spark-defaults.conf, the same on every node (it is also the drivers' configuration)."""
        workers = dep.with_role(Role.SPARK_WORKER) or dep.with_role(Role.SPARK_MASTER)
        smallest = min(workers, key=lambda h: h.node.ram_mb).node
        app = resources_for(smallest.vcpus, smallest.ram_mb)
        first_master = dep.with_role(Role.SPARK_MASTER)[0].node
        conf = {
            "spark.master": master_url([h.ip for h in self.master_hosts(dep)]),
            "spark.authenticate": "true",
            "spark.executor.memory": f"{app.executor_memory_mb}m",
            "spark.worker.cleanup.enabled": "true",
            "spark.driver.port": str(DRIVER_PORT),
            "spark.blockManager.port": str(BLOCK_MANAGER_PORT),
            "spark.port.maxRetries": str(PORT_RETRIES),
            # a job's own output, not hundreds of INFO lines, is what submit streams back;
            # the daemons' logs keep their INFO level (this setting acts on drivers only)
            "spark.log.level": "WARN",
            # a worker being removed lets its executors finish their tasks and hand their
            # blocks (cached and shuffle) to others before it goes (remove-workers)
            "spark.decommission.enabled": "true",
            "spark.storage.decommission.enabled": "true",
            "spark.storage.decommission.shuffleBlocks.enabled": "true",
            "spark.storage.decommission.rddBlocks.enabled": "true",
        }
        if self.on_hdfs:  # hdfs:///path in a job means this cluster's HDFS, as it is set up
            conf["spark.hadoop.fs.defaultFS"] = dep.outputs["hdfs.default_fs"]
            conf["spark.hadoop.dfs.replication"] = dep.outputs["hdfs.replication"]
        driver = resources_for(first_master.vcpus, first_master.ram_mb)
        if driver.small:
            conf["spark.driver.memory"] = f"{MIN_EXECUTOR_MB}m"
            conf["spark.driver.extraJavaOptions"] = SMALL_JVM_OPTS
        if app.small:
            conf["spark.executor.extraJavaOptions"] = SMALL_JVM_OPTS
        if self.on_object_storage:  # s3a's jars and core-site.xml (see object_storage)
            for key in ("spark.driver.extraClassPath", "spark.executor.extraClassPath"):
                conf[key] = dep.outputs["object_storage.classpath"]
        if self.event_log:
            conf["spark.eventLog.enabled"] = "true"
            conf["spark.eventLog.dir"] = self.event_log
            conf["spark.history.fs.logDirectory"] = self.event_log
        if self.ha:
            conf["spark.deploy.recoveryMode"] = "ZOOKEEPER"
            conf["spark.deploy.zookeeper.url"] = dep.outputs["zookeeper.connect"]
            conf["spark.deploy.zookeeper.dir"] = f"/sparkstack/{dep.cluster}/spark"
        merged = {**conf, **self.settings.conf}
        for key in ("spark.driver.extraClassPath", "spark.executor.extraClassPath"):
            if key in conf and key in self.settings.conf:  # the user's entries come after
                merged[key] = f"{conf[key]}:{self.settings.conf[key]}"
        merged["spark.authenticate.secret"] = dep.secrets["spark"]
        return merged

    def render(self, dep: Deployment, host: Host) -> dict[str, FileSpec]:
        """Every file of ``host``."""
        facts = dep.facts[host.name]
        user = facts["user"]
        res = resources_for(host.node.vcpus, host.node.ram_mb)
        daemons = self.daemons(dep, host)
        url = master_url([h.ip for h in self.master_hosts(dep)])
        values: dict[str, Any] = {
            "ip": host.ip,
            "is_master": "master" in daemons,
            "is_worker": "worker" in daemons,
            "daemon_classpath": dep.outputs.get("object_storage.classpath", ""),
            "res": res,
            "java_home": facts["java_home"],
            "python": facts["python"] or "python3",
            "master_port": MASTER_PORT,
            "worker_port": WORKER_PORT,
            "master_ui_port": MASTER_UI_PORT,
            "worker_ui_port": WORKER_UI_PORT,
            "state_dir": STATE_DIR,
            "log_dir": LOG_DIR,
            "env": self.settings.env,
        }
        conf = f"{SPARK_LINK}/conf"
        files = {
            f"{conf}/spark-env.sh": FileSpec(
                template("spark-env.sh.j2").render(values), 0o644, user
            ),
            f"{conf}/spark-defaults.conf": FileSpec(
                template("spark-defaults.conf.j2").render(conf=self.defaults_conf(dep)), 0o600, user
            ),
            f"{conf}/log4j2.properties": FileSpec(
                template("log4j2.properties.j2").render(level="INFO"), 0o644, user
            ),
            PROFILE: FileSpec(template("profile.sh.j2").render(home=SPARK_LINK), 0o644, "root"),
        }
        for daemon in daemons:
            unit = f"sparkstack-spark-{daemon}"
            common = {
                "role": daemon,
                "home": SPARK_LINK,
                "user": user,
                "group": facts["group"],
                "master_url": url,
                "unit": unit,
            }
            ctl = template("spark-ctl.sh.j2").render(
                common,
                systemd=facts.systemd,
                state_dir=STATE_DIR,
                log_dir=LOG_DIR,
                main_class=_MAIN_CLASS[daemon],
                args=_daemon_args(daemon, host.ip, url),
                ports=_DAEMON_PORTS[daemon],
            )
            files[f"{STATE_DIR}/spark-{daemon}-ctl.sh"] = FileSpec(ctl, 0o755, user)
            if facts.systemd:
                unit_text = template("spark.service.j2").render(common)
                files[f"/etc/systemd/system/{unit}.service"] = FileSpec(unit_text, 0o644, "root")
        return files

    async def configure(self, dep: Deployment) -> set[str]:
        def dirs(host: Host) -> dict[str, tuple[str, int]]:
            user = dep.facts[host.name]["user"]
            paths = (STATE_DIR, f"{STATE_DIR}/work", f"{STATE_DIR}/run", LOG_DIR)
            return {path: (user, 0o755) for path in paths}

        hosts = dep.acting(self.spark_hosts(dep))
        render = functools.partial(self.render, dep)
        return await write_each(dep, hosts, "Spark", render, dirs, frozenset({PROFILE}))

    # ---- start and health ----------------------------------------------------------------

    async def ctl(self, dep: Deployment, host: Host, role: Role | str, *args: str) -> str:
        """Run the control script of one daemon of ``host`` (ensure, status, stop, logs):
        a role's, or the History Server's."""
        daemon = _DAEMON[role] if isinstance(role, Role) else role
        script = f"{STATE_DIR}/spark-{daemon}-ctl.sh"
        return await control(dep, host, script, f"Spark {daemon}", *args)

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        masters = dep.acting(self.master_hosts(dep))
        workers = dep.acting(dep.with_role(Role.SPARK_WORKER))
        history = dep.acting([h for h in [self.history_host(dep)] if h is not None])
        with Phase(
            dep.report,
            "start",
            total=len(masters) + len(workers) + len(history),
            text="start Spark",
        ) as phase:

            def starter(role: Role | str) -> Callable[[Host], Awaitable[None]]:
                async def one(host: Host) -> None:
                    flag = "1" if host.name in changed else "0"
                    state = await self.ctl(dep, host, role, "ensure", flag)
                    phase.advance(f"{host.name}: {state.splitlines()[-1] if state else 'nothing'}")

                return one

            await _all_or_errors(masters, starter(Role.SPARK_MASTER))
            # The History Server needs no worker: it starts beside them.
            outcomes = await asyncio.gather(
                self._start_workers(dep, workers, starter(Role.SPARK_WORKER)),
                _all_or_errors(history, starter(HISTORY)),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    async def _start_workers(
        self, dep: Deployment, workers: list[Host], one: Callable[[Host], Awaitable[None]]
    ) -> None:
        try:
            await _all_or_errors(workers, one)
        except ServiceError as failed:
            raise await self._late_deaths(dep, workers, failed) from None

    async def _late_deaths(
        self, dep: Deployment, workers: list[Host], failed: ServiceError
    ) -> ServiceError:
        """Workers started with the same settings may die a moment after their start script
        has returned (a loaded machine): wait a little, so that one error names them all."""
        await asyncio.sleep(LATE_DEATH_SECONDS)
        others = [h for h in workers if h.name not in str(failed)]
        states = await each(others, lambda h: self.ctl(dep, h, Role.SPARK_WORKER, "status"))
        dead = [h for h in others if states[h.name] != "running"]
        if not dead:
            return failed
        logs = await each(dead, lambda h: self.ctl(dep, h, Role.SPARK_WORKER, "logs", "20"))
        details = "\n".join(f"--- {h.name}:\n{indent(logs[h.name])}" for h in dead)
        names = ", ".join(h.name for h in dead)
        return ServiceError(f"{failed}\nstopped since, with the same settings: {names}\n{details}")

    async def stop(self, dep: Deployment) -> None:
        """Workers first, so that no master sees them vanish as a failure."""
        history = self.history_host(dep)
        if history is not None:
            await self.ctl(dep, history, HISTORY, "stop")
        await each(
            dep.with_role(Role.SPARK_WORKER), lambda h: self.ctl(dep, h, Role.SPARK_WORKER, "stop")
        )
        await each(self.master_hosts(dep), lambda h: self.ctl(dep, h, Role.SPARK_MASTER, "stop"))

    async def busy(self, dep: Deployment, hosts: list[Host]) -> set[str]:
        """Those of ``hosts`` whose worker runs an executor now."""
        workers = [h for h in hosts if h.has(Role.SPARK_WORKER)]
        pages = await each(workers, lambda h: worker_status(dep, h))
        return {name for name, page in pages.items() if (page or {}).get("executors")}

    async def retire(self, dep: Deployment, leaving: list[Host], timeout: float) -> None:
        """Decommission the workers (their executors finish their tasks and hand over their
        blocks), wait until none runs an executor, then stop them."""
        workers = [h for h in leaving if h.has(Role.SPARK_WORKER)]
        if not workers:
            return
        deadline = time.monotonic() + timeout
        with Phase(
            dep.report, "decommission", total=len(workers), text="Spark workers decommission"
        ) as phase:
            await each(workers, lambda h: self.ctl(dep, h, Role.SPARK_WORKER, "decommission"))
            while True:
                pages = await each(workers, lambda h: worker_status(dep, h))
                waiting = [h for h in workers if (pages[h.name] or {}).get("executors")]
                phase.set_progress(len(workers) - len(waiting))
                if not waiting:
                    break
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"executors still run on {', '.join(h.name for h in waiting)} after "
                        f"{timeout:.0f} s of decommission; wait for the application to end, or "
                        "stop it, then run remove-workers again"
                    )
                await asyncio.sleep(1)
        await each(workers, lambda h: self.ctl(dep, h, Role.SPARK_WORKER, "stop"))

    @classmethod
    async def leader(cls, dep: Deployment) -> Host | None:
        """The master that leads now (with several, whichever ZooKeeper elected)."""
        masters = dep.with_role(Role.SPARK_MASTER)
        pages = await each(masters, lambda h: master_status(dep, h))
        return next((h for h in masters if (pages[h.name] or {}).get("status") == "ALIVE"), None)

    async def health(self, dep: Deployment, timeout: float) -> None:
        """Every worker ALIVE at the leader, and (with several) every other master STANDBY."""
        expected = {h.ip: h for h in dep.with_role(Role.SPARK_WORKER)}
        masters = self.master_hosts(dep)
        deadline = time.monotonic() + timeout
        with Phase(dep.report, "health", total=len(expected), text="workers ALIVE") as phase:
            polls = 0
            while True:
                pages = await each(masters, lambda h: master_status(dep, h))
                status = next((p for p in pages.values() if p and p.get("status") == "ALIVE"), None)
                alive = alive_workers(status) if status else set()
                phase.set_progress(len(alive & expected.keys()))
                missing = [h for ip, h in expected.items() if ip not in alive]
                standing = all(
                    p and p.get("status") in ("ALIVE", "STANDBY") for p in pages.values()
                )
                if status and not missing and standing:
                    break
                polls += 1
                if polls % 4 == 0 or time.monotonic() > deadline:
                    await self._fail_if_dead(dep, missing, status is None, timeout, deadline)
                await asyncio.sleep(0.5)
        await self._history_health(dep, deadline, timeout)

    async def _history_health(self, dep: Deployment, deadline: float, timeout: float) -> None:
        """The History Server lists applications (it read the event log directory); systemd
        restarts one that died, so a death shows in its log, not in its state."""
        host = self.history_host(dep)
        if host is None:
            return
        while await history_apps(dep, host) is None:
            if time.monotonic() > deadline or await self.ctl(dep, host, HISTORY, "status") != (
                "running"
            ):
                log = await self.ctl(dep, host, HISTORY, "logs", "20")
                raise ServiceError(
                    f"{host.name}: the Spark History Server does not answer on port "
                    f"{HISTORY_PORT} (limit {timeout:.0f} s); check object_storage.event_log "
                    f"(the container must exist); its log ends with:\n{indent(log)}"
                )
            await asyncio.sleep(1)

    async def _fail_if_dead(
        self, dep: Deployment, missing: list[Host], no_master: bool, timeout: float, deadline: float
    ) -> None:
        """Raise when a missing daemon is not running, or at the deadline, with their logs."""
        role = Role.SPARK_MASTER if no_master else Role.SPARK_WORKER
        suspects = self.master_hosts(dep)[:1] if no_master else missing
        states = await each(suspects, lambda h: self.ctl(dep, h, role, "status"))
        dead = [h for h in suspects if states[h.name] != "running"]
        if not dead and time.monotonic() <= deadline:
            return
        shown = dead or suspects
        logs = await each(shown, lambda h: self.ctl(dep, h, role, "logs", "20"))
        what = "master" if no_master else "workers"
        why = "stopped" if dead else f"not ALIVE after {timeout:.0f} s"
        names = ", ".join(f"{h.name} ({h.ip})" for h in shown)
        details = "\n".join(f"--- {h.name}:\n{indent(logs[h.name])}" for h in shown)
        raise ServiceError(
            f"Spark {what} {why}: {names}; see their logs below, fix, then run "
            f"`sparkstack configure {dep.cluster}`\n{details}"
        )

    async def status(self, dep: Deployment) -> SparkStatus:
        workers = dep.with_role(Role.SPARK_WORKER)
        hosts = self.master_hosts(dep)
        pages = await each(hosts, lambda h: master_status(dep, h))
        masters = [
            SparkMaster(h.name, h.ip, str((pages[h.name] or {}).get("status") or "down"))
            for h in hosts
        ]
        down = [f"spark master not answering on {m.name}" for m in masters if m.status == "down"]
        status = next((p for p in pages.values() if p and p.get("status") == "ALIVE"), None)
        if status is None:
            return SparkStatus(
                "spark",
                "down",
                "no Spark master leads",
                ["no master is ALIVE; `sparkstack configure` restarts stopped daemons", *down],
                expected_workers=len(workers),
                dead_workers=[h.name for h in workers],
                masters=masters,
            )
        alive = alive_workers(status)
        dead = [h.name for h in workers if h.ip not in alive]
        url = str(status.get("url") or "")
        leader = next(m.name for m in masters if m.status == "ALIVE")
        standby = "" if len(masters) == 1 else f" ({leader} leads, {len(masters) - 1} standing by)"
        return SparkStatus(
            service="spark",
            state="degraded" if dead or down else "healthy",
            summary=f"{url} {status.get('status')}{standby}, {len(workers) - len(dead)}/"
            f"{len(workers)} workers alive",
            problems=[f"spark worker not alive on {name}" for name in dead] + down,
            masters=masters,
            master_url=url,
            status=str(status.get("status")),
            alive_workers=len(workers) - len(dead),
            expected_workers=len(workers),
            dead_workers=dead,
            cores=int(status.get("cores") or 0),
            cores_used=int(status.get("coresused") or 0),
            memory_mb=int(status.get("memory") or 0),
            memory_used_mb=int(status.get("memoryused") or 0),
            running_apps=[
                SparkApp(str(a.get("id")), str(a.get("name")), int(a.get("cores") or 0))
                for a in status.get("activeapps", [])
            ],
        )

    def outputs(self, dep: Deployment) -> dict[str, str]:
        return {"spark.master_url": master_url([h.ip for h in self.master_hosts(dep)])}

    @classmethod
    async def ui_host(cls, dep: Deployment, which: str | None = None) -> Host | None:
        """The History Server runs on the first master; the master UI, on the leader."""
        if which == "history":
            return dep.with_role(Role.SPARK_MASTER)[0]
        return await cls.leader(dep)

    @classmethod
    async def job_node(cls, dep: Deployment) -> Host | None:
        """A standby master when there is one: the driver then outlives its leader's loss (it
        registers with whichever master leads); else the leader."""
        masters = dep.with_role(Role.SPARK_MASTER)
        pages = await each(masters, lambda h: master_status(dep, h))
        by_state = {h.name: (pages[h.name] or {}).get("status") for h in masters}
        for wanted in ("STANDBY", "ALIVE"):
            found = next((h for h in masters if by_state[h.name] == wanted), None)
            if found is not None:
                return found
        return None

    @classmethod
    def job_argv(
        cls, app: str, args: list[str], main_class: str | None, py_files: list[str]
    ) -> list[str]:
        """spark-submit in client mode against the cluster (spark-defaults.conf names it)."""
        argv = [f"{SPARK_LINK}/bin/spark-submit"]
        if main_class:
            argv += ["--class", main_class]
        if py_files:
            argv += ["--py-files", ",".join(py_files)]
        return [*argv, app, *args]


async def _all_or_errors(hosts: list[Host], action: Callable[[Host], Awaitable[None]]) -> None:
    """Run on every host; when some fail, one ServiceError that names them all."""
    outcomes = await asyncio.gather(*(action(h) for h in hosts), return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    for error in errors:
        if not isinstance(error, ServiceError):
            raise error
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ServiceError(f"{len(errors)} nodes failed:\n" + "\n".join(map(str, errors)))
