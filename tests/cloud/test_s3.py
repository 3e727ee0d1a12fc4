"""The cloud side of object storage on the devcloud's Keystone and Swift: the S3 endpoint from
the catalog (and one line when there is none), EC2 credentials found again by the cluster's
name alone and removed by teardown, the event log directory marker s3a reads as a directory."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from helpers import cluster_servers
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.s3 import (
    cluster_credentials,
    create_ec2_credential,
    ensure_directory,
    s3_endpoint,
)
from sparkstack.cloud.teardown import teardown
from sparkstack.devcloud.spark_dist import build_spark_dist
from sparkstack.errors import PreflightError

pytestmark = pytest.mark.devcloud


@pytest.fixture
def cloud(devcloud: Any) -> Cloud:
    return Cloud(devcloud.connect(), devcloud.cloud)


def test_the_s3_endpoint_and_region_come_from_the_catalog(cloud: Cloud) -> None:
    found = s3_endpoint(cloud)
    assert urlsplit(found.url).scheme in ("http", "https") and found.region == "RegionOne"
    with pytest.raises(PreflightError, match="no public no-such-s3 endpoint"):
        s3_endpoint(cloud, "no-such-s3")


def test_a_cluster_credential_is_found_by_name_and_teardown_deletes_it(cloud: Cloud) -> None:
    name, other = f"pt-s3-{uuid.uuid4().hex[:6]}", f"pt-s3o-{uuid.uuid4().hex[:6]}"
    made = create_ec2_credential(cloud, name)
    kept = create_ec2_credential(cloud, other)
    try:
        found = cluster_credentials(cloud, name)
        assert [c.id for c in found] == [made.id]
        assert json.loads(found[0].blob)["access"] == made.access
        assert teardown(cloud, name)["ec2_credentials"] == 1
        assert cluster_credentials(cloud, name) == []
        assert [c.id for c in cluster_credentials(cloud, other)] == [kept.id]  # not another's
    finally:
        teardown(cloud, name)
        teardown(cloud, other)


def test_the_event_log_directory_is_a_marker_object_with_its_slash(cloud: Cloud) -> None:
    container = f"pt-s3-{uuid.uuid4().hex[:6]}"
    store = cloud.conn.object_store
    try:
        ensure_directory(cloud, container, "spark/events")
        ensure_directory(cloud, container, "spark/events")  # twice: still one
        assert [o.name for o in store.objects(container)] == ["spark/events/"]
    finally:
        store.delete(f"{container}/spark/events/")
        store.delete_container(container, ignore_missing=True)


@pytest.mark.e2e
def test_ctrl_c_during_a_launch_with_object_storage_leaves_no_credential(
    cloud: Cloud, cloud_env: dict[str, str], member: Any
) -> None:
    """Ctrl-C once the servers are asked for (the credential exists by then): exit 130, one
    line, and neither servers nor the credential left."""
    name = f"pt-s3i-{uuid.uuid4().hex[:6]}"
    tarball = build_spark_dist()
    process = subprocess.Popen(
        [sys.executable, "-m", "sparkstack", "launch", name, "--object-storage",
         "--spark-tarball", str(tarball.tarball), "--cloud", "devcloud"],
        env=cloud_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if re.search(r"servers .*create requests sent", line):
                made = cluster_credentials(cloud, name)
                process.send_signal(signal.SIGINT)
                break
        _, rest = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
        teardown(cloud, name)  # whatever the outcome, nothing of this test stays
    stderr = "".join(lines) + (rest or "")
    assert len(made) == 1, stderr
    assert process.returncode == 130, stderr
    assert "everything this launch created has been removed" in stderr
    assert cluster_credentials(cloud, name) == []
    assert cluster_servers(member, name) == []
