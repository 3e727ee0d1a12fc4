"""Apache Spark standalone: install, configure, start and health-check it over SSH.

Install: the client holds one verified tarball (services.download); it goes once to the first
master, which serves it over the private network for a few seconds while every other node
fetches it in parallel; each node checks the SHA-512 again before unpacking. A node whose
``/opt/spark`` already points at this tarball's install is left alone.

Configure: spark-env.sh, spark-defaults.conf (0600: it holds the cluster's secret), log4j2 and a
control script, rendered per node from templates; each node binds and advertises its private IP;
worker cores and memory follow its flavor. Files are written only when their content differs, and
only daemons whose files changed are restarted.
"""

from __future__ import annotations

import asyncio
import json
import random
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sparkstack.cluster import Role
from sparkstack.errors import ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.runner import each
from sparkstack.services.base import Deployment, Host, Port, Service, template
from sparkstack.services.download import Artifact
from sparkstack.spec import SparkSpec

SPARK_LINK = "/opt/spark"
INSTALL_ROOT = "/opt/sparkstack"
STATE_DIR = "/var/lib/spark"
LOG_DIR = "/var/log/spark"
STAGING_DIR = "/var/tmp/sparkstack"
PROFILE = "/etc/profile.d/sparkstack-spark.sh"
MASTER_PORT = 7077
MASTER_UI_PORT = 8080
WORKER_UI_PORT = 8081
APP_UI_PORT = 4040

#: Below this RAM a node is "small": serial GC, C1 only, small code cache and stacks. Measured on
#: the test bed: a worker JVM idles at ~170 MiB with these and 128m heap, ~235 MiB with defaults.
SMALL_NODE_MB = 4096
SMALL_JVM_OPTS = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=32m -Xss512k"
#: Spark refuses executors below 450m ("Executor memory ... must be at least 471859200").
MIN_EXECUTOR_MB = 512
#: JVM memory outside the heap (metaspace, code, CDS, threads): ~100 MiB measured per daemon.
JVM_NON_HEAP_MB = 128

_MAIN_CLASS = {
    Role.MASTER: "org.apache.spark.deploy.master.Master",
    Role.WORKER: "org.apache.spark.deploy.worker.Worker",
}


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


class SparkStandalone(Service):
    """Spark's standalone cluster manager: a master (several with recovery) and workers."""

    name = "spark"

    def __init__(self, spec: SparkSpec, artifact: Artifact, secret: str):
        self.spec = spec
        self.artifact = artifact
        self.secret = secret

    @property
    def install_dir(self) -> str:
        """One directory per tarball content, so a changed tarball is a new install."""
        return f"{INSTALL_ROOT}/spark-{self.spec.version}-{self.artifact.sha512[:12]}"

    def ports(self) -> list[Port]:
        return [
            Port(MASTER_PORT, "master RPC", Role.MASTER),
            Port(MASTER_UI_PORT, "master web UI", Role.MASTER),
            Port(WORKER_UI_PORT, "worker web UI", Role.WORKER),
            Port(APP_UI_PORT, "application UI (driver on a master)", Role.MASTER),
        ]

    def master_hosts(self, dep: Deployment) -> list[Host]:
        """Masters that run a Master daemon: all of them once recovery (ZooKeeper) is set up,
        else the first; several independent masters would split the workers between them."""
        if "spark.deploy.recoveryMode" in self.spec.conf:
            return dep.masters
        return dep.masters[:1]

    # ---- install -------------------------------------------------------------------------

    async def install(self, dep: Deployment) -> None:
        wanted = self.install_dir.rsplit("/", 1)[1]
        missing = [h for h in dep.hosts if dep.facts[h.name]["spark"] != wanted]
        if not missing:
            return
        source = dep.masters[0]
        staged = f"{STAGING_DIR}/{self.artifact.path.name}"
        with Phase(dep.report, "install", total=len(missing), text="install Spark") as phase:
            await dep.fleet.run(source.target, f"mkdir -p {STAGING_DIR}")
            await dep.fleet.put(source.target, self.artifact.path, staged)
            phase.message(f"tarball on {source.name}")
            port = random.randint(20000, 29999)
            await self._serve(dep, source, port)
            url = f"http://{source.ip}:{port}/{self.artifact.path.name}"
            try:

                async def one(host: Host) -> None:
                    fetch = "" if host is source else url
                    await self._install_on(dep, host, staged, fetch)
                    phase.advance(host.name)

                await each(missing, one)
            finally:
                await dep.fleet.run(
                    source.target,
                    f"kill $(cat {STAGING_DIR}/http.pid) 2>/dev/null; rm -f {shlex.quote(staged)}",
                )

    async def _serve(self, dep: Deployment, host: Host, port: int) -> None:
        """A short-lived HTTP server on the master's private address, for the other nodes."""
        serve = (
            f"cd {STAGING_DIR} && setsid -f sh -c 'echo $$ > http.pid; exec python3 -m "
            f"http.server --bind {host.ip} {port}' </dev/null >/dev/null 2>&1; "
            f"for i in $(seq 50); do python3 -c 'import socket; socket.create_connection("
            f'("{host.ip}", {port}), 1)\' 2>/dev/null && exit 0; sleep 0.1; done; exit 1'
        )
        result = await dep.fleet.run(host.target, serve)
        if not result.ok:
            raise ServiceError(f"{host.name}: cannot serve the tarball to the other nodes")

    async def _install_on(self, dep: Deployment, host: Host, staged: str, fetch_url: str) -> None:
        facts = dep.facts[host.name]
        script = template("install.sh.j2").render(
            staged=staged,
            fetch_url=fetch_url,
            sha512=self.artifact.sha512,
            install_dir=self.install_dir,
            link=SPARK_LINK,
            user=facts["user"],
            group=facts["group"],
            remove_staged=bool(fetch_url),
        )
        result = await dep.fleet.run(host.target, "bash -s", input=script)
        if not result.ok:
            raise ServiceError(f"{host.name}: Spark install failed: {result.tail(5)}")

    # ---- configure -----------------------------------------------------------------------

    def defaults_conf(self, dep: Deployment) -> dict[str, str]:
        """spark-defaults.conf, the same on every node (it is also the drivers' configuration)."""
        workers = dep.workers or dep.masters
        smallest = min(workers, key=lambda h: h.node.ram_mb).node
        app = resources_for(smallest.vcpus, smallest.ram_mb)
        conf = {
            "spark.master": master_url([h.ip for h in self.master_hosts(dep)]),
            "spark.authenticate": "true",
            "spark.authenticate.secret": self.secret,
            "spark.executor.memory": f"{app.executor_memory_mb}m",
            "spark.worker.cleanup.enabled": "true",
            # a job's own output, not hundreds of INFO lines, is what submit streams back;
            # the daemons' logs keep their INFO level (this setting acts on drivers only)
            "spark.log.level": "WARN",
        }
        driver = resources_for(dep.masters[0].node.vcpus, dep.masters[0].node.ram_mb)
        if driver.small:
            conf["spark.driver.memory"] = f"{MIN_EXECUTOR_MB}m"
            conf["spark.driver.extraJavaOptions"] = SMALL_JVM_OPTS
        if app.small:
            conf["spark.executor.extraJavaOptions"] = SMALL_JVM_OPTS
        return {**conf, **self.spec.conf}

    def render(self, dep: Deployment, host: Host) -> dict[str, tuple[str, int, str]]:
        """Every file of ``host``: {path: (content, mode, owner)}."""
        facts = dep.facts[host.name]
        user = facts["user"]
        role = host.node.role
        res = resources_for(host.node.vcpus, host.node.ram_mb)
        values: dict[str, Any] = {
            "ip": host.ip,
            "is_master": host in self.master_hosts(dep),
            "is_worker": role is Role.WORKER,
            "res": res,
            "java_home": facts["java_home"],
            "python": facts["python"] or "python3",
            "master_port": MASTER_PORT,
            "master_ui_port": MASTER_UI_PORT,
            "worker_ui_port": WORKER_UI_PORT,
            "state_dir": STATE_DIR,
            "log_dir": LOG_DIR,
            "env": self.spec.env,
        }
        conf = f"{SPARK_LINK}/conf"
        files = {
            f"{conf}/spark-env.sh": (template("spark-env.sh.j2").render(values), 0o644, user),
            f"{conf}/spark-defaults.conf": (
                template("spark-defaults.conf.j2").render(conf=self.defaults_conf(dep)),
                0o600,
                user,
            ),
            f"{conf}/log4j2.properties": (
                template("log4j2.properties.j2").render(level="INFO"),
                0o644,
                user,
            ),
            PROFILE: (template("profile.sh.j2").render(home=SPARK_LINK), 0o644, "root"),
        }
        daemon = self._daemon_role(dep, host)
        if daemon is not None:
            unit = f"sparkstack-spark-{daemon.value}"
            common = {
                "role": daemon.value,
                "home": SPARK_LINK,
                "user": user,
                "group": facts["group"],
                "master_url": master_url([h.ip for h in self.master_hosts(dep)]),
                "unit": unit,
            }
            ctl = template("spark-ctl.sh.j2").render(
                common,
                systemd=facts.systemd,
                state_dir=STATE_DIR,
                log_dir=LOG_DIR,
                main_class=_MAIN_CLASS[daemon],
            )
            files[f"{STATE_DIR}/spark-{daemon.value}-ctl.sh"] = (ctl, 0o755, user)
            if facts.systemd:
                unit_text = template("spark.service.j2").render(common)
                files[f"/etc/systemd/system/{unit}.service"] = (unit_text, 0o644, "root")
        return files

    def _daemon_role(self, dep: Deployment, host: Host) -> Role | None:
        if host.node.role is Role.WORKER:
            return Role.WORKER
        return Role.MASTER if host in self.master_hosts(dep) else None

    async def configure(self, dep: Deployment) -> set[str]:
        changed: set[str] = set()
        with Phase(dep.report, "configure", total=len(dep.hosts), text="configure Spark") as phase:

            async def one(host: Host) -> None:
                user = dep.facts[host.name]["user"]
                dirs = {STATE_DIR: user, f"{STATE_DIR}/work": user, f"{STATE_DIR}/run": user}
                written = await dep.write_files(
                    host, self.render(dep, host), {**dirs, LOG_DIR: user}
                )
                if written - {PROFILE}:
                    changed.add(host.name)
                phase.advance(f"{host.name}: {'changed' if host.name in changed else 'unchanged'}")

            await each(dep.hosts, one)
        return changed

    # ---- start and health ----------------------------------------------------------------

    async def ctl(self, dep: Deployment, host: Host, *args: str) -> str:
        """Run this node's control script (ensure, status, stop, logs)."""
        role = self._daemon_role(dep, host)
        if role is None:
            return ""
        command = f"bash {STATE_DIR}/spark-{role.value}-ctl.sh {' '.join(args)}"
        result = await dep.fleet.run(host.target, command)
        if not result.ok:
            raise ServiceError(
                f"{host.name}: the Spark {role.value} did not start; its log ends with:\n"
                + _indent(result.stdout)
            )
        return result.stdout.strip()

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        masters = self.master_hosts(dep)
        with Phase(
            dep.report, "start", total=len(masters) + len(dep.workers), text="start Spark"
        ) as phase:

            async def one(host: Host) -> None:
                state = await self.ctl(dep, host, "ensure", "1" if host.name in changed else "0")
                phase.advance(f"{host.name}: {state.splitlines()[-1] if state else 'nothing'}")

            await _all_or_errors(masters, one)
            await _all_or_errors(dep.workers, one)

    async def master_status(self, dep: Deployment, host: Host) -> dict[str, Any] | None:
        """The master's ``/json/`` page read on the master itself; None when it does not answer."""
        url = f"http://{host.ip}:{MASTER_UI_PORT}/json/"
        code = (
            "import sys, urllib.request as u; "
            f"sys.stdout.write(u.urlopen({url!r}, timeout=5).read().decode())"
        )
        result = await dep.fleet.run(host.target, f"python3 -c {shlex.quote(code)}")
        if not result.ok:
            return None
        try:
            status: dict[str, Any] = json.loads(result.stdout)
        except json.JSONDecodeError:
            return None
        return status

    async def leader_status(self, dep: Deployment) -> dict[str, Any] | None:
        """The status page of the ALIVE master (the one that leads), if any answers."""
        for host in self.master_hosts(dep):
            status = await self.master_status(dep, host)
            if status and status.get("status") == "ALIVE":
                return status
        return None

    async def health(self, dep: Deployment, timeout: float) -> None:
        expected = {h.ip: h for h in dep.workers}
        deadline = time.monotonic() + timeout
        with Phase(dep.report, "health", total=len(expected), text="workers ALIVE") as phase:
            polls = 0
            while True:
                status = await self.leader_status(dep)
                alive = alive_workers(status) if status else set()
                phase.set_progress(len(alive & expected.keys()))
                missing = [h for ip, h in expected.items() if ip not in alive]
                if status and not missing:
                    return
                polls += 1
                if polls % 4 == 0 or time.monotonic() > deadline:
                    await self._fail_if_dead(dep, missing, status is None, timeout, deadline)
                await asyncio.sleep(0.5)

    async def _fail_if_dead(
        self, dep: Deployment, missing: list[Host], no_master: bool, timeout: float, deadline: float
    ) -> None:
        """Raise when a missing daemon is not running, or at the deadline, with their logs."""
        suspects = self.master_hosts(dep)[:1] if no_master else missing
        states = await each(suspects, lambda h: self.ctl(dep, h, "status"))
        dead = [h for h in suspects if states[h.name] != "running"]
        if not dead and time.monotonic() <= deadline:
            return
        shown = dead or suspects
        logs = await each(shown, lambda h: self.ctl(dep, h, "logs", "20"))
        what = "master" if no_master else "workers"
        why = "stopped" if dead else f"not ALIVE after {timeout:.0f} s"
        names = ", ".join(f"{h.name} ({h.ip})" for h in shown)
        details = "\n".join(f"--- {h.name}:\n{_indent(logs[h.name])}" for h in shown)
        raise ServiceError(
            f"Spark {what} {why}: {names}; see their logs below, fix, then run "
            f"`sparkstack configure`\n{details}"
        )


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


def alive_workers(status: dict[str, Any]) -> set[str]:
    """Addresses of the workers a master lists as ALIVE."""
    return {w.get("host", "") for w in status.get("workers", []) if w.get("state") == "ALIVE"}


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines())
