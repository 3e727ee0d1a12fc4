"""Benchmark: the s3a jars from Maven to a running job on object storage.

    .venv/bin/python benchmarks/object_storage.py [--launch]

Client: the jars downloaded into an empty cache (hadoop-aws 3.5.0, the AWS SDK bundle
2.35.4 and two small ones), the bundle thinned and everything packed, then the same build again
(cached); sizes before and after. With ``--launch`` (needs the devcloud, OS_CLOUD set): a 1+2
cluster launched with --object-storage through the library, the time from the s3a install
phase's start to its end (staging the tarball to the first node and from it to the others),
the whole launch, a wordcount from one container to another, and destroy. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import openstack

import sparkstack
from sparkstack import maven, paths
from sparkstack.events import Event
from sparkstack.services import s3a_jars

JOB = Path(__file__).resolve().parents[1] / "tests" / "e2e" / "jobs" / "wordcount.py"


def client() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        start = time.monotonic()
        files = maven.fetch_jars(s3a_jars.S3A_JARS, cache / "maven")
        fetched = time.monotonic() - start
        size = sum(f.stat().st_size for f in files)
        start = time.monotonic()
        built = s3a_jars.build(maven.MAVEN_CENTRAL, [], cache)
        thinned = time.monotonic() - start
        start = time.monotonic()
        s3a_jars.build(maven.MAVEN_CENTRAL, [], cache)
        cached = time.monotonic() - start
        print(f"cores: {os.cpu_count()}")
        print(f"download of the jars:       {fetched:6.1f} s  {size / 1e6:6.1f} MB")
        print(f"thin + pack:                {thinned:6.1f} s  {built.stat().st_size / 1e6:6.1f} MB")
        print(f"cached build:               {cached:6.3f} s")


def launch() -> None:
    name = f"ts3a-bench-{uuid.uuid4().hex[:4]}"
    store = openstack.connect().object_store
    src, dst = f"{name}-in", f"{name}-out"
    for container in (src, dst):
        store.create_container(name=container)
    store.upload_object(container=src, name="words.txt", data=b"a b c a b a\n" * 200_000)
    opened: dict[str, tuple[str, float]] = {}
    spans: list[tuple[str, str, float]] = []

    def report(event: Event) -> None:
        if event.kind == "phase_started":
            opened[event.phase] = (event.text, time.monotonic())
        elif event.kind == "phase_done" and event.phase in opened:
            text, began = opened.pop(event.phase)
            spans.append((event.phase, text, time.monotonic() - began))

    settings: dict[str, object] = {
        "name": name,
        "workers": {"count": 2},
        "object_storage": {"enabled": True},
    }
    local = sorted((paths.cache_dir() / "spark-dist").glob("spark-*/spark-*-bin-hadoop3.tgz"))
    if local:  # the devcloud's build of Spark (Apache's archive is not reachable there)
        settings["spark"] = {"tarball": str(local[-1])}
    try:
        start = time.monotonic()
        sparkstack.launch(sparkstack.load_spec(None, settings), report=report)
        launched = time.monotonic() - start
        start = time.monotonic()
        code = sparkstack.submit(name, JOB, args=[f"s3a://{src}/words.txt", f"s3a://{dst}/out"])
        job = time.monotonic() - start
    finally:
        sparkstack.destroy(name)
        for container in (src, dst):
            for obj in list(store.objects(container)):
                store.delete(f"{container}/{quote(obj.name)}")
            store.delete_container(container, ignore_missing=True)
    for phase, text, took in spans:
        print(f"{phase:12} {text[:40]:40} {took:6.1f} s")
    print(f"launch 1+2 with --object-storage: {launched:6.1f} s")
    print(f"wordcount s3a -> s3a (exit {code}):  {job:6.1f} s")


if __name__ == "__main__":
    client()
    if "--launch" in sys.argv[1:]:
        launch()
