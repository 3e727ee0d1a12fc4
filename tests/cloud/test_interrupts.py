"""Ctrl-C at ten moments of a real 1+2 launch (Spark included), from preflight to the health
check: each must end with exit 130, say what happened, and leave the cloud's inventory as it
was. The moments are taken from the launch's own progress lines. The ten launches run at once.

How fast (the target is 10 s from Ctrl-C to exit, rollback done) is measured and printed by
benchmarks/interrupts.py; this test only catches a hang, something waiting out one of the long
timeouts (SSH readiness, health: 300 s) instead of being cancelled.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import cluster_servers
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist

pytestmark = [
    pytest.mark.devcloud,
    pytest.mark.e2e,
    pytest.mark.slow,
]

#: (moment, the progress line that marks it); in launch order.
MOMENTS = [
    ("preflight", r"preflight .*started"),
    ("resources", r"resources .*started"),
    ("servers requested", r"servers .*create requests sent"),
    ("floating IPs", r"addresses .*started"),
    ("console host keys", r"host keys .*started"),
    ("SSH", r"ssh .*started"),
    ("node preparation", r"prepare .*started"),
    ("Spark staged and installed", r"install .*started"),
    ("daemons starting", r"start .*started"),
    ("health check", r"health .*started"),
]
#: Far above the measured times (ten launches at once included), far below the 300 s timeouts
#: a lost Ctrl-C would wait out.
HANG_SECONDS = 120.0


@pytest.fixture(scope="module")
def tarball() -> SparkDist:
    return build_spark_dist()


@dataclass
class Interrupted:
    """One launch interrupted at one moment: its progress lines, exit status and how long it
    took from Ctrl-C to exit (None: the moment never came)."""

    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    took: float | None = None

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def _interrupt_at(
    name: str, pattern: str, second: bool, env: dict[str, str], tarball: Path
) -> Interrupted:
    """Launch ``name``, press Ctrl-C at the first line matching ``pattern`` (with ``second``,
    again during the rollback, which must finish anyway), wait for the exit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "launch", name, "--spark-tarball", str(tarball),
         "--cloud", "devcloud"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    outcome = Interrupted()
    interrupted_at: list[float] = []
    try:
        for line in process.stderr:
            outcome.lines.append(line)
            if not interrupted_at and re.search(pattern, line):
                interrupted_at.append(time.monotonic())
                process.send_signal(signal.SIGINT)
            elif second and interrupted_at and "rollback" in line and "started" in line:
                process.send_signal(signal.SIGINT)  # ignored: the rollback must finish
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    outcome.returncode = process.returncode
    if interrupted_at:
        outcome.took = time.monotonic() - interrupted_at[0]
    return outcome


@pytest.fixture(scope="module")
def interrupted(
    unchanged_cloud_after_module: Any, cloud_env: dict[str, str], tarball: SparkDist
) -> dict[str, Interrupted]:
    """Every moment's launch, all at once (each alone would wait for the cloud in turn), and the
    cloud's inventory checked unchanged after the module."""
    with ThreadPoolExecutor(len(MOMENTS)) as pool:
        futures = {
            moment: pool.submit(
                _interrupt_at,
                f"pt-int-{index}",
                pattern,
                moment == "Spark staged and installed",  # also Ctrl-C during the rollback
                cloud_env,
                tarball.tarball,
            )
            for index, (moment, pattern) in enumerate(MOMENTS)
        }
    return {moment: future.result() for moment, future in futures.items()}


@pytest.mark.parametrize("moment", [m for m, _ in MOMENTS])
def test_ctrl_c_rolls_back_in_time(
    moment: str, interrupted: dict[str, Interrupted], member: Any
) -> None:
    outcome = interrupted[moment]
    stderr = outcome.stderr
    assert outcome.took is not None, f"the launch never reached {moment}:\n{stderr}"
    assert outcome.returncode == 130, stderr
    errors = [line for line in outcome.lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "interrupted" in errors[0]
    if moment == "preflight":
        assert "nothing was created" in errors[0]
    else:
        assert "everything this launch created has been removed" in errors[0], stderr
    assert outcome.took < HANG_SECONDS, f"{outcome.took:.1f} s from Ctrl-C to exit at {moment}"
    index = [m for m, _ in MOMENTS].index(moment)
    assert cluster_servers(member, f"pt-int-{index}") == []
