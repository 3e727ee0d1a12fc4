"""Jobs on object storage: a cluster launched with --object-storage and --event-log (1+2)
counts the words of an object in one container into another through s3a; the answer is read
back through the Swift API; the History Server lists the application after it ended, its event
log is in the container; destroy removes the cluster's EC2 credential.

In file order, on one cluster (destroyed at the end even when a test failed).
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from schemas import validate
from sparkstack import paths
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.s3 import cluster_credentials

pytestmark = [pytest.mark.devcloud, pytest.mark.e2e]

NAME = f"ts3a-{uuid.uuid4().hex[:6]}"
IN, OUT, LOGS = f"{NAME}-in", f"{NAME}-out", f"{NAME}-logs"
JOB = Path(__file__).parent / "jobs" / "wordcount.py"
#: The machine's cache (read at import, as the shell fixture's own cache is a fresh one): the
#: s3a jars (a 686 MB SDK bundle) are downloaded and thinned once, not per test run.
_CACHE = paths.cache_dir()
WORDS = [f"w{i}" for i in range(300)] + ["alpha", "beta", "gamma"]


def _text() -> str:
    rng = random.Random(14)
    lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for _ in range(20_000)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def store(devcloud: Any) -> Iterator[Any]:
    """The demo project's object store with the input uploaded; the test's containers are
    removed at the end."""
    conn = devcloud.connect()
    for container in (IN, OUT):  # s3a makes no buckets: the job's user has them
        conn.object_store.create_container(name=container)
    conn.object_store.upload_object(container=IN, name="words.txt", data=_text().encode())
    yield conn.object_store
    for container in (IN, OUT, LOGS):
        try:  # raw deletes: the SDK's delete_object drops the slash of s3a's "dir/" markers
            for obj in list(conn.object_store.objects(container)):
                conn.object_store.delete(f"{container}/{quote(obj.name)}")
            conn.object_store.delete_container(container, ignore_missing=True)
        except Exception as exc:
            print(f"cleanup of {container}: {exc}", file=sys.stderr)


@pytest.fixture(scope="module")
def s3_shell(shell: Any) -> Any:
    return type(shell)({**shell.env, "SPARKSTACK_CACHE_DIR": str(_CACHE)})


@pytest.fixture(scope="module")
def launched(
    s3_shell: Any, store: Any, devcloud: Any, spark_tarball: Any
) -> Iterator[dict[str, Any]]:
    started = time.monotonic()
    try:
        done = s3_shell(
            "launch", NAME, "--workers", "2", "--object-storage",
            "--event-log", f"s3a://{LOGS}/events",
            "--spark-tarball", str(spark_tarball.tarball), "--output", "json",
        )  # fmt: skip
        print(f"launch 1+2 with object storage: {time.monotonic() - started:.1f} s")
        yield {**json.loads(done.stdout), "stderr": done.stderr}
    finally:
        s3_shell("destroy", NAME, "--yes", check=False)


def _cloud(devcloud: Any) -> Cloud:
    return Cloud(devcloud.connect(), devcloud.cloud)


def test_launch_makes_one_ec2_credential_kept_off_metadata_and_output(
    launched: dict[str, Any], devcloud: Any, s3_shell: Any
) -> None:
    made = cluster_credentials(_cloud(devcloud), NAME)
    assert len(made) == 1
    secret = json.loads(made[0].blob)["secret"]
    conn = devcloud.connect()
    for node in launched["nodes"]:
        metadata = conn.compute.get_server_metadata(node["server_id"]).metadata
        assert secret not in json.dumps(metadata)
    assert secret not in json.dumps(launched)
    modes = s3_shell("run-command", NAME, "--", "stat -c '%a %U' /etc/sparkstack-s3a/core-site.xml")
    assert modes.stdout.count("600 ") == 3, modes.stdout
    described = json.loads(s3_shell("describe", NAME, "--output", "json").stdout)
    validate(described, "describe")
    states = {s["service"]: s["state"] for s in described["services"]}
    assert states == {"object-storage": "healthy", "spark": "healthy"}
    assert secret not in json.dumps(described)


def test_wordcount_reads_and_writes_s3a_and_the_swift_api_sees_the_answer(
    launched: dict[str, Any], s3_shell: Any, store: Any
) -> None:
    started = time.monotonic()
    job = s3_shell("submit", NAME, str(JOB), "--", f"s3a://{IN}/words.txt", f"s3a://{OUT}/counts")
    print(f"wordcount job (submit to end): {time.monotonic() - started:.1f} s")
    expected = Counter(_text().split())
    assert f"RESULT {len(expected)}" in job.stdout, job.stdout + job.stderr
    got: Counter[str] = Counter()
    parts = [o.name for o in store.objects(OUT, prefix="counts/part-")]
    assert parts
    for name in parts:
        for line in store.download_object(name, container=OUT).decode().splitlines():
            word, count = line.split("\t")
            got[word] += int(count)
    assert got == expected
    assert [o.name for o in store.objects(OUT, prefix="counts/_SUCCESS")] == ["counts/_SUCCESS"]


def test_the_history_server_lists_the_ended_application_through_ui_history(
    launched: dict[str, Any], s3_shell: Any, store: Any
) -> None:
    ui = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "ui", NAME, "--history"],
        env=s3_shell.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert ui.stdout is not None
        line = ui.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line + (ui.stderr.read() if ui.poll() is not None and ui.stderr else "")
        apps: list[dict[str, Any]] = []
        for _ in range(60):  # the History Server scans the log directory every 10 s
            with urllib.request.urlopen(url.group(0) + "api/v1/applications", timeout=10) as r:
                apps = json.load(r)
            if any(a["name"] == "wordcount" and a["attempts"][0]["completed"] for a in apps):
                break
            time.sleep(1)
        ended = [a for a in apps if a["name"] == "wordcount"]
        assert ended and ended[0]["attempts"][0]["completed"], apps
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=30)
    logs = [o.name for o in store.objects(LOGS, prefix="events/")]
    assert any(ended[0]["id"] in name for name in logs), logs


def test_destroy_removes_the_ec2_credential(
    launched: dict[str, Any], s3_shell: Any, devcloud: Any
) -> None:
    done = s3_shell("destroy", NAME, "--yes", "--output", "json")
    assert json.loads(done.stdout)["removed"]["ec2_credentials"] == 1
    assert cluster_credentials(_cloud(devcloud), NAME) == []
