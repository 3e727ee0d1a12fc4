"""docs/library.md's example, run as written on the devcloud inside a running event loop (the
sync API must work there, as in Jupyter). It launches, describes, submits to and destroys a
real cluster, and must leave nothing of it in the cloud.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
NAME = "lib-example"


def example() -> str:
    """The one ```python block of the page."""
    blocks = re.findall(r"^```python\n(.*?)^```$", DOC.read_text(), flags=re.S | re.M)
    assert len(blocks) == 1, f"docs/library.md has {len(blocks)} python blocks, not one"
    return str(blocks[0])


def in_a_running_loop(code: str) -> str:
    """The example as the body of a coroutine that asyncio.run drives."""
    body = textwrap.indent(code, "    ")
    return f"import asyncio\n\n\nasync def main():\n{body}\n\nasyncio.run(main())\n"


def leftovers(conn: Any) -> list[str]:
    """Whatever the cloud still has of the example cluster, by name or tag."""
    tag = f"sparkstack:{NAME}"
    owned = f"sparkstack-{NAME}"
    found = [f"server {s.name}" for s in conn.compute.servers() if s.name.startswith(f"{NAME}-")]
    found += [f"keypair {k.name}" for k in conn.compute.keypairs() if k.name == owned]
    found += [f"server group {g.name}" for g in conn.compute.server_groups() if g.name == owned]
    for kind in ("security_groups", "ips", "networks", "routers", "ports"):
        found += [
            f"{kind} {r.id}"
            for r in getattr(conn.network, kind)()
            if tag in (r.tags or []) or NAME in (getattr(r, "name", "") or "")
        ]
    return found


def test_the_documented_example_runs_inside_a_running_loop(
    shell: Any, spark_tarball: Any, devcloud: Any
) -> None:
    """The page's code, unchanged, as the body of a coroutine: what a notebook cell does. (As a
    plain script it is the same calls without the loop; one launch proves both.)"""
    code = in_a_running_loop(example())
    env = {**shell.env, "SPARK_TARBALL": str(spark_tarball.tarball)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
    finally:
        left = leftovers(devcloud.connect())
        if left:  # never leave a cluster behind for the next test or engineer
            shell("destroy", NAME, "--yes", check=False)
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert done.returncode == 0, output
    assert "counted 1000" in done.stdout, output
    assert "state active;" in done.stdout, output
    assert "1 worker(s) alive" in done.stdout, output
    assert not left, f"left in the cloud: {left}"
