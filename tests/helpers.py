"""Small helpers the devcloud and end-to-end tests share (tests/ is on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sparkstack.cloud import naming


def one_error_line(stderr: str) -> bool:
    """Progress lines may come first; the error itself is one line, with no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    return len(errors) == 1 and "Traceback" not in stderr and stderr.rstrip().endswith(errors[0])


def cluster_servers(conn: Any, name: str) -> list[Any]:
    """The servers of cluster ``name``, as the cloud lists them by its tag."""
    return list(conn.compute.servers(tags=naming.cluster_tag(name)))


def wait_until(condition: Callable[[], object], timeout: float = 120) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
