"""HDFS: a NameNode and DataNodes, so that jobs read and write ``hdfs:///path``.

Roles ``hdfs-namenode`` (the first node that has it runs the NameNode; there is no standby
NameNode) and ``hdfs-datanode``. Every node binds and advertises its private IP (cloud networks
rarely resolve each other's names, so the NameNode's reverse-DNS check is off). The NameNode is
formatted once, by its control script, when its name directory holds no VERSION: never again on
configure or restart (a new format would orphan every block).

Removing DataNodes goes through HDFS's own decommission: their addresses go into the exclude
file, ``dfsadmin -refreshNodes``, and the NameNode copies their blocks elsewhere; only once it
says "Decommissioned" are they stopped. State and health come from the NameNode's JMX (live,
dead and decommissioning DataNodes, capacity, under-replicated blocks), read on the NameNode.
"""

from __future__ import annotations

import asyncio
import functools
import json
import shlex
import time
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
    template,
    write_each,
)
from sparkstack.services.tarball import TarballService
from sparkstack.spec import HdfsSpec

HADOOP_LINK = "/opt/hadoop"
CONF_DIR = f"{HADOOP_LINK}/etc/hadoop"
STATE_DIR = "/var/lib/hadoop"
LOG_DIR = "/var/log/hadoop"
EXCLUDE = f"{STATE_DIR}/dfs.exclude"
PROFILE = "/etc/profile.d/sparkstack-hadoop.sh"
NAMENODE_PORT = 8020
NAMENODE_UI_PORT = 9870
DATANODE_PORT = 9866
DATANODE_UI_PORT = 9864
DATANODE_IPC_PORT = 9867
#: HDFS's own words for a DataNode's administrative state.
IN_SERVICE = "In Service"
DECOMMISSIONING = "Decommission In Progress"
DECOMMISSIONED = "Decommissioned"

#: sparkstack's choices for small, short-lived clusters (``hdfs.conf`` overrides any of them):
#: a dead DataNode is noticed in 90 s (not 10.5 min), a decommission is checked every 5 s (not
#: 30 s), blocks are copied with more streams at once, safe mode ends 5 s after the threshold.
TUNING = {
    "dfs.namenode.heartbeat.recheck-interval": "30000",
    "dfs.namenode.decommission.interval": "5s",
    "dfs.namenode.replication.max-streams": "20",
    "dfs.namenode.replication.max-streams-hard-limit": "40",
    "dfs.namenode.replication.work.multiplier.per.iteration": "10",
    "dfs.namenode.safemode.extension": "5000",
}

_DAEMON = {Role.HDFS_NAMENODE: "namenode", Role.HDFS_DATANODE: "datanode"}


def default_url(version: str) -> str:
    """Apache's archive of every release; its .sha512 sits beside it."""
    return f"https://archive.apache.org/dist/hadoop/common/hadoop-{version}/hadoop-{version}.tar.gz"


def heap_mb(role: Role, ram_mb: int) -> int:
    """The NameNode gets 1/16 of the node (256 MiB to 4 GiB), a DataNode 1/32 (128 MiB to
    1 GiB): HDFS's daemons share the nodes with Spark's."""
    if role is Role.HDFS_NAMENODE:
        return min(4096, max(256, ram_mb // 16 // 64 * 64))
    return min(1024, max(128, ram_mb // 32 // 64 * 64))


@dataclass(frozen=True)
class DataNode:
    """One DataNode as the NameNode lists it."""

    address: str
    node: str | None
    live: bool
    admin_state: str
    used_bytes: int = 0
    remaining_bytes: int = 0


@dataclass(frozen=True)
class NameNodeReport:
    """What the NameNode's JMX says about the file system and its DataNodes."""

    datanodes: list[DataNode]
    safe_mode: bool
    used_bytes: int
    remaining_bytes: int
    under_replicated: int
    missing_blocks: int

    def at(self, ip: str) -> DataNode | None:
        return next((d for d in self.datanodes if d.address.split(":")[0] == ip), None)


def _nodes_json(value: Any) -> dict[str, Any]:
    """NameNodeInfo lists nodes as a JSON string inside the JSON."""
    try:
        found = json.loads(value) if isinstance(value, str) else {}
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def parse_report(beans: dict[str, Any], names: dict[str, str]) -> NameNodeReport:
    """The JMX beans NameNodeInfo and FSNamesystem as a report; ``names`` maps an IP to its
    node's name."""
    info = beans.get("NameNodeInfo") or {}
    system = beans.get("FSNamesystem") or {}
    nodes = []
    for live, key in ((True, "LiveNodes"), (False, "DeadNodes")):
        for name, entry in _nodes_json(info.get(key)).items():
            address = str(entry.get("xferaddr") or name)
            state = str(entry.get("adminState") or "")
            if not state and not live:
                state = DECOMMISSIONED if entry.get("decommissioned") else IN_SERVICE
            nodes.append(
                DataNode(
                    address,
                    names.get(address.split(":")[0]),
                    live,
                    state,
                    int(entry.get("used") or 0),
                    int(entry.get("remaining") or 0),
                )
            )
    return NameNodeReport(
        datanodes=sorted(nodes, key=lambda d: (d.node or "", d.address)),
        safe_mode=bool(str(info.get("Safemode") or "").strip()),
        used_bytes=int(system.get("CapacityUsed") or 0),
        remaining_bytes=int(system.get("CapacityRemaining") or 0),
        under_replicated=int(system.get("UnderReplicatedBlocks") or 0),
        missing_blocks=int(system.get("MissingBlocks") or 0),
    )


@dataclass(frozen=True)
class HdfsStatus(ServiceStatus):
    """HDFS as its NameNode reports it."""

    default_fs: str | None = None
    live: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    decommissioning: list[str] = field(default_factory=list)
    decommissioned: list[str] = field(default_factory=list)
    used_bytes: int = 0
    remaining_bytes: int = 0
    under_replicated: int = 0
    missing_blocks: int = 0
    safe_mode: bool = False


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


class Hdfs(TarballService):
    """HDFS on the nodes of roles ``hdfs-namenode`` and ``hdfs-datanode``."""

    name: ClassVar[str] = "hdfs"
    roles: ClassVar[tuple[Role, ...]] = (Role.HDFS_NAMENODE, Role.HDFS_DATANODE)
    settings_key: ClassVar[str] = "hdfs"
    web_ui_port: ClassVar[int | None] = NAMENODE_UI_PORT
    link: ClassVar[str] = HADOOP_LINK
    artifact_hint: ClassVar[str] = "--hadoop-version / hdfs.version, hdfs.url or --hadoop-tarball"
    label: ClassVar[str] = "Hadoop"

    @property
    def software(self) -> HdfsSpec:
        return self.spec.hdfs

    def default_url(self) -> str:
        return default_url(self.software.version)

    def owned_dirs(self) -> list[str]:
        return ["etc/hadoop"]

    def install_hosts(self, dep: Deployment) -> list[Host]:
        return [h for h in dep.hosts if h.has(Role.HDFS_NAMENODE) or h.has(Role.HDFS_DATANODE)]

    def ports(self) -> list[Port]:
        return [
            Port(NAMENODE_PORT, NAMENODE_PORT, "hdfs namenode RPC", Role.HDFS_NAMENODE),
            Port(NAMENODE_UI_PORT, NAMENODE_UI_PORT, "hdfs namenode web UI", Role.HDFS_NAMENODE),
            Port(DATANODE_PORT, DATANODE_PORT, "hdfs datanode data transfer", Role.HDFS_DATANODE),
            Port(DATANODE_UI_PORT, DATANODE_UI_PORT, "hdfs datanode web UI", Role.HDFS_DATANODE),
            Port(DATANODE_IPC_PORT, DATANODE_IPC_PORT, "hdfs datanode IPC", Role.HDFS_DATANODE),
        ]

    @staticmethod
    def namenode(dep: Deployment) -> Host:
        return dep.first_with(Role.HDFS_NAMENODE, "no node has role hdfs-namenode")

    def daemons(self, dep: Deployment, host: Host) -> list[Role]:
        roles = [Role.HDFS_NAMENODE] if host is self.namenode(dep) else []
        return roles + ([Role.HDFS_DATANODE] if host.has(Role.HDFS_DATANODE) else [])

    def default_fs(self, dep: Deployment) -> str:
        return f"hdfs://{self.namenode(dep).ip}:{NAMENODE_PORT}"

    # ---- configure -----------------------------------------------------------------------

    def site(self, dep: Deployment, host: Host) -> dict[str, str]:
        """hdfs-site.xml of ``host``: the same everywhere but the node's own address."""
        nn = self.namenode(dep).ip
        data = self.software.data_dir
        return {
            "dfs.replication": str(self.software.replication),
            "dfs.namenode.name.dir": f"file://{data}/name",
            "dfs.datanode.data.dir": f"file://{data}/data",
            "dfs.namenode.rpc-address": f"{nn}:{NAMENODE_PORT}",
            "dfs.namenode.rpc-bind-host": nn,
            "dfs.namenode.http-address": f"{nn}:{NAMENODE_UI_PORT}",
            "dfs.namenode.http-bind-host": nn,
            "dfs.datanode.address": f"{host.ip}:{DATANODE_PORT}",
            "dfs.datanode.http.address": f"{host.ip}:{DATANODE_UI_PORT}",
            "dfs.datanode.ipc.address": f"{host.ip}:{DATANODE_IPC_PORT}",
            "dfs.datanode.hostname": host.ip,
            # no reverse DNS on most cloud networks: the check would refuse every DataNode
            "dfs.namenode.datanode.registration.ip-hostname-check": "false",
            "dfs.hosts.exclude": EXCLUDE,
            **TUNING,
            **self.software.conf,
        }

    def render(self, dep: Deployment, host: Host) -> dict[str, FileSpec]:
        facts = dep.facts[host.name]
        user = facts["user"]
        core = {"fs.defaultFS": self.default_fs(dep), "hadoop.tmp.dir": f"{STATE_DIR}/tmp"}
        site = template("hadoop-site.xml.j2")
        files = {
            f"{CONF_DIR}/core-site.xml": FileSpec(site.render(properties=core), 0o644, user),
            f"{CONF_DIR}/hdfs-site.xml": FileSpec(
                site.render(properties=self.site(dep, host)), 0o644, user
            ),
            f"{CONF_DIR}/hadoop-env.sh": FileSpec(
                template("hadoop-env.sh.j2").render(java_home=facts["java_home"]), 0o644, user
            ),
            PROFILE: FileSpec(
                template("hadoop-profile.sh.j2").render(
                    home=HADOOP_LINK, conf_dir=CONF_DIR, java_home=facts["java_home"]
                ),
                0o644,
                "root",
            ),
        }
        small = host.node.ram_mb < SMALL_NODE_MB
        for role in self.daemons(dep, host):
            daemon = _DAEMON[role]
            unit = f"sparkstack-hdfs-{daemon}"
            ctl = f"{STATE_DIR}/hdfs-{daemon}-ctl.sh"
            files[ctl] = FileSpec(
                template("hdfs-ctl.sh.j2").render(
                    daemon=daemon,
                    home=HADOOP_LINK,
                    unit=unit,
                    state_dir=STATE_DIR,
                    log_dir=LOG_DIR,
                    conf_dir=CONF_DIR,
                    java_home=facts["java_home"],
                    heap_mb=heap_mb(role, host.node.ram_mb),
                    opts_var=f"HDFS_{daemon.upper()}_OPTS",
                    jvm_opts=SMALL_JVM_OPTS if small else "",
                    name_dir=f"{self.software.data_dir}/name",
                    cluster_id=f"sparkstack-{dep.cluster}",
                    exclude=EXCLUDE,
                    systemd=facts.systemd,
                ),
                0o755,
                user,
            )
            if facts.systemd:
                unit_text = template("daemon.service.j2").render(
                    description=f"HDFS {daemon}", user=user, group=facts["group"], ctl=ctl
                )
                files[f"/etc/systemd/system/{unit}.service"] = FileSpec(unit_text, 0o644, "root")
        return files

    async def configure(self, dep: Deployment) -> set[str]:
        def dirs(host: Host) -> dict[str, tuple[str, int]]:
            user = dep.facts[host.name]["user"]
            own = {STATE_DIR: 0o755, f"{STATE_DIR}/run": 0o755, LOG_DIR: 0o755}
            return {**{p: (user, m) for p, m in own.items()}, self.software.data_dir: (user, 0o700)}

        hosts = dep.acting(self.install_hosts(dep))
        render = functools.partial(self.render, dep)
        return await write_each(dep, hosts, "HDFS", render, dirs, frozenset({PROFILE}))

    # ---- start, stop, health -------------------------------------------------------------

    async def ctl(self, dep: Deployment, host: Host, role: Role, *args: str) -> str:
        """Run the control script of one HDFS daemon of ``host``."""
        daemon = _DAEMON[role]
        script = f"{STATE_DIR}/hdfs-{daemon}-ctl.sh"
        return await control(dep, host, script, f"HDFS {daemon}", *args)

    async def admin(self, dep: Deployment, *args: str) -> str:
        """``hdfs dfsadmin ARGS`` on the NameNode."""
        return await self.ctl(
            dep, self.namenode(dep), Role.HDFS_NAMENODE, "hdfs", "dfsadmin", *args
        )

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        nn = self.namenode(dep)
        datanodes = dep.acting(dep.with_role(Role.HDFS_DATANODE))
        namenodes = dep.acting([nn])
        with Phase(
            dep.report, "start", total=len(namenodes) + len(datanodes), text="start HDFS"
        ) as phase:

            async def one(host: Host, role: Role) -> None:
                flag = "1" if host.name in changed else "0"
                state = await self.ctl(dep, host, role, "ensure", flag)
                phase.advance(f"{host.name}: {state.splitlines()[-1] if state else 'nothing'}")

            await each(namenodes, lambda h: one(h, Role.HDFS_NAMENODE))
            await each(datanodes, lambda h: one(h, Role.HDFS_DATANODE))

    async def stop(self, dep: Deployment) -> None:
        """DataNodes first: a NameNode that goes first would see them all as lost."""
        datanodes = dep.with_role(Role.HDFS_DATANODE)
        await each(datanodes, lambda h: self.ctl(dep, h, Role.HDFS_DATANODE, "stop"))
        await self.ctl(dep, self.namenode(dep), Role.HDFS_NAMENODE, "stop")

    async def report(self, dep: Deployment) -> NameNodeReport | None:
        """The NameNode's own report, None when it does not answer."""
        nn = self.namenode(dep)
        base = f"http://{nn.ip}:{NAMENODE_UI_PORT}/jmx?qry=Hadoop:service=NameNode,name="
        code = (
            "import json, sys, urllib.request as u\n"
            "out = {}\n"
            "for name in ('NameNodeInfo', 'FSNamesystem'):\n"
            f"    beans = json.load(u.urlopen({base!r} + name, timeout=5)).get('beans') or [{{}}]\n"
            "    out[name] = beans[0]\n"
            "sys.stdout.write(json.dumps(out))\n"
        )
        try:
            result = await dep.fleet.run(nn.target, f"python3 -c {shlex.quote(code)}")
        except NodeError:
            return None
        if not result.ok:
            return None
        try:
            beans = json.loads(result.stdout)
        except json.JSONDecodeError:
            return None
        return parse_report(beans if isinstance(beans, dict) else {}, self._names(dep))

    @staticmethod
    def _names(dep: Deployment) -> dict[str, str]:
        return {h.node.fixed_ip: h.name for h in dep.hosts if h.node.fixed_ip}

    async def health(self, dep: Deployment, timeout: float) -> None:
        """The NameNode out of safe mode and every DataNode live."""
        expected = dep.with_role(Role.HDFS_DATANODE)
        deadline = time.monotonic() + timeout
        with Phase(dep.report, "health", total=len(expected), text="DataNodes live") as phase:
            while True:
                report = await self.report(dep)
                live = [h for h in expected if report and (d := report.at(h.ip)) and d.live]
                phase.set_progress(len(live))
                if report and not report.safe_mode and len(live) == len(expected):
                    return
                if time.monotonic() > deadline:
                    await self._fail(dep, report, [h for h in expected if h not in live], timeout)
                await asyncio.sleep(0.5)

    async def _fail(
        self, dep: Deployment, report: NameNodeReport | None, missing: list[Host], timeout: float
    ) -> None:
        if report is None:
            shown, role, why = [self.namenode(dep)], Role.HDFS_NAMENODE, "the NameNode answers not"
        elif report.safe_mode and not missing:
            shown, role, why = [self.namenode(dep)], Role.HDFS_NAMENODE, "still in safe mode"
        else:
            shown, role, why = missing, Role.HDFS_DATANODE, "DataNodes not live"
        logs = await each(shown, lambda h: self.ctl(dep, h, role, "logs", "15"))
        details = " | ".join(f"{n}: {logs[n][-400:]}" for n in logs)
        raise ServiceError(
            f"HDFS not ready after {timeout:.0f} s ({why}: "
            f"{', '.join(h.name for h in shown)}); fix, then run `sparkstack configure "
            f"{dep.cluster}`; logs: {details}"
        )

    async def status(self, dep: Deployment) -> HdfsStatus:
        report = await self.report(dep)
        fs = self.default_fs(dep)
        if report is None:
            return HdfsStatus(
                "hdfs",
                "down",
                "the NameNode does not answer",
                [f"hdfs namenode not answering on {self.namenode(dep).name}"],
                default_fs=fs,
            )
        expected = {h.ip: h.name for h in dep.with_role(Role.HDFS_DATANODE)}

        def named(d: DataNode) -> str:
            return d.node or d.address

        current = [d for d in report.datanodes if d.address.split(":")[0] in expected]
        live = [named(d) for d in current if d.live and d.admin_state == IN_SERVICE]
        decommissioning = [named(d) for d in current if d.admin_state == DECOMMISSIONING]
        decommissioned = [named(d) for d in report.datanodes if d.admin_state == DECOMMISSIONED]
        dead = [n for ip, n in expected.items() if not (d := report.at(ip)) or not d.live]
        problems = [f"hdfs datanode not live on {n}" for n in dead]
        if report.missing_blocks:
            problems.append(f"{report.missing_blocks} blocks missing (no replica left)")
        if report.safe_mode:
            problems.append("the NameNode is in safe mode (read-only)")
        state = "degraded" if problems or report.under_replicated else "healthy"
        summary = (
            f"{fs}: {len(live)}/{len(expected)} DataNodes live"
            + (f", {len(decommissioning)} decommissioning" if decommissioning else "")
            + f", {_size(report.used_bytes)} used, {_size(report.remaining_bytes)} left, "
            f"{report.under_replicated} under-replicated blocks"
        )
        return HdfsStatus(
            "hdfs",
            state,
            summary,
            problems,
            default_fs=fs,
            live=live,
            dead=dead,
            decommissioning=decommissioning,
            decommissioned=decommissioned,
            used_bytes=report.used_bytes,
            remaining_bytes=report.remaining_bytes,
            under_replicated=report.under_replicated,
            missing_blocks=report.missing_blocks,
            safe_mode=report.safe_mode,
        )

    def outputs(self, dep: Deployment) -> dict[str, str]:
        return {
            "hdfs.default_fs": self.default_fs(dep),
            # clients write files with their own replication: Spark must use the cluster's
            "hdfs.replication": str(self.software.replication),
        }

    # ---- nodes joining and leaving --------------------------------------------------------

    async def _excluded(self, dep: Deployment, add: set[str], drop: set[str]) -> bool:
        """Change the NameNode's exclude file; True when it changed."""
        nn = self.namenode(dep)
        read = await dep.fleet.run(nn.target, f"cat {EXCLUDE} 2>/dev/null || true")
        have = {line.strip() for line in read.stdout.splitlines() if line.strip()}
        want = (have | add) - drop
        if want == have:
            return False
        lines = " ".join(shlex.quote(ip) for ip in sorted(want))
        write = f"printf '%s\\n' {lines} > {EXCLUDE}.part && mv {EXCLUDE}.part {EXCLUDE}"
        if not want:
            write = f": > {EXCLUDE}"
        if not (await dep.fleet.run(nn.target, write)).ok:
            raise ServiceError(f"{nn.name}: cannot write {EXCLUDE}")
        await self.admin(dep, "-refreshNodes")
        return True

    async def admit(self, dep: Deployment, joining: list[Host]) -> None:
        """A new DataNode may get the address of one removed before, which the exclude file
        still lists: it would be decommissioned as soon as it registers."""
        ips = {h.ip for h in joining if h.has(Role.HDFS_DATANODE)}
        if ips:
            await self._excluded(dep, set(), ips)

    async def check_leaving(self, dep: Deployment, leaving: list[Host]) -> None:
        """Refuse when the DataNodes that stay are fewer than the replication, or cannot hold
        the blocks of those that leave."""
        going = [h for h in leaving if h.has(Role.HDFS_DATANODE)]
        if not going:
            return
        report = await self.report(dep)
        if report is None:
            raise ServiceError(
                "the NameNode does not answer, so the DataNodes cannot be decommissioned "
                f"safely; run `sparkstack configure {dep.cluster}` first"
            )
        serving = {
            d.address.split(":")[0]: d
            for d in report.datanodes
            if d.live and d.admin_state == IN_SERVICE
        }
        staying = [h for h in dep.with_role(Role.HDFS_DATANODE) if h not in going]
        kept = [serving[h.ip] for h in staying if h.ip in serving]
        need = self.software.replication
        if len(kept) < need:
            raise ServiceError(
                f"removing {len(going)} DataNodes would leave {len(kept)} in service, fewer "
                f"than hdfs.replication {need}: every block needs {need} replicas on different "
                "nodes; remove fewer, or add workers first"
            )
        used = sum(d.used_bytes for h in going if (d := report.at(h.ip)))
        free = sum(d.remaining_bytes for d in kept)
        if used > free:
            raise ServiceError(
                f"the leaving DataNodes hold {_size(used)}, the {len(kept)} that stay have "
                f"{_size(free)} free; add workers first"
            )

    async def retire(self, dep: Deployment, leaving: list[Host], timeout: float) -> None:
        """Decommission: the NameNode copies every block of the leaving DataNodes elsewhere;
        once it calls them Decommissioned they are stopped."""
        going = [h for h in leaving if h.has(Role.HDFS_DATANODE)]
        if not going:
            return
        deadline = time.monotonic() + timeout
        with Phase(
            dep.report, "decommission", total=len(going), text="DataNodes decommission"
        ) as phase:
            await self._excluded(dep, {h.ip for h in going}, set())
            while True:
                report = await self.report(dep)
                done = [
                    h
                    for h in going
                    if report and (d := report.at(h.ip)) and d.admin_state == DECOMMISSIONED
                ]
                phase.set_progress(len(done))
                if len(done) == len(going):
                    break
                if time.monotonic() > deadline:
                    left = report.under_replicated if report else "?"
                    raise ServiceError(
                        f"DataNodes not decommissioned after {timeout:.0f} s "
                        f"({len(done)}/{len(going)} done, {left} blocks still under-replicated); "
                        "nothing was deleted: run remove-workers again to wait longer"
                    )
                await asyncio.sleep(1)
        await each(going, lambda h: self.ctl(dep, h, Role.HDFS_DATANODE, "stop"))

    @classmethod
    async def leader(cls, dep: Deployment) -> Host | None:
        """The NameNode (its UI is what ``ui --service hdfs`` shows)."""
        return next(iter(dep.with_role(Role.HDFS_NAMENODE)), None)
