"""Apache ZooKeeper: the ensemble several Spark masters elect their leader with.

Role ``zookeeper``; each node runs one peer of a static ensemble (``server.N=ip:2888:3888`` for
every peer, ``myid`` N stable per node). Ports 2181 (clients), 2888 (followers to the leader)
and 3888 (elections) are open between members only. The takeover time of Spark's masters is set
here: the servers cap every session at ``session_timeout_ms`` (Spark asks for 60 s and cannot be
told otherwise), and a dead leader's lock outlives it by at most that.

Health and status come from the four-letter words ``srvr`` and ``ruok`` (whitelisted), asked
on each node itself.
"""

from __future__ import annotations

import asyncio
import functools
import shlex
import time
from dataclasses import dataclass, field
from typing import ClassVar

from sparkstack.cluster import Role
from sparkstack.errors import NodeError, ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.files import FileSpec
from sparkstack.nodes.runner import each
from sparkstack.services.base import (
    Deployment,
    Host,
    Port,
    ServiceStatus,
    control,
    template,
    write_each,
)
from sparkstack.services.tarball import TarballService
from sparkstack.spec import ZooKeeperSpec

ZK_LINK = "/opt/zookeeper"
DATA_DIR = "/var/lib/zookeeper"
LOG_DIR = "/var/log/zookeeper"
CLIENT_PORT = 2181
PEER_PORT = 2888
ELECTION_PORT = 3888
#: Four-letter words the checks use; ZooKeeper refuses the others unless whitelisted.
WORDS = "srvr,ruok,mntr,cons"
#: Peers of a group after the first get myids from here on (1000 per group, by group name).
GROUP_STRIDE = 1000


def default_url(version: str) -> str:
    """Apache's archive of every release; its .sha512 sits beside it."""
    return (
        f"https://archive.apache.org/dist/zookeeper/zookeeper-{version}/"
        f"apache-zookeeper-{version}-bin.tar.gz"
    )


@dataclass(frozen=True)
class ZooKeeperStatus(ServiceStatus):
    """The ensemble as its peers report it: who leads, who follows, who does not answer."""

    leader: str | None = None
    followers: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def myids(hosts: list[Host]) -> dict[str, int]:
    """A stable id per peer: its index in its group, plus 1000 per group before it (by name),
    so a lost node never renumbers the others."""
    groups = sorted({h.node.group for h in hosts})
    return {h.name: groups.index(h.node.group) * GROUP_STRIDE + h.node.index for h in hosts}


def parse_mode(srvr: str) -> str | None:
    """``leader``, ``follower`` or ``standalone`` from a ``srvr`` answer (None: no answer)."""
    for line in srvr.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


class ZooKeeper(TarballService):
    """A static ZooKeeper ensemble on the nodes of role ``zookeeper``."""

    name: ClassVar[str] = "zookeeper"
    roles: ClassVar[tuple[Role, ...]] = (Role.ZOOKEEPER,)
    settings_key: ClassVar[str] = "zookeeper"
    link: ClassVar[str] = ZK_LINK
    artifact_hint: ClassVar[str] = (
        "--zookeeper-version / zookeeper.version, zookeeper.url or --zookeeper-tarball"
    )
    label: ClassVar[str] = "ZooKeeper"

    @property
    def settings(self) -> ZooKeeperSpec:
        return self.spec.zookeeper

    @property
    def software(self) -> ZooKeeperSpec:
        return self.spec.zookeeper

    def default_url(self) -> str:
        return default_url(self.settings.version)

    def install_hosts(self, dep: Deployment) -> list[Host]:
        return dep.with_role(Role.ZOOKEEPER)

    def ports(self) -> list[Port]:
        return [
            Port(CLIENT_PORT, CLIENT_PORT, "zookeeper clients", Role.ZOOKEEPER),
            Port(PEER_PORT, PEER_PORT, "zookeeper followers to the leader", Role.ZOOKEEPER),
            Port(ELECTION_PORT, ELECTION_PORT, "zookeeper leader election", Role.ZOOKEEPER),
        ]

    # ---- configure ----------------------------------------------------------------------

    def render(self, dep: Deployment, host: Host) -> dict[str, FileSpec]:
        """zoo.cfg, myid and the control script of one peer."""
        facts = dep.facts[host.name]
        user = facts["user"]
        peers = dep.with_role(Role.ZOOKEEPER)
        ids = myids(peers)
        zk = self.settings
        config = template("zoo.cfg.j2").render(
            tick_ms=zk.tick_ms,
            max_session_ms=zk.session_timeout_ms,
            data_dir=DATA_DIR,
            client_port=CLIENT_PORT,
            words=WORDS,
            servers=[(ids[p.name], p.ip) for p in sorted(peers, key=lambda p: ids[p.name])],
            peer_port=PEER_PORT,
            election_port=ELECTION_PORT,
        )
        ctl = template("zookeeper-ctl.sh.j2").render(
            home=ZK_LINK,
            java_home=facts["java_home"],
            heap_mb=zk.heap_mb,
            data_dir=DATA_DIR,
            log_dir=LOG_DIR,
            systemd=facts.systemd,
            unit="sparkstack-zookeeper",
        )
        files = {
            f"{ZK_LINK}/conf/zoo.cfg": FileSpec(config, 0o644, user),
            f"{DATA_DIR}/myid": FileSpec(f"{ids[host.name]}\n", 0o644, user),
            f"{DATA_DIR}/zookeeper-ctl.sh": FileSpec(ctl, 0o755, user),
        }
        if facts.systemd:
            unit = template("daemon.service.j2").render(
                description="Apache ZooKeeper peer",
                user=user,
                group=facts["group"],
                ctl=f"{DATA_DIR}/zookeeper-ctl.sh",
            )
            files["/etc/systemd/system/sparkstack-zookeeper.service"] = FileSpec(unit, 0o644)
        return files

    async def configure(self, dep: Deployment) -> set[str]:
        def dirs(host: Host) -> dict[str, tuple[str, int]]:
            user = dep.facts[host.name]["user"]
            return {DATA_DIR: (user, 0o750), LOG_DIR: (user, 0o755)}

        peers = dep.acting(dep.with_role(Role.ZOOKEEPER))
        return await write_each(dep, peers, "ZooKeeper", functools.partial(self.render, dep), dirs)

    # ---- start, health, status ----------------------------------------------------------

    async def ctl(self, dep: Deployment, host: Host, *args: str) -> str:
        return await control(dep, host, f"{DATA_DIR}/zookeeper-ctl.sh", "ZooKeeper peer", *args)

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        peers = dep.acting(dep.with_role(Role.ZOOKEEPER))
        with Phase(dep.report, "start", total=len(peers), text="start ZooKeeper") as phase:

            async def one(host: Host) -> None:
                state = await self.ctl(dep, host, "ensure", "1" if host.name in changed else "0")
                phase.advance(f"{host.name}: {state.splitlines()[-1] if state else 'nothing'}")

            await each(peers, one)  # together: a peer alone waits for a quorum

    async def stop(self, dep: Deployment) -> None:
        await each(dep.with_role(Role.ZOOKEEPER), lambda h: self.ctl(dep, h, "stop"))

    async def mode(self, dep: Deployment, host: Host) -> str | None:
        """The peer's mode as it answers ``srvr`` on its own address, None if it does not."""
        ask = (
            "import socket; s = socket.create_connection("
            f"({host.ip!r}, {CLIENT_PORT}), 3); s.sendall(b'srvr'); "
            "print(b''.join(iter(lambda: s.recv(4096), b'')).decode())"
        )
        try:
            result = await dep.fleet.run(host.target, f"python3 -c {shlex.quote(ask)}")
        except NodeError:
            return None
        return parse_mode(result.stdout) if result.ok else None

    async def modes(self, dep: Deployment) -> dict[str, str | None]:
        return await each(dep.with_role(Role.ZOOKEEPER), lambda h: self.mode(dep, h))

    async def health(self, dep: Deployment, timeout: float) -> None:
        peers = dep.with_role(Role.ZOOKEEPER)
        deadline = time.monotonic() + timeout
        with Phase(dep.report, "health", total=len(peers), text="ZooKeeper quorum") as phase:
            while True:
                modes = await self.modes(dep)
                serving = [n for n, m in modes.items() if m in ("leader", "follower", "standalone")]
                phase.set_progress(len(serving))
                led = "leader" in modes.values() or "standalone" in modes.values()
                if led and len(serving) == len(peers):
                    return
                if time.monotonic() > deadline:
                    silent = [h for h in peers if h.name not in serving]
                    logs = await each(silent, lambda h: self.ctl(dep, h, "logs", "15"))
                    details = " | ".join(f"{n}: {logs[n][-300:]}" for n in logs)
                    raise ServiceError(
                        f"ZooKeeper has no quorum after {timeout:.0f} s: "
                        f"{', '.join(h.name for h in silent)} not serving; {details}"
                    )
                await asyncio.sleep(0.5)

    async def status(self, dep: Deployment) -> ZooKeeperStatus:
        modes = await self.modes(dep)
        leader = next((n for n, m in modes.items() if m in ("leader", "standalone")), None)
        followers = sorted(n for n, m in modes.items() if m == "follower")
        missing = sorted(n for n, m in modes.items() if m is None)
        lost = [f"zookeeper not serving on {n}" for n in missing]
        state = "healthy" if leader and not missing else "degraded" if leader else "down"
        summary = (
            f"quorum of {len(modes)}: leader {leader}, {len(followers)} followers"
            if leader
            else f"no quorum among {len(modes)} nodes"
        )
        return ZooKeeperStatus(
            "zookeeper", state, summary, lost, leader=leader, followers=followers, missing=missing
        )

    def outputs(self, dep: Deployment) -> dict[str, str]:
        peers = dep.with_role(Role.ZOOKEEPER)
        return {"zookeeper.connect": ",".join(f"{h.ip}:{CLIENT_PORT}" for h in peers)}
