"""The whole test suite as pytest processes ("lanes") run at once on one devcloud.

``scripts/test.sh`` without arguments runs this. Most of a devcloud test's time is waiting
(servers booting, daemons starting, a reaper's idle minutes), so lanes that do not disturb each
other share the machine's two cores:

- ``rest``: every test that needs no devcloud (pure logic, SSH test hosts, builds), from the start;
- ``cloud``: the devcloud's own tests and the provisioning ones, from the start (some stop
  Nova or Neutron for a while: nothing else may use the devcloud meanwhile);
- ``e2e-a`` and ``e2e-b``: the end-to-end modules, in two halves, once ``cloud`` is done;
- ``down``: the check that ``devcloud down`` leaves nothing, last, and only when the devcloud
  did not run before this suite (it stops it, as a single pytest run would).

Each lane's output goes to ``.lanes/NAME.log`` and is printed when the lane ends. Ctrl-C reaches
every lane (one process group), and each tears down what it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sparkstack import devcloud
from sparkstack.devcloud import DevcloudConfig

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".lanes"
E2E = ROOT / "tests" / "e2e"
#: The end-to-end modules of each half, about equal in time (measured on the 2-core machine).
E2E_A = ("test_bake.py", "test_ha.py", "test_hdfs_resize.py")


@dataclass
class Lane:
    name: str
    args: list[str]
    after: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"


def lanes(devcloud_ran_before: bool) -> list[Lane]:
    e2e_a = [str(E2E / name) for name in E2E_A]
    e2e_b = [str(p) for p in sorted(E2E.glob("test_*.py")) if p.name not in E2E_A]
    owner = "shared" if devcloud_ran_before else "owned"
    return [
        Lane("rest", ["-m", "not devcloud"], env={"SPARKSTACK_TEST_LANE": "no-devcloud"}),
        Lane("cloud", ["-m", "devcloud and not devcloud_last", "tests/cloud", "tests/devcloud"]),
        Lane("e2e-a", ["-m", "devcloud and not devcloud_last", *e2e_a], after=("cloud",)),
        Lane("e2e-b", ["-m", "devcloud and not devcloud_last", *e2e_b], after=("cloud",)),
        Lane(
            "down",
            ["-m", "devcloud_last"],
            after=("rest", "e2e-a", "e2e-b"),
            env={"SPARKSTACK_TEST_DEVCLOUD": owner},
        ),
    ]


def _start(lane: Lane) -> None:
    env = {**os.environ, "SPARKSTACK_TEST_DEVCLOUD": "shared", **lane.env}
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *lane.args]
    with lane.log.open("wb") as log:
        lane.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)
    lane.started = time.monotonic()
    print(f"lane {lane.name} started: pytest {' '.join(lane.args)}", flush=True)


def _report(lane: Lane, code: int) -> None:
    took = time.monotonic() - lane.started
    print(f"\n===== lane {lane.name}: exit {code} after {took:.0f} s =====", flush=True)
    sys.stdout.write(lane.log.read_text(errors="replace"))
    sys.stdout.flush()


def run(all_lanes: list[Lane]) -> int:
    """Start each lane once those it comes after have ended; the worst exit status."""
    LOGS.mkdir(exist_ok=True)
    ended: dict[str, int] = {}
    while len(ended) < len(all_lanes):
        for lane in all_lanes:
            if lane.process is None and all(name in ended for name in lane.after):
                _start(lane)
            elif lane.process is not None and lane.name not in ended:
                code = lane.process.poll()
                if code is not None:
                    ended[lane.name] = code
                    _report(lane, code)
        time.sleep(1)
    failed = {name: code for name, code in ended.items() if code != 0}
    print(f"\nlanes failed: {failed}" if failed else "\nevery lane passed", flush=True)
    return max(failed.values(), default=0)


def _devcloud_runs() -> bool:
    try:
        return all(s.healthy for s in devcloud.status(DevcloudConfig.load()))
    except Exception:  # not installed yet, unreadable state: the lanes will start one
        return False


def main() -> int:
    all_lanes = lanes(devcloud_ran_before=_devcloud_runs())
    try:
        return run(all_lanes)
    except KeyboardInterrupt:  # every lane got it too: let them tear down
        for lane in all_lanes:
            if lane.process is not None:
                lane.process.wait()
        return 130


if __name__ == "__main__":
    sys.exit(main())
