"""Ctrl-C at ten moments of a real 1+2 launch (Spark included), from preflight to the health
check: each must end with exit 130, say what happened, and leave the cloud's inventory as it
was. The moments are taken from the launch's own progress lines.

How fast (the target is 10 s from Ctrl-C to exit, rollback done) is measured and printed by
benchmarks/interrupts.py; this test only catches a hang, something waiting out one of the long
timeouts (SSH readiness, health: 300 s) instead of being cancelled.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from helpers import cluster_servers
from sparkstack.devcloud.spark_dist import SparkDist, build_spark_dist

pytestmark = [
    pytest.mark.devcloud,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.usefixtures("unchanged_cloud"),
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
#: Far above the measured times, far below the 300 s timeouts a lost Ctrl-C would wait out.
HANG_SECONDS = 60.0


@pytest.fixture(scope="module")
def tarball() -> SparkDist:
    return build_spark_dist()


@pytest.mark.parametrize(("moment", "pattern"), MOMENTS, ids=[m for m, _ in MOMENTS])
def test_ctrl_c_rolls_back_in_time(
    moment: str, pattern: str, cloud_env: dict[str, str], member: Any, tarball: SparkDist
) -> None:
    name = f"pt-int-{MOMENTS.index((moment, pattern))}"
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "launch", name, "--spark-tarball",
         str(tarball.tarball), "--cloud", "devcloud"],
        env=cloud_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[str] = []
    interrupted_at: list[float] = []
    second = moment == "Spark staged and installed"  # also press Ctrl-C during the rollback

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if not interrupted_at and re.search(pattern, line):
                interrupted_at.append(time.monotonic())
                process.send_signal(signal.SIGINT)
            elif second and interrupted_at and "rollback" in line and "started" in line:
                process.send_signal(signal.SIGINT)  # ignored: the rollback must finish

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    stderr = "".join(lines)
    assert interrupted_at, f"the launch never reached {moment}:\n{stderr}"
    took = time.monotonic() - interrupted_at[0]
    assert process.returncode == 130, stderr
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "interrupted" in errors[0]
    if moment == "preflight":
        assert "nothing was created" in errors[0]
    else:
        assert "everything this launch created has been removed" in errors[0], stderr
    assert took < HANG_SECONDS, f"{took:.1f} s from Ctrl-C to exit at {moment}:\n{stderr}"
    assert cluster_servers(member, name) == []
