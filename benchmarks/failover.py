"""Several masters with standby failover on the devcloud: launch, takeover, memory.

Prints, from one run each, with the core count: the launch time of M masters + N workers
(ZooKeeper on the masters) beside 1+N of the same flavors, split by phase; the RSS of each
master's JVMs (Spark master and ZooKeeper peer) and the session timeout ZooKeeper granted the
masters (``cons``); then the takeover time after a ``kill -9`` of the ALIVE master's JVM (idle,
and with ``--during-job`` also under a job), the time ``configure`` takes to have it back as
STANDBY, and the takeover time after the ALIVE master's server is deleted. Takeover: from the
loss until a standby's ``/json/`` says ALIVE with every worker ALIVE, polled every 0.25 s over
SSH connections held open by this one process, beside the target (under 10 s). Asserts nothing.

    eval "$(.venv/bin/sparkstack devcloud env)"
    .venv/bin/python benchmarks/failover.py [--masters 3] [--workers 2] [--skip-baseline]
        [--during-job]

Clusters are named bench-one-N and bench-ha-M-N, and destroyed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import re
import shlex
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sparkstack
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.lookup import open_cluster
from sparkstack.cloud.connection import Cloud
from sparkstack.cluster import Cluster, Role
from sparkstack.devcloud.spark_dist import build_spark_dist
from sparkstack.devcloud.zookeeper_dist import build_zookeeper_dist
from sparkstack.errors import NodeError
from sparkstack.nodes.runner import Fleet, each
from sparkstack.services.base import Deployment, Host
from sparkstack.services.spark import alive_workers, master_status
from sparkstack.services.zookeeper import CLIENT_PORT, parse_mode

#: Launch phases before the nodes answer over SSH, and up to that (as benchmarks/e2e.py).
PROVISION = ("preflight", "resources", "servers", "addresses")
SSH = ("host keys", "ssh")
#: Phases of a service, in the order they run; ZooKeeper's run before Spark's under the
#: same names, so the clock files them under "zookeeper <phase>" (their text names ZooKeeper).
SERVICE_PHASES = ("install", "configure", "start", "health")

POLL = 0.25
#: A poll that has not answered in this long counts as "no answer" (a deleted server's
#: connection may hang instead of failing).
POLL_TIMEOUT = 2.0
#: Give up a takeover after this long (the target is 10 s; Spark's own worker timeout is 60 s).
GIVE_UP = 120.0
TARGET = 10.0
PROTOTYPE = "the prototype: 5-6 s with a 5 s session cap"

MASTER_PID = "/var/lib/spark/run/*Master*.pid"
ZK_PID = "/var/lib/zookeeper/zookeeper.pid"
#: RSS in KiB of the Spark master and the ZooKeeper peer of a node ("-" where none runs); the
#: unquoted $1 expands the pid file's glob.
RSS = (
    "rss() { awk '/^VmRSS:/ {print $2}' \"/proc/$(cat $1 2>/dev/null)/status\" 2>/dev/null "
    "| grep . || echo -; }; "
    f"echo \"$(rss '{MASTER_PID}') $(rss {ZK_PID})\""
)
#: A job of 12 tasks sleeping SECONDS each on the workers (the one tests/e2e/test_ha.py runs).
JOB = Path(__file__).resolve().parents[1] / "examples" / "slow_squares.py"


@dataclass
class PhaseClock:
    """A reporter that remembers when each phase started and ended, counted from its creation."""

    started: float = field(default_factory=time.monotonic)
    began: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    open: dict[str, str] = field(default_factory=dict)

    def __call__(self, event: sparkstack.Event) -> None:
        now = time.monotonic() - self.started
        if event.kind == "phase_started":
            key = f"zookeeper {event.phase}" if "ZooKeeper" in event.text else event.phase
            self.open[event.phase] = key
            self.began.setdefault(key, now)
        elif event.kind == "phase_done":
            self.ended[self.open.pop(event.phase, event.phase)] = now

    def until(self, phases: tuple[str, ...]) -> float:
        return max(self.ended.get(p, 0.0) for p in phases)

    def took(self, phase: str) -> float:
        return self.ended.get(phase, 0.0) - self.began.get(phase, 0.0)

    def split(self, prefix: str) -> str:
        return ", ".join(
            f"{p} {self.took(prefix + p):.1f}" for p in SERVICE_PHASES if prefix + p in self.ended
        )


def launch(name: str, masters: int, workers: int, tarballs: dict[str, Path], cloud: str) -> None:
    """Launch and print the split: provision, SSH, prepare, ZooKeeper (if any), Spark."""
    overrides: dict[str, Any] = {
        "name": name,
        "cloud": cloud,
        "masters": {"count": masters},
        "workers": {"count": workers},
        "spark": {"tarball": tarballs["spark"]},
    }
    if masters > 1:
        overrides["zookeeper"] = {"tarball": tarballs["zookeeper"]}
    clock = PhaseClock()
    sparkstack.launch(sparkstack.load_spec(None, overrides), report=clock)  # rolls back itself
    total = time.monotonic() - clock.started
    provision, ssh, prepared = clock.until(PROVISION), clock.until(SSH), clock.ended["prepare"]
    line = (
        f"{masters}+{workers}: launch {total:.1f} s = provision {provision:.1f} s, "
        f"SSH ready +{ssh - provision:.1f} s, prepare +{prepared - ssh:.1f} s"
    )
    spark_from = prepared
    if "zookeeper health" in clock.ended:
        spark_from = clock.ended["zookeeper health"]
        line += f", ZooKeeper +{spark_from - prepared:.1f} s ({clock.split('zookeeper ')})"
    print(f"{line}, Spark +{total - spark_from:.1f} s ({clock.split('')})", flush=True)


# ---- on the nodes -------------------------------------------------------------------------


async def answer(dep: Deployment, host: Host) -> dict[str, Any] | None:
    """The master's ``/json/``, or None when it does not answer within POLL_TIMEOUT."""
    try:
        return await asyncio.wait_for(master_status(dep, host), POLL_TIMEOUT)
    except TimeoutError:
        return None


async def four_letters(dep: Deployment, host: Host, word: str) -> str:
    """A ZooKeeper four-letter word asked on the peer itself ('' when it does not answer)."""
    ask = (
        f"import socket; s = socket.create_connection(({host.ip!r}, {CLIENT_PORT}), 3); "
        f"s.sendall(b{word!r}); print(b''.join(iter(lambda: s.recv(4096), b'')).decode())"
    )
    try:
        result = await dep.fleet.run(host.target, f"python3 -c {shlex.quote(ask)}")
    except NodeError:
        return ""
    return result.stdout if result.ok else ""


def mib(kib: str) -> str:
    return f"{int(kib) / 1024:.0f} MiB" if kib.isdigit() else "-"


async def snapshot(
    dep: Deployment, masters: list[Host], title: str
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Print under ``title`` each master's state, JVM memory and ZooKeeper mode, and the
    session timeouts ZooKeeper granted (``cons`` on every peer); return states and modes."""
    pages = await each(masters, lambda h: answer(dep, h))
    rss = await each(masters, lambda h: dep.fleet.run(h.target, RSS))
    peers = [h for h in masters if h.has(Role.ZOOKEEPER)]
    srvr = await each(peers, lambda h: four_letters(dep, h, "srvr"))
    cons = await each(peers, lambda h: four_letters(dep, h, "cons"))
    states = {h.name: str((pages[h.name] or {}).get("status") or "down") for h in masters}
    modes = {n: parse_mode(text) for n, text in srvr.items()}
    print(f"  {title}:")
    for host in masters:
        spark_kib, zk_kib = [*rss[host.name].stdout.split(), "-", "-"][:2]
        zk = f", ZooKeeper peer {mib(zk_kib)} ({modes[host.name]})" if peers else ""
        print(f"    {host.name} {states[host.name]}: master JVM {mib(spark_kib)}{zk}")
    by_ip = {h.ip: h.name for h in masters}
    granted: dict[str, list[str]] = {}
    for text in cons.values():
        for ip, timeout in re.findall(r"/([\d.]+):\d+\[\d+\]\([^)]*?\bto=(\d+)", text):
            granted.setdefault(by_ip.get(ip, ip), []).append(timeout)
    if peers:
        shown = "; ".join(f"{n}: {', '.join(sorted(t))} ms" for n, t in sorted(granted.items()))
        print(f"    ZooKeeper sessions (cons to=, Spark asks 60000): {shown or 'none seen'}")
    return states, modes


@dataclass
class Takeover:
    """What the polls saw after a loss, in seconds from it."""

    changes: list[str] = field(default_factory=list)
    done: float | None = None
    before: float = 0.0  # the same master's poll before, which did not see it yet
    winner: str = ""
    polls: int = 0


async def watch(
    dep: Deployment, standbys: list[Host], lost: Host, lost_dep: Deployment, t0: float
) -> Takeover:
    """Poll every master every POLL s, each in a loop of its own (a hung one does not delay
    the others), until a standby is ALIVE with every worker ALIVE or GIVE_UP passes."""
    workers = {h.ip for h in dep.with_role(Role.SPARK_WORKER)}
    seen = Takeover()
    finished = asyncio.Event()

    async def follow(host: Host, on: Deployment) -> None:
        last, previous, tick = "", 0.0, 0
        while not finished.is_set():
            page = await answer(on, host)
            at = time.monotonic() - t0
            seen.polls += 1
            state = str((page or {}).get("status") or "no answer")
            if page and state == "ALIVE":
                state += f" {len(alive_workers(page) & workers)}/{len(workers)} workers"
            if state != last:
                seen.changes.append(f"{host.name} {state} at {at:.2f} s")
                last = state
            if host is lost and page is None:
                return  # gone: nothing more to learn from it
            if (
                host is not lost
                and page
                and state.startswith("ALIVE")
                and workers <= alive_workers(page)
            ):
                seen.done, seen.before, seen.winner = at, previous, host.name
                finished.set()
                return
            previous = at
            tick = max(tick + 1, int(at / POLL) + 1)
            await asyncio.sleep(max(0.0, t0 + tick * POLL - time.monotonic()))

    loops = [asyncio.create_task(follow(h, dep)) for h in standbys]
    loops.append(asyncio.create_task(follow(lost, lost_dep)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(finished.wait(), GIVE_UP)
    finished.set()
    await asyncio.gather(*loops, return_exceptions=True)
    return seen


def verdict(what: str, seen: Takeover) -> None:
    if seen.done is None:
        print(f"{what}: no takeover in {GIVE_UP:.0f} s; target < {TARGET:.0f} s: MISSED")
    else:
        met = "met" if seen.done < TARGET else "MISSED"
        print(
            f"{what}: takeover {seen.done:.2f} s by {seen.winner} (its poll before, at "
            f"{seen.before:.2f} s, not yet); target < {TARGET:.0f} s: {met} ({PROTOTYPE})"
        )
    print(f"    {seen.polls} polls; seen: " + "; ".join(seen.changes), flush=True)


def leader_of(states: dict[str, str], masters: list[Host]) -> Host:
    alive = [h for h in masters if states[h.name] == "ALIVE"]
    if len(alive) != 1:
        raise SystemExit(f"expected one ALIVE master, found {states}")
    return alive[0]


async def kill_jvm(cloud: Cloud, cluster: Cluster, what: str) -> str:
    """Snapshot, kill -9 the leader's JVM over the held connection, watch the takeover."""
    hosts = hosts_of(cluster)
    async with Fleet(ssh_access(cloud, cluster)) as fleet:
        dep = Deployment(cluster.name, hosts, fleet)
        masters = dep.with_role(Role.SPARK_MASTER)
        states, _modes = await snapshot(dep, masters, f"before the kill, {what}")
        leader = leader_of(states, masters)
        load = os.getloadavg()[0]
        sent = time.monotonic()
        killed = await fleet.run(leader.target, f"kill -9 $(cat {MASTER_PID})")
        t0 = time.monotonic()
        if not killed.ok:
            raise SystemExit(f"{leader.name}: kill failed: {killed.tail(3)}")
        seen = await watch(dep, [h for h in masters if h is not leader], leader, dep, t0)
    verdict(
        f"kill -9 of {leader.name}'s master JVM, {what} (load {load:.1f}, kill acknowledged "
        f"in {1000 * (t0 - sent):.0f} ms; clock from then)",
        seen,
    )
    return leader.name


async def delete_server(cloud: Cloud, cluster: Cluster) -> str:
    """Snapshot, delete the leader's server through the compute API, watch the takeover over
    the survivors' own connections (targets from the cluster without it: its jump host may
    have been the deleted one)."""
    access = ssh_access(cloud, cluster)
    async with Fleet(access) as fleet, Fleet(access) as survivors:
        dep = Deployment(cluster.name, hosts_of(cluster), fleet)
        masters = dep.with_role(Role.SPARK_MASTER)
        states, modes = await snapshot(dep, masters, "before the delete")
        leader = leader_of(states, masters)
        left = dataclasses.replace(
            cluster, nodes=tuple(n for n in cluster.nodes if n.name != leader.name)
        )
        kept = Deployment(cluster.name, hosts_of(left), survivors)
        await each(kept.hosts, lambda h: survivors.connection(h.target))
        standbys = kept.with_role(Role.SPARK_MASTER)
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        watching = asyncio.create_task(watch(kept, standbys, leader, dep, t0))
        await asyncio.to_thread(cloud.conn.compute.delete_server, leader.node.server_id)
        accepted = time.monotonic() - t0
        seen = await watching
    verdict(
        f"delete of {leader.name}'s server, its ZooKeeper peer a {modes.get(leader.name)} (load "
        f"{load:.1f}, API accepted in {accepted:.2f} s; clock from the request)",
        seen,
    )
    return leader.name


def bring_back(name: str, killed: str, cloud: str) -> None:
    """configure restarts the killed master; its health step waits until it is STANDBY."""
    clock = PhaseClock()
    sparkstack.configure(name, cloud=cloud, report=clock)
    total = time.monotonic() - clock.started
    session, cluster = open_cluster(name, cloud)

    async def state() -> str:
        async with Fleet(ssh_access(session, cluster)) as fleet:
            dep = Deployment(name, hosts_of(cluster), fleet)
            host = next(h for h in dep.hosts if h.name == killed)
            return str((await answer(dep, host) or {}).get("status") or "down")

    print(
        f"configure back: {total:.1f} s until {killed} is {_sync.run(state())} "
        f"(Spark start {clock.took('start'):.1f} s, health {clock.took('health'):.1f} s)",
        flush=True,
    )


def kill_during_job(name: str, cloud: str) -> str:
    """Submit a job of about half a minute, kill the leader's JVM 5 s into it, check the job."""
    lines: list[str] = []
    started = threading.Event()
    outcome: list[int] = []

    def sink(_node: str, line: str) -> None:
        lines.append(line)
        if "job started" in line:
            started.set()

    def submit() -> None:
        outcome.append(sparkstack.submit(name, JOB, cloud=cloud, args=["5"], on_line=sink))

    job = threading.Thread(target=submit, daemon=True)
    job.start()
    if not started.wait(180):
        raise SystemExit("the job did not start: " + " | ".join(lines[-10:]))
    time.sleep(5)  # tasks under way
    killed = _sync.run(kill_jvm(*open_cluster(name, cloud), "during a job"))
    job.join(300)
    right = f"RESULT {sum(i * i for i in range(12))}"
    ok = outcome == [0] and right in lines
    print(f"    the job {'ended with the right answer' if ok else 'FAILED: ' + lines[-1]}")
    return killed


def ha(args: argparse.Namespace, tarballs: dict[str, Path]) -> None:
    name = f"bench-ha-{args.masters}-{args.workers}"
    launch(name, args.masters, args.workers, tarballs, args.cloud)
    try:
        killed = _sync.run(kill_jvm(*open_cluster(name, args.cloud), "no job running"))
        bring_back(name, killed, args.cloud)
        if args.during_job:
            bring_back(name, kill_during_job(name, args.cloud), args.cloud)
        _sync.run(delete_server(*open_cluster(name, args.cloud)))
    finally:
        destroyed(name, args.cloud)


def baseline(args: argparse.Namespace, tarballs: dict[str, Path]) -> None:
    name = f"bench-one-{args.workers}"
    launch(name, 1, args.workers, tarballs, args.cloud)
    try:
        session, cluster = open_cluster(name, args.cloud)

        async def memory() -> None:
            async with Fleet(ssh_access(session, cluster)) as fleet:
                dep = Deployment(name, hosts_of(cluster), fleet)
                await snapshot(dep, dep.with_role(Role.SPARK_MASTER), "memory")

        _sync.run(memory())
    finally:
        destroyed(name, args.cloud)


def destroyed(name: str, cloud: str) -> None:
    started = time.monotonic()
    sparkstack.destroy(name, cloud)
    print(f"    destroyed {name} in {time.monotonic() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masters", type=int, default=3, help="masters of the HA cluster")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-baseline", action="store_true", help="no 1+N launch")
    parser.add_argument("--during-job", action="store_true", help="also kill under a job")
    parser.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"))
    args = parser.parse_args()
    tarballs = {"spark": build_spark_dist().tarball, "zookeeper": build_zookeeper_dist().tarball}
    os.environ.setdefault("SPARKSTACK_DATA_DIR", tempfile.mkdtemp(prefix="sparkstack-bench-"))
    print(
        f"failover on the devcloud data plane, {os.cpu_count()} cores, "
        f"Spark {tarballs['spark'].name}, ZooKeeper {tarballs['zookeeper'].name}; "
        f"polls every {POLL} s",
        flush=True,
    )
    if not args.skip_baseline:
        baseline(args, tarballs)
    ha(args, tarballs)


if __name__ == "__main__":
    main()
