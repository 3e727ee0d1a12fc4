"""`up --object-storage`: a real Swift in the devcloud, through the Swift API and the S3 API.

The module's fixture installs Swift (idempotent) and calls ``up(object_storage=True)`` on the
session's devcloud, as the session's fixture did: on a devcloud that ran without Swift (the
demo's) that first call was the add, timed here when it is this one. Swift then stays (the
devcloud may be shared; ``down`` stops it with the rest). The Swift API is driven through
openstacksdk as the demo member; the S3 API through boto3, which is in Swift's venv (not in
sparkstack's), with EC2 credentials the member made in Keystone. Prints the figures: time of
the add, each Swift process's memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from sparkstack import devcloud as dc
from sparkstack.cli.devcloud import app
from sparkstack.devcloud import object_storage, process
from sparkstack.devcloud.config import HOST, SWIFT_PORTS

pytestmark = pytest.mark.devcloud

SWIFT_SERVICES = ["memcached", "swift-account", "swift-container", "swift-object", "swift-proxy"]

# run with Swift's venv python: boto3 against the catalog's s3 endpoint, as the member's EC2 key
S3_SCRIPT = r"""
import hashlib, json, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

def client(secret):
    return boto3.client(
        "s3", endpoint_url=os.environ["S3_URL"], region_name=os.environ["S3_REGION"],
        aws_access_key_id=os.environ["S3_ACCESS"], aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}))

s3 = client(os.environ["S3_SECRET"])
bucket, key = os.environ["S3_BUCKET"], "s3/put.bin"  # the bucket: a container made through Swift
body = os.urandom(1024 * 1024 + 7)
s3.put_object(Bucket=bucket, Key=key, Body=body)
got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
swift_made = s3.get_object(Bucket=bucket, Key="swift/made.txt")["Body"].read()
listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
try:
    client("not-the-secret").list_buckets()
    refused = ""
except ClientError as exc:
    refused = exc.response["Error"]["Code"]
made = bucket + "-s3"  # a bucket made and removed through S3
s3.create_bucket(Bucket=made)
s3.put_object(Bucket=made, Key="k", Body=b"v")
made_ok = s3.get_object(Bucket=made, Key="k")["Body"].read() == b"v"
s3.delete_object(Bucket=made, Key="k")
s3.delete_bucket(Bucket=made)
json.dump({"same": got == body, "made_ok": made_ok, "sha256": hashlib.sha256(body).hexdigest(),
           "swift_made": swift_made.decode(), "listed": listed,
           "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
           "wrong_secret": refused}, sys.stdout)
"""


@pytest.fixture(scope="module")
def swift(devcloud: Any) -> Iterator[dc.UpResult]:
    dc.install(devcloud.cfg, object_storage=True)
    result = dc.up(devcloud.cfg, object_storage=True)
    if result.object_storage_seconds is not None:
        how = "added to the running devcloud" if result.already_running else "started"
        print(f"\nFIGURE up --object-storage: Swift {how} in {result.object_storage_seconds:.1f}s")
    yield result


def test_up_object_storage_runs_swift_and_status_lists_it(
    swift: dc.UpResult, devcloud: Any
) -> None:
    assert swift.object_storage
    states = {s.name: s for s in dc.status(devcloud.cfg)}
    assert all(states[name].healthy for name in SWIFT_SERVICES), [
        (n, states[n].state) for n in SWIFT_SERVICES if n in states
    ]
    for name in SWIFT_SERVICES:
        rss = process.rss_bytes(states[name].pid or 0)
        print(f"FIGURE {name} RSS {rss / 2**20:.0f} MiB")
    # loopback only, on the ports the devcloud owns
    for name, port in SWIFT_PORTS.items():
        assert process.tcp_open(HOST, port), name
    out = CliRunner().invoke(
        app, ["status", "-o", "json", "--data-dir", str(devcloud.cfg.data_dir)]
    )
    listed = {row["service"]: row["state"] for row in json.loads(out.stdout)}
    assert all(listed[name] == "healthy" for name in SWIFT_SERVICES)
    # a second up asks for nothing new: nothing is started, Swift keeps running
    again = dc.up(devcloud.cfg, object_storage=True)
    assert again.already_running and again.object_storage and again.object_storage_seconds is None
    assert {s.name: s.pid for s in dc.status(devcloud.cfg)}["swift-proxy"] == states[
        "swift-proxy"
    ].pid


def test_swift_and_s3_are_in_the_catalog(swift: dc.UpResult, devcloud: Any) -> None:
    conn = devcloud.connect()
    project = conn.current_project_id
    root = devcloud.cfg.public_url("swift-proxy", devcloud.data_plane)  # where servers reach it
    assert conn.endpoint_for("object-store") == f"{root}/v1/AUTH_{project}"
    assert conn.endpoint_for("s3") == root
    admin = devcloud.connect(admin=True)
    types = {s.type: s.name for s in admin.identity.services()}
    assert types["object-store"] == "swift" and types["s3"] == "swift-s3"
    assert admin.identity.find_role("ResellerAdmin") is not None


def test_swift_api_5_mib_round_trip(swift: dc.UpResult, devcloud: Any) -> None:
    conn = devcloud.connect()
    container = f"ssdc-test-{uuid.uuid4().hex[:8]}"
    data = os.urandom(5 * 1024 * 1024)
    conn.object_store.create_container(name=container)
    try:
        conn.object_store.upload_object(container=container, name="dir/blob.bin", data=data)
        got = conn.object_store.download_object("dir/blob.bin", container=container)
        assert got == data  # byte for byte
        head = conn.object_store.get_object_metadata("dir/blob.bin", container=container)
        assert head.etag == hashlib.md5(data).hexdigest()
        objects = {o.name: o.content_length for o in conn.object_store.objects(container)}
        assert objects == {"dir/blob.bin": len(data)}
        assert container in {c.name for c in conn.object_store.containers()}
    finally:
        for obj in conn.object_store.objects(container):
            conn.object_store.delete_object(obj, container=container, ignore_missing=True)
        conn.object_store.delete_container(container, ignore_missing=True)


def test_s3_api_with_the_members_ec2_credentials(swift: dc.UpResult, devcloud: Any) -> None:
    conn = devcloud.connect()
    access, secret = uuid.uuid4().hex, uuid.uuid4().hex
    # what `openstack ec2 credentials create` does, as the member itself
    credential = conn.identity.create_credential(
        type="ec2",
        user_id=conn.current_user_id,
        project_id=conn.current_project_id,
        blob=json.dumps({"access": access, "secret": secret}),
    )
    bucket = f"ssdc-s3-{uuid.uuid4().hex[:8]}"
    try:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "S3_URL": conn.endpoint_for("s3"),
            "S3_REGION": object_storage.REGION,
            "S3_ACCESS": access,
            "S3_SECRET": secret,
            "S3_BUCKET": bucket,
        }
        # the bucket is the member's Swift container: an object put through the Swift API first
        conn.object_store.create_container(name=bucket)
        conn.object_store.upload_object(container=bucket, name="swift/made.txt", data=b"via swift")
        run = subprocess.run(
            [str(devcloud.cfg.swift_bin / "python"), "-c", S3_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        result = json.loads(run.stdout)
        assert result["same"], "GetObject returned other bytes than PutObject sent"
        assert result["swift_made"] == "via swift"
        assert sorted(result["listed"]) == ["s3/put.bin", "swift/made.txt"]
        assert result["made_ok"]
        assert bucket in result["buckets"] and f"{bucket}-s3" not in result["buckets"]
        assert result["wrong_secret"] in ("SignatureDoesNotMatch", "AccessDenied")
        # and what S3 put, Swift reads
        via_swift = conn.object_store.download_object("s3/put.bin", container=bucket)
        assert hashlib.sha256(via_swift).hexdigest() == result["sha256"]
    finally:
        for obj in conn.object_store.objects(bucket):
            conn.object_store.delete_object(obj, container=bucket, ignore_missing=True)
        conn.object_store.delete_container(bucket, ignore_missing=True)
        conn.identity.delete_credential(credential, ignore_missing=True)
