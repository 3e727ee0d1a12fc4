"""The whole way on the devcloud's data plane: launch 1+2 and 1+5, split by phase; memory; destroy.

Prints, from one run per size: the launch time split into provision (preflight to floating IPs),
SSH ready (console host keys read, every node reached over SSH) and Spark ready (prepare,
install, configure, start, every worker ALIVE); the resident memory of each node (all its
processes, read inside the node); the destroy time; the core count. Asserts nothing.

    eval "$(.venv/bin/sparkstack devcloud env)"
    .venv/bin/python benchmarks/e2e.py [--sizes 2 5] [--spark-tarball PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import sparkstack
from sparkstack.devcloud.spark_dist import build_spark_dist

#: Launch phases in the order they run, grouped the way the split is printed. The console host
#: keys are the nodes' sshd coming up: counted with SSH, as before they were a phase of their own.
PROVISION = ("preflight", "resources", "servers", "addresses")
SSH = ("host keys", "ssh")

#: Sum of the resident memory of every process a node sees (its own PID namespace on the devcloud).
NODE_RSS = "ps -eo rss= | awk '{s += $1} END {print s}'"


@dataclass
class PhaseClock:
    """A reporter that remembers when each phase started and ended, counted from its creation."""

    started: float = field(default_factory=time.monotonic)
    began: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: sparkstack.Event) -> None:
        now = time.monotonic() - self.started
        if event.kind == "phase_started":
            self.began.setdefault(event.phase, now)
        elif event.kind == "phase_done":
            self.ended[event.phase] = now

    def until(self, phases: tuple[str, ...]) -> float:
        return max(self.ended.get(p, 0.0) for p in phases)

    def took(self, phase: str) -> float:
        return self.ended.get(phase, 0.0) - self.began.get(phase, 0.0)


def bench(workers: int, tarball: Path, cloud: str | None) -> None:
    name = f"bench-e2e-{workers}"
    spec = sparkstack.load_spec(
        None,
        {
            "name": name,
            "cloud": cloud,
            "masters": {"count": 1},
            "workers": {"count": workers},
            "spark": {"tarball": tarball},
        },
    )
    clock = PhaseClock()
    sparkstack.launch(spec, report=clock)  # rolls back by itself on failure
    try:
        total = time.monotonic() - clock.started
        provision = clock.until(PROVISION)
        ssh = clock.until(SSH)
        print(
            f"1+{workers}: launch {total:.1f} s = provision {provision:.1f} s, "
            f"SSH ready +{ssh - provision:.1f} s (host keys {clock.took('host keys'):.1f} s), "
            f"Spark ready +{total - ssh:.1f} s"
        )
        memory = sparkstack.run_command(name, NODE_RSS, cloud=cloud)
        for node, result in sorted(memory.items()):
            if isinstance(result, sparkstack.Result) and result.stdout.strip().isdigit():
                print(f"    {node}: {int(result.stdout.strip()) / 1024:.0f} MiB resident")
            else:
                print(f"    {node}: memory not read ({result})")
    finally:
        started = time.monotonic()
        sparkstack.destroy(name, cloud)
        print(f"    destroy {time.monotonic() - started:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5], help="worker counts")
    parser.add_argument("--spark-tarball", type=Path, help="default: built from the PyPI sdist")
    parser.add_argument("--cloud", default=os.environ.get("OS_CLOUD", "devcloud"))
    args = parser.parse_args()
    tarball: Path = args.spark_tarball or build_spark_dist().tarball
    os.environ.setdefault("SPARKSTACK_DATA_DIR", tempfile.mkdtemp(prefix="sparkstack-bench-"))
    print(f"e2e on the devcloud data plane, {os.cpu_count()} cores, Spark {tarball.name}")
    for workers in args.sizes:
        bench(workers, tarball, args.cloud)


if __name__ == "__main__":
    main()
