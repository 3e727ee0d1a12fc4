"""``image upload`` and ``image list`` on the devcloud's real Glance: a 100 MiB upload with
progress and a SHA-512 that matches Glance's; an upload interrupted halfway leaves no image;
bad arguments are refused before the network."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sparkstack
from sparkstack.errors import Interrupted, UsageError
from sparkstack.events import Event

pytestmark = [pytest.mark.devcloud]

MIB = 1 << 20


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "pt-image.raw"
    with path.open("wb") as out:
        for _ in range(100):
            out.write(os.urandom(MIB))
    return path


@pytest.fixture
def glance(member: Any, admin: Any) -> Iterator[Any]:
    """The member's image API; images named pt-img-* are deleted afterwards, whatever happened."""
    yield member.image
    for image in admin.image.images():
        if str(image.name or "").startswith("pt-img-"):
            admin.image.delete_image(image, ignore_missing=True)


def test_an_upload_reports_progress_and_its_sha512_is_glances(
    image_file: Path, glance: Any, cloud_env: dict[str, str]
) -> None:
    events: list[Event] = []
    image = sparkstack.upload_image(image_file, "pt-img-up", cloud="devcloud", report=events.append)
    local = hashlib.sha512(image_file.read_bytes()).hexdigest()
    assert image.status == "active" and image.size == 100 * MIB and image.sha512 == local
    found = glance.get_image(image.id)
    assert found.hash_algo == "sha512" and found.hash_value == local
    assert "sparkstack-uploaded" in (found.tags or [])
    steps = [e for e in events if e.phase == "upload" and e.kind == "step"]
    assert len(steps) >= 2 and steps[-1].completed == steps[-1].total == 100
    assert "MB/s" in steps[0].text and "s left" in steps[0].text
    listed = subprocess.run(
        [sys.executable, "-m", "sparkstack", "image", "list", "--cloud", "devcloud", "-o", "json"],
        env=cloud_env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    mine = next(i for i in json.loads(listed) if i["id"] == image.id)
    assert mine["origin"] == "uploaded" and mine["size"] == 100 * MIB


def test_an_upload_interrupted_halfway_leaves_no_image(image_file: Path, glance: Any) -> None:
    def interrupt(event: Event) -> None:
        if event.kind == "step" and (event.completed or 0) >= 50:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="the half-uploaded image pt-img-half was deleted"):
        sparkstack.upload_image(image_file, "pt-img-half", cloud="devcloud", report=interrupt)
    assert list(glance.images(name="pt-img-half")) == []


def test_bad_arguments_are_refused_before_the_network(
    image_file: Path, tmp_path: Path, glance: Any
) -> None:
    with pytest.raises(UsageError, match="--disk-format"):
        sparkstack.upload_image(image_file, "pt-img-x", disk_format="exe", cloud="nosuchcloud")
    odd = tmp_path / "disk.bin"
    odd.write_bytes(b"x")
    with pytest.raises(UsageError, match="give --disk-format"):
        sparkstack.upload_image(odd, "pt-img-x", cloud="nosuchcloud")
    with pytest.raises(UsageError, match="no file"):
        sparkstack.upload_image(tmp_path / "missing.raw", "pt-img-x", cloud="nosuchcloud")
    sparkstack.upload_image(odd, "pt-img-taken", disk_format="raw", cloud="devcloud")
    with pytest.raises(UsageError, match="exists already"):
        sparkstack.upload_image(odd, "pt-img-taken", disk_format="raw", cloud="devcloud")
