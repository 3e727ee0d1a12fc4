"""Ctrl-C at ten moments of a 1+2 launch with Spark: time to exit, exit code, what is left.

For each moment, ``sparkstack launch bench-int-N --spark-tarball T --cloud devcloud`` runs as a
child process; its progress lines (stderr, a pipe: one ``sparkstack: <phase> ...`` line per
event) are read in a thread and SIGINT is sent when the moment's line appears. Printed per run:
seconds from Ctrl-C to exit (and how much of it the rollback took), the exit code, and what of
the cluster the cloud still has right after the exit (servers, security groups, floating IPs,
the keypair ``sparkstack-bench-int-N``), beside the target: exit within 10 s, the rollback done
(nothing left); then max and median. Asserts nothing (tests/cloud/test_interrupts.py checks
exit code and leftovers, and only catches a hang).

    eval "$(.venv/bin/sparkstack devcloud env)"
    .venv/bin/python benchmarks/interrupts.py [--moments ssh install ...] [--repeat N]

Whatever a run leaves is destroyed before the next, so every run starts from a clean cloud.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack

import sparkstack
from sparkstack.cloud import naming

#: (key for --moments, the progress line that marks the moment), in launch order; the index is
#: the N of the cluster name bench-int-N.
MOMENTS = [
    ("preflight", r"preflight .*started"),
    ("resources", r"resources .*started"),
    ("servers", r"servers .*create requests sent"),
    ("addresses", r"addresses .*started"),
    ("host-keys", r"host keys .*started"),
    ("ssh", r"ssh .*started"),
    ("prepare", r"prepare .*started"),
    ("install", r"install .*started"),
    ("start", r"start .*started"),
    ("health", r"health .*started"),
]
TARGET_SECONDS = 10.0
#: A child still running this long after Ctrl-C is counted as hung and killed.
HANG_SECONDS = 300.0
#: A launch that never shows its moment's line is given up after this long.
LAUNCH_SECONDS = 900.0
#: moment, seconds from Ctrl-C to exit, of which the rollback, exit code, leftovers, verdict.
ROW = "{:<10} {:>13} {:>10} {:>4}  {:<34} {}"


@dataclass
class Run:
    """One launch interrupted at one moment, as seen from outside."""

    moment: str
    name: str
    lines: list[str] = field(default_factory=list)
    interrupted: float | None = None
    rollback: float | None = None
    exited: float | None = None
    code: int | None = None
    left: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.interrupted is None or self.exited is None:
            return None
        return self.exited - self.interrupted

    @property
    def met(self) -> bool:
        took = self.seconds
        return took is not None and took <= TARGET_SECONDS and not any(self.left.values())


def spark_tarball() -> Path:
    """The cached test tarball, as ``python -m sparkstack.devcloud.spark_dist`` prints it."""
    done = subprocess.run(
        [sys.executable, "-m", "sparkstack.devcloud.spark_dist"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(done.stdout.strip().splitlines()[-1])


def leftovers(conn: Any, name: str) -> dict[str, int]:
    """What the cloud still has of cluster ``name``, by its tag or reserved name."""
    tag, owned = naming.cluster_tag(name), naming.owned_name(name)
    servers = {s.id for s in conn.compute.servers(tags=tag)}
    named = conn.compute.servers(name=f"^{name}-")  # a regex to nova; checked again here
    servers |= {s.id for s in named if s.name.startswith(f"{name}-")}
    groups = {g.id for g in conn.network.security_groups(tags=tag)}
    groups |= {g.id for g in conn.network.security_groups(name=owned)}
    return {
        "servers": len(servers),
        "security groups": len(groups),
        "floating IPs": len(list(conn.network.ips(tags=tag))),
        "keypair": int(conn.compute.find_keypair(owned, ignore_missing=True) is not None),
    }


def interrupt_at(index: int, tarball: Path, cloud: str, env: dict[str, str]) -> Run:
    """Launch bench-int-<index>, Ctrl-C it at its moment, wait for it to exit."""
    moment, pattern = MOMENTS[index]
    run = Run(moment, f"bench-int-{index}")
    argv = [sys.executable, "-m", "sparkstack", "launch", run.name,
            "--spark-tarball", str(tarball), "--cloud", cloud]  # fmt: skip
    child = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    marked = re.compile(pattern)

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            run.lines.append(line)
            if run.interrupted is None and marked.search(line):
                run.interrupted = time.monotonic()
                child.send_signal(signal.SIGINT)
            elif run.interrupted is not None and re.search(r"rollback .*started", line):
                run.rollback = time.monotonic()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.monotonic()
    while child.poll() is None:
        now = time.monotonic()
        if run.interrupted is None and now - started > LAUNCH_SECONDS:
            break
        if run.interrupted is not None and now - run.interrupted > HANG_SECONDS:
            break
        time.sleep(0.02)
    if child.poll() is None:
        child.kill()  # the child we started, by its own handle
        child.wait()
    else:
        run.exited = time.monotonic()
        run.code = child.returncode
    reader.join(10)
    return run


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_line(run: Run) -> str:
    left = ", ".join(f"{n} {kind}" for kind, n in run.left.items() if n) or "nothing"
    if run.interrupted is None:
        verdict = "moment never reached"
    elif run.exited is None:
        verdict = "HUNG (killed)"
    else:
        verdict = "met" if run.met else "missed"
    rollback = None if run.rollback is None or run.exited is None else run.exited - run.rollback
    code = "-" if run.code is None else str(run.code)
    return ROW.format(run.moment, cell(run.seconds), cell(rollback), code, left, verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = [key for key, _ in MOMENTS]
    parser.add_argument("--moments", nargs="+", choices=keys, default=keys, metavar="MOMENT",
                        help=f"a subset of: {' '.join(keys)}")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="runs per moment")
    parser.add_argument("--spark-tarball", type=Path, help="default: the devcloud's cached one")
    parser.add_argument("--cloud", default="devcloud")
    args = parser.parse_args()
    if "OS_CLIENT_CONFIG_FILE" not in os.environ:
        from sparkstack.devcloud.config import DevcloudConfig

        os.environ["OS_CLIENT_CONFIG_FILE"] = str(DevcloudConfig.load().clouds_yaml)
    os.environ["SPARKSTACK_DATA_DIR"] = tempfile.mkdtemp(prefix="sparkstack-bench-")
    env = {**os.environ}
    env.pop("OS_CLOUD", None)  # --cloud names it
    tarball: Path = args.spark_tarball or spark_tarball()
    conn = openstack.connect(cloud=args.cloud)
    print(f"Ctrl-C during a 1+2 launch with Spark, {os.cpu_count()} cores, Spark {tarball.name}")
    print(f"target: exit within {TARGET_SECONDS:.0f} s of Ctrl-C, rollback done (nothing left)")
    print(
        ROW.format(
            "moment", "Ctrl-C→exit s", "rollback s", "exit", "left in the cloud", ""
        ).rstrip()
    )
    runs: list[Run] = []
    for _ in range(args.repeat):
        for key in args.moments:
            index = keys.index(key)
            run = interrupt_at(index, tarball, args.cloud, env)
            run.left = leftovers(conn, run.name)
            print(report_line(run), flush=True)
            if run.interrupted is None or run.exited is None or any(run.left.values()):
                print("    last lines: " + "    ".join(run.lines[-3:]).rstrip(), flush=True)
                sparkstack.destroy(run.name, args.cloud)
            runs.append(run)
    timed = [t for t in (r.seconds for r in runs) if t is not None]
    if timed:
        print(
            f"Ctrl-C→exit over {len(timed)} runs: max {max(timed):.1f} s, "
            f"median {statistics.median(timed):.1f} s (target {TARGET_SECONDS:.0f} s); "
            f"{sum(r.met for r in runs)}/{len(runs)} met the target, "
            f"{sum(r.code == 130 for r in runs)}/{len(runs)} exited 130, "
            f"{sum(not any(r.left.values()) for r in runs)}/{len(runs)} left nothing"
        )


if __name__ == "__main__":
    main()
