"""Growing, shrinking, stopping and starting a cluster with HDFS on the devcloud, split by phase.

Prints, from one run, each step split into the phases the library reports (its Reporter events);
the time no phase covers is "other" (opening the cluster, reading its manifest, an add's preflight,
the HDFS admin commands of a removal, recording the members...; its longer stretches are listed).
Each step starts once the machine has settled after the one before (CPU busy under 35 % or steady
over 5 s, at most 90 s: every node of the devcloud shares this machine's cores); the table shows
the CPU busy share just before it. The steps:
  - launch 1+3 without HDFS, then add 1 worker to it (destroyed at once), beside launch 1+3 with
    HDFS: what HDFS costs at launch;
  - on the HDFS cluster: add-workers 1 (1+3 -> 1+4), add-workers 4 (-> 1+8): the fixed and the
    per-node part of an add; a full ``configure`` of the 1+8 (what re-running the setup on the
    whole cluster costs, as Flintrock's add-slaves or ElastiCluster's resize do) beside it;
  - a 200 000-row dataset written to hdfs:///bench/ds (tests/e2e/jobs/hdfs_dataset.py), then
    remove-workers 1 (1+8 -> 1+7): the blocks the leaving DataNode held, the decommission of the
    DataNodes and of the Spark workers, the deletion of the servers;
  - add-workers 1 again (1+7 -> 1+8): does the time of an add grow with the cluster?
  - stop, then start of the 1+8.
A table (a row per step, a column per phase, seconds), the service phases split by service
(HDFS, Spark), and lines stating the targets (an add of 1 worker under 30 s; an add not growing
with the cluster) and whether they are met. Asserts nothing.

    eval "$(.venv/bin/sparkstack devcloud env)"
    .venv/bin/python benchmarks/resize.py [--rows 200000] [--skip-plain] [--cloud devcloud]

Clusters are named bench-rs-plain and bench-rs-hdfs and destroyed at the end, also on failure,
Ctrl-C or SIGTERM. The library is called in this process (no CLI start-up in the figures).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import sparkstack
from sparkstack.devcloud.hadoop_dist import build_hadoop_dist
from sparkstack.devcloud.spark_dist import build_spark_dist

PLAIN = "bench-rs-plain"
HDFS = "bench-rs-hdfs"
JOB = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "jobs" / "hdfs_dataset.py"
DATASET = "hdfs:///bench/ds"

#: Phases in the order a verb runs them; a phase not listed (download, rollback...) is shown
#: after these. "warning" phases only carry a message: not shown.
ORDER = (
    "preflight", "resources", "servers", "addresses", "host keys", "ssh", "services",
    "prepare", "install", "configure", "start", "health", "decommission",
)  # fmt: skip
HIDDEN = {"warning"}
#: Phases each service reports under the same names; the split by service is printed apart.
SERVICE_PHASES = ("install", "configure", "start", "health", "decommission")
SERVICES = ("HDFS", "Spark")

#: Before a step: wait until the CPU is idle enough (or steady) over a window.
SETTLE_WINDOW, SETTLE_BUSY, SETTLE_STEADY, SETTLE_MAX = 5.0, 0.35, 0.05, 90.0
#: Gaps between phases longer than this are listed under the table.
GAP = 1.0

ADD_TARGET = 30.0
#: An add of 1 "does not depend on the cluster's size" when the bigger cluster's is within this.
SAME_SECONDS, SAME_RATIO = 2.0, 0.10
DFSADMIN = "bash /var/lib/hadoop/hdfs-namenode-ctl.sh hdfs dfsadmin -report"


def service_of(text: str) -> str:
    """The service a phase's text names ("install Hadoop", "DataNodes live", "start Spark"...)."""
    if re.search(r"HDFS|Hadoop|DataNode", text):
        return "HDFS"
    if re.search(r"Spark|workers ALIVE", text):
        return "Spark"
    return ""


def cpu_times() -> tuple[int, int]:
    """This machine's total and idle CPU ticks so far."""
    with open("/proc/stat") as stat:
        ticks = [int(t) for t in stat.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def settle() -> tuple[float, float]:
    """Wait until the CPU is idle enough or steady; return the wait and the last busy share."""
    started = time.monotonic()
    previous = -1.0
    while True:
        total, idle = cpu_times()
        time.sleep(SETTLE_WINDOW)
        total2, idle2 = cpu_times()
        busy = 1 - (idle2 - idle) / max(1, total2 - total)
        waited = time.monotonic() - started
        steady = abs(busy - previous) < SETTLE_STEADY
        if busy < SETTLE_BUSY or steady or waited >= SETTLE_MAX:
            return waited, busy
        previous = busy


@dataclass(frozen=True)
class Span:
    phase: str
    service: str
    began: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.began


class PhaseClock:
    """A reporter that records each phase's span (and its service), from its own creation.

    Phases may be reported from other threads (downloads overlap the boot): a lock."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.spans: list[Span] = []
        self._open: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __call__(self, event: sparkstack.Event) -> None:
        now = time.monotonic() - self.started
        with self._lock:
            if event.kind == "phase_started":
                self._open[event.phase] = (service_of(event.text), now)
            elif event.kind == "phase_done" and event.phase in self._open:
                service, began = self._open.pop(event.phase)
                self.spans.append(Span(event.phase, service, began, now))


@dataclass
class Row:
    """One timed step."""

    label: str
    total: float
    spans: list[Span]
    busy: float
    settled: float
    note: str = ""

    def phase(self, name: str, service: str | None = None) -> float | None:
        found = [
            s.seconds
            for s in self.spans
            if s.phase == name and (service is None or s.service == service)
        ]
        return sum(found) if found else None

    def covered(self) -> float:
        """Seconds inside at least one phase (overlapping phases counted once)."""
        total, end = 0.0, 0.0
        for span in sorted(self.spans, key=lambda s: s.began):
            if span.ended > end:
                total += span.ended - max(span.began, end)
                end = span.ended
        return total

    @property
    def other(self) -> float:
        return max(0.0, self.total - self.covered())


@dataclass
class Bench:
    cloud: str
    spark: Path
    hadoop: Path
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Clusters this run may have left (destroyed at the end).
    made: set[str] = field(default_factory=set)

    def timed(self, label: str, call: Callable[[sparkstack.Reporter], object]) -> Row:
        settled, busy = settle()
        clock = PhaseClock()
        call(clock)
        row = Row(label, time.monotonic() - clock.started, list(clock.spans), busy, settled)
        self.rows.append(row)
        print(
            f"  {label}: {row.total:.1f} s (CPU {100 * busy:.0f}% busy before, after "
            f"{settled:.0f} s of settling)",
            flush=True,
        )
        return row

    def row(self, label: str) -> Row | None:
        return next((r for r in self.rows if r.label == label), None)

    def say(self, line: str) -> None:
        self.notes.append(line)

    # ---- steps ----------------------------------------------------------------------------

    def launch(self, name: str, workers: int, hdfs: bool, label: str) -> Row:
        overrides: dict[str, Any] = {
            "name": name,
            "cloud": self.cloud,
            "masters": {"count": 1},
            "workers": {"count": workers},
            "spark": {"tarball": self.spark},
        }
        if hdfs:
            overrides["hdfs"] = {"enabled": True, "tarball": self.hadoop}
        spec = sparkstack.load_spec(None, overrides)
        self.made.add(name)
        return self.timed(label, lambda r: sparkstack.launch(spec, report=r))  # rolls back itself

    def add(self, name: str, count: int, label: str) -> Row:
        return self.timed(
            label, lambda r: sparkstack.add_workers(name, count, cloud=self.cloud, report=r)
        )


# ---- on the cluster (outside the timed steps) ------------------------------------------------


def check(name: str, cloud: str, workers: int) -> str:
    """A line on the cluster as describe sees it, saying where it is not what the step made."""
    report = sparkstack.describe(name, cloud)
    spark, hdfs = report.service("spark"), report.service("hdfs")
    alive = spark.alive_workers if isinstance(spark, sparkstack.SparkStatus) else None
    line = f"{len(report.cluster.nodes)} servers, {alive} workers ALIVE"
    wrong = [] if alive == workers else [f"expected {workers} workers ALIVE"]
    if hdfs is not None:
        live = list(getattr(hdfs, "live", []))
        line += f", {len(live)} DataNodes live, HDFS {hdfs.state}"
        if len(live) != workers or hdfs.state != "healthy":
            wrong.append(f"expected {workers} DataNodes live and healthy ({hdfs.summary})")
    return line + (f"; NOT AS EXPECTED: {'; '.join(wrong)}" if wrong else "")


def write_dataset(name: str, cloud: str, rows: int) -> float:
    lines: list[str] = []
    started = time.monotonic()
    code = sparkstack.submit(
        name,
        JOB,
        cloud=cloud,
        args=[DATASET, "write", str(rows)],
        on_line=lambda _node, line: lines.append(line),
    )
    seconds = time.monotonic() - started
    result = next((line for line in lines if line.startswith("RESULT ")), "")
    if code != 0 or not result.startswith("RESULT ok"):
        raise SystemExit(f"the write job failed ({code}): " + " | ".join(lines[-10:]))
    return seconds


def blocks_by_node(name: str, cloud: str) -> dict[str, tuple[int, int]]:
    """Blocks and bytes each DataNode holds, from ``hdfs dfsadmin -report`` on the NameNode."""
    cluster = sparkstack.describe(name, cloud, with_services=False).cluster
    by_ip = {n.fixed_ip: n.name for n in cluster.nodes if n.fixed_ip}
    on = sparkstack.Selection(roles=frozenset({sparkstack.Role.HDFS_NAMENODE}))
    found: dict[str, tuple[int, int]] = {}
    for result in sparkstack.run_command(name, DFSADMIN, cloud=cloud, on=on).values():
        if not isinstance(result, sparkstack.Result) or not result.ok:
            continue
        node, used = "", 0
        for line in result.stdout.splitlines():
            if line.startswith("Name: "):
                ip = line.split()[1].rsplit(":", 1)[0]
                node, used = by_ip.get(ip, ip), 0
            elif node and line.startswith("DFS Used:"):
                used = int(line.split(":", 1)[1].split()[0])
            elif node and line.startswith("Num of Blocks:"):
                found[node] = (int(line.split(":", 1)[1].strip()), used)
    return found


# ---- the report ------------------------------------------------------------------------------


def cell(value: float | None, width: int) -> str:
    return f"{'-' if value is None else f'{value:.1f}':>{width}}"


def table(rows: list[Row]) -> None:
    seen = {s.phase for r in rows for s in r.spans} - HIDDEN
    phases = [p for p in ORDER if p in seen] + sorted(seen - set(ORDER))
    label_width = max(len(r.label) for r in rows)
    widths = [max(len(p), 5) for p in phases]
    head = [f"{'step (seconds)':<{label_width}}", "cpu%"]
    head += [f"{p:>{w}}" for p, w in zip(phases, widths, strict=True)]
    print(" ".join([*head, "other", "total"]))
    for row in rows:
        cells = [f"{row.label:<{label_width}}", f"{100 * row.busy:4.0f}"]
        cells += [cell(row.phase(p), w) for p, w in zip(phases, widths, strict=True)]
        print(" ".join([*cells, cell(row.other, 5), cell(row.total, 5)]))
    split = [r for r in rows if any(s.service for s in r.spans)]
    if not split:
        return
    used = [p for p in SERVICE_PHASES if any(r.phase(p) is not None for r in split)]
    widths = [max(len(p), 5) for p in used]
    print()
    head = [f"{'service phases by service':<{label_width}}", f"{'':<5}"]
    print(" ".join([*head, *(f"{p:>{w}}" for p, w in zip(used, widths, strict=True))]))
    for row in split:
        label = row.label
        for service in SERVICES:
            values = [row.phase(p, service) for p in used]
            if all(v is None for v in values):
                continue
            cells = [f"{label:<{label_width}}", f"{service:<5}"]
            label = ""
            cells += [cell(v, w) for v, w in zip(values, widths, strict=True)]
            print(" ".join(cells))


def differences(big: Row, small: Row, least: float = 1.0) -> str:
    """The phases (and other) where ``big`` took at least ``least`` s more or less."""
    names = dict.fromkeys(s.phase for r in (big, small) for s in r.spans if s.phase not in HIDDEN)
    pairs = [(p, (big.phase(p) or 0.0) - (small.phase(p) or 0.0)) for p in names]
    pairs.append(("other", big.other - small.other))
    shown = [f"{p} {d:+.1f}" for p, d in sorted(pairs, key=lambda x: -abs(x[1])) if abs(d) >= least]
    return ", ".join(shown) or "no phase differs by 1 s or more"


def gaps(row: Row) -> str:
    """The stretches of ``row`` longer than GAP that no phase covers, after the phase before."""
    found, end, after = [], 0.0, "its start"
    for span in sorted(row.spans, key=lambda s: s.began):
        if span.began - end >= GAP:
            found.append(f"{span.began - end:.1f} after {after}")
        if span.ended > end:
            end = span.ended
            after = " ".join(filter(None, (span.phase, span.service)))
    if row.total - end >= GAP:
        found.append(f"{row.total - end:.1f} after {after} (to the end)")
    return ", ".join(found)


def verdicts(bench: Bench) -> None:
    get = bench.row
    plain, hdfs = get("launch 1+3"), get("launch 1+3 +HDFS")
    if plain and hdfs:
        extra = hdfs.total - plain.total
        print(
            f"HDFS at launch: {hdfs.total:.1f} s vs {plain.total:.1f} s without, "
            f"{extra:+.1f} s ({100 * extra / plain.total:+.0f}%): {differences(hdfs, plain)}"
        )
    plain_add = get("add 1 (1+3 -> 1+4)")
    add1, add4 = get("add 1 (1+3 -> 1+4) +HDFS"), get("add 4 (1+4 -> 1+8) +HDFS")
    if plain_add and add1:
        print(
            f"HDFS at add 1: {add1.total:.1f} s vs {plain_add.total:.1f} s without "
            f"({add1.total - plain_add.total:+.1f} s: {differences(add1, plain_add)})"
        )
    if add1:
        met = "met" if add1.total < ADD_TARGET else "MISSED"
        print(f"target: add 1 worker under {ADD_TARGET:.0f} s: {add1.total:.1f} s, {met}")
    if add1 and add4:
        per_node = (add4.total - add1.total) / 3
        fixed = add1.total - per_node
        phases = dict.fromkeys(s.phase for r in (add1, add4) for s in r.spans)
        slopes = [(p, ((add4.phase(p) or 0.0) - (add1.phase(p) or 0.0)) / 3) for p in phases]
        slopes.append(("other", (add4.other - add1.other) / 3))
        slopes.sort(key=lambda x: -x[1])
        shown = ", ".join(f"{p} {s:+.1f}" for p, s in slopes if abs(s) >= 0.3) or "none 0.3 s+"
        print(
            f"add: fixed part {fixed:.1f} s + {per_node:.1f} s per node (from add 1 "
            f"{add1.total:.1f} s and add 4 {add4.total:.1f} s); per node by phase: {shown}"
        )
    again = get("add 1 (1+7 -> 1+8) +HDFS")
    if add1 and again:
        grew = again.total - add1.total
        same = abs(grew) <= max(SAME_SECONDS, SAME_RATIO * add1.total)
        word = "does NOT depend" if same else "DEPENDS"
        print(
            f"target: the time of add 1 {word} on the cluster's size: {add1.total:.1f} s to 1+3, "
            f"{again.total:.1f} s to 1+7 ({grew:+.1f} s; {differences(again, add1)}); "
            f"same = within {SAME_SECONDS:.0f} s or {100 * SAME_RATIO:.0f}%: "
            f"{'met' if same else 'MISSED'}"
        )
        met = "met" if again.total < ADD_TARGET else "MISSED"
        print(f"target: add 1 worker to the 1+7 under {ADD_TARGET:.0f} s: {met}")
    full = get("configure (1+8) +HDFS")
    if full and add1:
        line = (
            f"baseline: re-running the setup on the whole 1+8 (configure, nothing changed) "
            f"{full.total:.1f} s vs add 1 {add1.total:.1f} s ({full.total / add1.total:.1f}x)"
        )
        if hdfs:
            setup = sum(hdfs.phase(p) or 0.0 for p in ("prepare", *SERVICE_PHASES))
            line += f"; setting up from scratch (prepare to health) took {setup:.1f} s of the 1+3"
        print(line)
    for line in bench.notes:
        print(line)
    long = [(r.label, g) for r in bench.rows if r.other >= 3 * GAP and (g := gaps(r))]
    if long:
        print("time no phase covers (other), s:")
        for label, found in long:
            print(f"    {label}: {found}")


# ---- main ------------------------------------------------------------------------------------


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(bench: Bench, args: argparse.Namespace) -> None:
    cloud = bench.cloud
    if not args.skip_plain:
        try:
            bench.launch(PLAIN, 3, hdfs=False, label="launch 1+3")
            bench.add(PLAIN, 1, "add 1 (1+3 -> 1+4)")
            print(f"    {PLAIN}: {check(PLAIN, cloud, 4)}", flush=True)
        finally:
            destroyed(PLAIN, cloud)
            bench.made.discard(PLAIN)
    bench.launch(HDFS, 3, hdfs=True, label="launch 1+3 +HDFS")
    bench.add(HDFS, 1, "add 1 (1+3 -> 1+4) +HDFS")
    print(f"    {HDFS}: {check(HDFS, cloud, 4)}", flush=True)
    bench.add(HDFS, 4, "add 4 (1+4 -> 1+8) +HDFS")
    print(f"    {HDFS}: {check(HDFS, cloud, 8)}", flush=True)
    bench.timed(
        "configure (1+8) +HDFS", lambda r: sparkstack.configure(HDFS, cloud=cloud, report=r)
    )

    seconds = write_dataset(HDFS, cloud, args.rows)
    print(f"    wrote {args.rows} rows to {DATASET} in {seconds:.1f} s", flush=True)
    held = blocks_by_node(HDFS, cloud)
    shown = ", ".join(f"{n.rsplit('-', 1)[-1]}: {b}" for n, (b, _u) in sorted(held.items()))
    print(f"    blocks per DataNode (by worker index): {shown or 'not read'}", flush=True)
    removed: list[str] = []

    def remove(report: sparkstack.Reporter) -> None:
        removed.extend(sparkstack.remove_workers(HDFS, 1, cloud=cloud, report=report).removed)

    row = bench.timed("remove 1 (1+8 -> 1+7) +HDFS", remove)
    for node in removed:
        blocks, used = held.get(node, (0, 0))
        bench.say(
            f"remove 1 with its data: {node} held {blocks} blocks ({used / 2**20:.1f} MiB); "
            f"DataNodes decommission {row.phase('decommission', 'HDFS') or 0:.1f} s, Spark "
            f"workers decommission {row.phase('decommission', 'Spark') or 0:.1f} s, deleting the "
            f"server {row.phase('servers') or 0:.1f} s, reaching every node (ssh) "
            f"{row.phase('ssh') or 0:.1f} s, other {row.other:.1f} s, of {row.total:.1f} s"
        )
    print(f"    {HDFS}: {check(HDFS, cloud, 7)}", flush=True)
    bench.add(HDFS, 1, "add 1 (1+7 -> 1+8) +HDFS")
    print(f"    {HDFS}: {check(HDFS, cloud, 8)}", flush=True)

    bench.timed("stop (1+8) +HDFS", lambda r: sparkstack.stop(HDFS, cloud, report=r))
    bench.timed("start (1+8) +HDFS", lambda r: sparkstack.start(HDFS, cloud, report=r))
    print(f"    {HDFS}: {check(HDFS, cloud, 8)}", flush=True)


def destroyed(name: str, cloud: str) -> None:
    started = time.monotonic()
    try:
        removed = sparkstack.destroy(name, cloud)
    except sparkstack.SparkstackError as exc:
        print(f"    destroy {name} FAILED: {exc}", flush=True)
        return
    what = ", ".join(f"{n} {k}" for k, n in removed.items() if n) or "nothing left"
    print(f"    destroyed {name} in {time.monotonic() - started:.1f} s ({what})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the HDFS dataset")
    parser.add_argument("--skip-plain", action="store_true", help="no cluster without HDFS")
    parser.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"))
    args = parser.parse_args()
    started = time.monotonic()
    if "OS_CLIENT_CONFIG_FILE" not in os.environ:
        from sparkstack.devcloud.config import DevcloudConfig

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(DevcloudConfig.load().clouds_yaml)
    bench = Bench(args.cloud, build_spark_dist().tarball, build_hadoop_dist().tarball)
    os.environ.setdefault("SPARKSTACK_DATA_DIR", tempfile.mkdtemp(prefix="sparkstack-bench-"))
    signal.signal(signal.SIGTERM, _terminate)  # a kill runs the clean-up too
    others = [c for c in sparkstack.list_clusters(args.cloud) if not c.name.startswith("bench-rs")]
    print(
        f"resize on the devcloud data plane, {os.cpu_count()} cores, m1.small nodes, "
        f"Spark {bench.spark.name}, Hadoop {bench.hadoop.name}; other clusters on the cloud: "
        + (", ".join(f"{c.name} ({len(c.nodes)} servers)" for c in others) or "none"),
        flush=True,
    )
    failed = True
    try:
        run(bench, args)
        failed = False
    finally:
        if bench.rows:
            print()
            table(bench.rows)
            print()
            verdicts(bench)
            if failed:
                print("(the run did not finish: the figures above are those it got to)")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        print("clean-up (Ctrl-C ignored):", flush=True)
        for name in sorted(bench.made):
            destroyed(name, args.cloud)
        left = [
            c.name for c in sparkstack.list_clusters(args.cloud) if c.name.startswith("bench-rs")
        ]
        print(f"    bench-rs-* clusters left: {', '.join(left) or 'none'}")
        print(f"total run time {time.monotonic() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
