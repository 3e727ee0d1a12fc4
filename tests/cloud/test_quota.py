"""``sparkstack quota`` on the real devcloud: a shape's needs against the project's quotas, per
resource, with nothing created; a shape that does not fit names the resource short."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from helpers import one_error_line

pytestmark = [pytest.mark.devcloud, pytest.mark.usefixtures("unchanged_cloud")]


def quota(env: dict[str, str], *args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "sparkstack", "quota", "--cloud", "devcloud", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_shape_that_fits_lists_every_resource(cloud_env: dict[str, str], admin: Any) -> None:
    done = quota(cloud_env, "--workers", "2", "--hdfs", "--output", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    needs = {n["resource"]: n for n in data["needs"]}
    assert data["fits"] and data["problems"] == []
    assert needs["instances"]["need"] == 3 and needs["security_groups"]["need"] == 1
    project = admin.identity.find_project("demo")
    limits = admin.compute.get_quota_set(project.id, usage=True)
    assert needs["instances"]["limit"] == limits.instances
    assert needs["instances"]["used"] == int(limits.usage.get("instances", 0))


def test_a_shape_that_does_not_fit_names_the_resource_short(cloud_env: dict[str, str]) -> None:
    done = quota(cloud_env, "--workers", "400")
    assert done.returncode == 3, done.stderr
    assert one_error_line(done.stderr)
    assert "quota instances: need 401" in done.stderr, done.stderr
    assert "short" in done.stdout and "instances" in done.stdout  # the table came first


def test_a_flavor_that_does_not_exist_is_named(cloud_env: dict[str, str]) -> None:
    done = quota(cloud_env, "--worker-flavor", "m1.smal")
    assert done.returncode == 3 and "did you mean 'm1.small'" in done.stderr, done.stderr
