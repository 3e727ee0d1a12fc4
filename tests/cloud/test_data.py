"""``data put/get/ls`` on the devcloud's real Swift: round trips of random bytes (a plain object
and a forced Static Large Object) checked byte for byte, with progress events; listings; clear
errors for what is missing; an upload or download interrupted halfway leaves nothing; hostile
names are refused before any call.

Containers are named ``tdata-<run>-...`` and deleted afterwards with everything in them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

import sparkstack
from sparkstack import devcloud as dc
from sparkstack.errors import CloudError, Interrupted, NotFoundError, QuotaError, UsageError
from sparkstack.events import Event

pytestmark = [pytest.mark.devcloud]

MIB = 1 << 20
RUN = f"tdata-{uuid.uuid4().hex[:6]}"
#: valid in Swift, hostile to URLs and to rich markup: it must arrive as it is
ODD_NAME = "dir/ü [bold]x[/] ?#%&+.bin"


@pytest.fixture(scope="module")
def swift(devcloud: Any) -> Any:
    """Object storage in the devcloud (idempotent when it runs already)."""
    dc.install(devcloud.cfg, object_storage=True)
    dc.up(devcloud.cfg, object_storage=True)
    return devcloud


@pytest.fixture(scope="module")
def store(swift: Any, member: Any) -> Iterator[Any]:
    """The member's Swift API; this run's containers are emptied and deleted at the end."""
    yield member.object_store
    for container in member.object_store.containers():
        if str(container.name).startswith(RUN):
            for obj in member.object_store.objects(container.name):
                member.object_store.delete(f"{quote(container.name)}/{quote(obj.name)}")
            member.object_store.delete(quote(container.name))


def _random_file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _names(store: Any, container: str) -> list[str]:
    return sorted(str(o.name) for o in store.objects(container))


def _containers(store: Any) -> set[str]:
    return {str(c.name) for c in store.containers()}


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkstack", "data", *args, "--cloud", "devcloud"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_put_and_get_round_trip_is_byte_for_byte_with_progress(
    store: Any, tmp_path: Path, cloud_env: dict[str, str]
) -> None:
    src = _random_file(tmp_path / "input.bin", 5 * MIB + 3)
    container = f"{RUN}-plain"
    events: list[Event] = []
    done = sparkstack.put_file(src, container, ODD_NAME, cloud="devcloud", report=events.append)
    assert done.object.size == src.stat().st_size and not done.object.large
    assert "ETag" in done.checked and done.object.etag == done.md5
    steps = [e for e in events if e.phase == "put" and e.kind == "step"]
    assert len(steps) >= 2 and steps[-1].completed == steps[-1].total == 5
    assert "MB/s" in steps[0].text and "s left" in steps[0].text
    assert _names(store, container) == [ODD_NAME]

    out = tmp_path / "output.bin"
    events.clear()
    got = sparkstack.get_file(container, ODD_NAME, out, cloud="devcloud", report=events.append)
    assert out.read_bytes() == src.read_bytes() and got.md5 == done.md5
    assert "ETag" in got.checked
    assert [e.completed for e in events if e.kind == "step"][-1] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.bin", "output.bin"]

    listed = _cli(cloud_env, "ls", container, "dir/", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["size"]) for r in rows] == [(ODD_NAME, 5 * MIB + 3)]
    table = _cli(cloud_env, "ls", container)
    assert ODD_NAME in table.stdout  # as text: not read as markup
    assert container in {c.name for c in sparkstack.list_containers("devcloud")}


def test_a_large_object_round_trip_and_its_replacement_leave_no_stale_segments(
    store: Any, tmp_path: Path, cloud_env: dict[str, str]
) -> None:
    src = _random_file(tmp_path / "big.bin", 3 * MIB + MIB // 2)
    container = f"{RUN}-slo"
    put = _cli(cloud_env, "put", str(src), f"{container}/x/", "--segment-size", "1MiB")
    assert put.returncode == 0, put.stderr
    assert "large object, 4 segments" in put.stdout and "x/big.bin" in put.stdout
    head = store.get_object_metadata("x/big.bin", container)
    assert head.is_static_large_object and int(head.content_length) == src.stat().st_size
    first = _names(store, f"{container}_segments")
    assert len(first) == 4

    out = tmp_path / "got.bin"
    got = sparkstack.get_file(container, "x/big.bin", out, cloud="devcloud")
    assert out.read_bytes() == src.read_bytes() and "MD5 record" in got.checked
    into = tmp_path / "into"
    into.mkdir()
    cli = _cli(cloud_env, "get", f"{container}/x/big.bin", str(into), "-o", "json")
    shown = json.loads(cli.stdout)
    assert shown["file"] == str(into / "big.bin") and shown["large"] and shown["md5"] == got.md5
    assert (into / "big.bin").read_bytes() == src.read_bytes()

    again = sparkstack.put_file(src, container, "x/big.bin", segment_size=MIB, cloud="devcloud")
    assert again.segments == 4
    second = _names(store, f"{container}_segments")
    assert len(second) == 4 and not set(first) & set(second)  # the old ones are gone

    odd = sparkstack.put_file(src, container, ODD_NAME, segment_size=MIB, cloud="devcloud")
    assert odd.object.large and odd.object.name == ODD_NAME
    sparkstack.get_file(container, ODD_NAME, out, force=True, cloud="devcloud")
    assert out.read_bytes() == src.read_bytes()


def test_missing_objects_and_containers_are_clear_errors(
    store: Any, tmp_path: Path, cloud_env: dict[str, str]
) -> None:
    container = f"{RUN}-missing"
    with pytest.raises(NotFoundError, match=r"no container 'tdata-.*-missing'"):
        sparkstack.list_objects(container, cloud="devcloud")
    src = _random_file(tmp_path / "small.bin", 1000)
    sparkstack.put_file(src, container, cloud="devcloud")
    with pytest.raises(NotFoundError, match=r"no object 'nope\.bin' in container"):
        sparkstack.get_file(container, "nope.bin", tmp_path / "nope.bin", cloud="devcloud")
    assert not (tmp_path / "nope.bin").exists()
    got = _cli(cloud_env, "get", f"{container}/nope.bin", str(tmp_path))
    assert got.returncode == 3 and got.stderr.startswith("error: no object 'nope.bin'")
    assert len(got.stderr.strip().splitlines()) == 1

    existing = tmp_path / "existing.bin"
    existing.write_bytes(b"mine")
    with pytest.raises(UsageError, match="exists; pass --force"):
        sparkstack.get_file(container, "small.bin", existing, cloud="devcloud")
    assert existing.read_bytes() == b"mine"
    sparkstack.get_file(container, "small.bin", existing, force=True, cloud="devcloud")
    assert existing.read_bytes() == src.read_bytes()


def _interrupt_at_half(event: Event) -> None:
    if event.kind == "step" and event.total and (event.completed or 0) * 2 >= event.total:
        raise KeyboardInterrupt


def test_an_upload_interrupted_halfway_leaves_nothing(store: Any, tmp_path: Path) -> None:
    src = _random_file(tmp_path / "half.bin", 6 * MIB)
    container = f"{RUN}-half"  # made by the put: removed with the rest
    with pytest.raises(Interrupted, match=r"partial upload of 'half\.bin' was removed"):
        sparkstack.put_file(
            src, container, segment_size=MIB, cloud="devcloud", report=_interrupt_at_half
        )
    assert not {container, f"{container}_segments"} & _containers(store)

    kept = f"{RUN}-kept"  # there before: stays, empty
    store.create_container(kept)
    with pytest.raises(Interrupted):
        sparkstack.put_file(src, kept, cloud="devcloud", report=_interrupt_at_half)
    assert _names(store, kept) == [] and f"{kept}_segments" not in _containers(store)


def test_a_download_interrupted_halfway_leaves_no_file(store: Any, tmp_path: Path) -> None:
    src = _random_file(tmp_path / "src.bin", 4 * MIB)
    container = f"{RUN}-dl"
    sparkstack.put_file(src, container, cloud="devcloud")
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(Interrupted, match="no part of"):
        sparkstack.get_file(container, "src.bin", into, cloud="devcloud", report=_interrupt_at_half)
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    ("container", "name", "message"),
    [
        ("a/b", "x", "has no '/'"),
        ("c" * 257, "x", "1 to 256 bytes"),
        ("", "x", "1 to 256 bytes"),
        ("ok", "line\nbreak", "newlines"),
        ("ok", "nul\x00", "newlines"),
        ("ok", "é" * 513, "1 to 1024 bytes"),
        ("bell\x07", "x", "newlines"),
    ],
)
def test_hostile_names_are_refused_before_any_call(
    tmp_path: Path, container: str, name: str, message: str
) -> None:
    src = _random_file(tmp_path / "f.bin", 10)
    with pytest.raises(UsageError, match=message):  # an unknown cloud: no call was made
        sparkstack.put_file(src, container, name, cloud="nosuchcloud")
    with pytest.raises(UsageError, match=message):
        sparkstack.get_file(container, name, tmp_path / "out", cloud="nosuchcloud")


def test_bad_arguments_are_one_line_before_any_call(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no file"):
        sparkstack.put_file(tmp_path / "missing", "c", cloud="nosuchcloud")
    with pytest.raises(UsageError, match="no directory"):
        sparkstack.get_file("c", "o", tmp_path / "no" / "where", cloud="nosuchcloud")
    env = {**os.environ}
    bad = subprocess.run(
        [sys.executable, "-m", "sparkstack", "data", "put", str(tmp_path), "c", "--segment-size",
         "lots", "--cloud", "nosuchcloud"], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "a size is a positive number" in bad.stderr


def test_a_cloud_without_object_storage_is_told_so(
    swift: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The devcloud's credentials in a region whose catalog has no object-store."""
    clouds = yaml.safe_load(swift.clouds_yaml.read_text())["clouds"]
    entry = {**clouds[swift.cloud], "region_name": "NoSwiftHere"}
    config = tmp_path / "clouds.yaml"
    config.write_text(yaml.safe_dump({"clouds": {"tdata-noswift": entry}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(config))
    with pytest.raises(CloudError, match="has no object storage"):
        sparkstack.list_containers("tdata-noswift")
    with pytest.raises(CloudError, match="has no object storage"):
        sparkstack.put_file(_random_file(tmp_path / "f", 10), "c", cloud="tdata-noswift")


def test_an_upload_the_api_refuses_at_its_last_step_leaves_nothing(
    store: Any, tmp_path: Path
) -> None:
    """Swift's container quota (100 bytes) lets the segments into ``<container>_segments`` and
    refuses the manifest: the segments, and the segments' container the put made, are removed;
    the container that was there before stays, empty. A plain object is refused at once."""
    src = _random_file(tmp_path / "quota.bin", 4 * MIB)
    container = f"{RUN}-quota"
    store.create_container(container)
    store.post(quote(container), headers={"X-Container-Meta-Quota-Bytes": "100"})
    with pytest.raises(QuotaError, match=r"manifest of .*quota\.bin.*larger quota"):
        sparkstack.put_file(src, container, segment_size=MIB, cloud="devcloud")
    assert _names(store, container) == [] and f"{container}_segments" not in _containers(store)
    with pytest.raises(QuotaError):
        sparkstack.put_file(src, container, cloud="devcloud")
    assert _names(store, container) == []


def test_ctrl_c_during_a_cli_put_leaves_nothing(
    store: Any, tmp_path: Path, cloud_env: dict[str, str]
) -> None:
    """A real SIGINT to ``sparkstack data put`` once its progress passes 3 of 8 MiB."""
    src = _random_file(tmp_path / "sigint.bin", 8 * MIB)
    container = f"{RUN}-sigint"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "data", "put", str(src), container,
         "--segment-size", "1MiB", "--cloud", "devcloud"],
        env=cloud_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("sparkstack: put 3/8"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "partial upload of 'sigint.bin' was removed" in rest
    assert not {container, f"{container}_segments"} & _containers(store)
