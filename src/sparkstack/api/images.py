"""``image upload``, ``image bake`` and ``image list``: the images clusters boot from.

Every argument is checked before the network: the file (a regular file, readable), the name
(free in the project, so that ``launch --image NAME`` is never ambiguous), the disk format
(given, or told by the file's suffix).

A bake is a launch of a one-server cluster ``bake-<name>`` that stops after the software's
install: the same preflight, provisioning, SSH and install steps (so the image holds exactly
what a launch would put there), then the node is cleaned, stopped and snapshotted, and the
cluster is destroyed, found by its tags, whatever happened (a failure or Ctrl-C too).
"""

from __future__ import annotations

import re
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from sparkstack import validation
from sparkstack.api import _sync
from sparkstack.api.deploy import bake_on
from sparkstack.api.lifecycle import (
    add_note,
    new_cluster_access,
    preflight,
    provision_new,
    remove_cluster,
    rolled_back,
)
from sparkstack.cloud import images, transfer
from sparkstack.cloud.concurrency import sigint_ignored
from sparkstack.cloud.connection import Cloud, connect
from sparkstack.cloud.images import ImageInfo
from sparkstack.cloud.power import stop_servers
from sparkstack.cluster import Role
from sparkstack.errors import Interrupted, SparkstackError, UsageError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.services.tarball import TarballService
from sparkstack.spec import ClusterSpec, load_spec

#: Disk formats a file's suffix tells.
SUFFIXES = {".qcow2": "qcow2", ".img": "raw", ".raw": "raw", ".iso": "iso", ".vmdk": "vmdk",
            ".vdi": "vdi", ".vhd": "vhd", ".vhdx": "vhdx"}  # fmt: skip


def _disk_format(file: Path, given: str | None) -> str:
    if given is not None:
        if given not in images.DISK_FORMATS:
            raise UsageError(
                f"--disk-format {validation.shown(given)}: one of {', '.join(images.DISK_FORMATS)}"
            )
        return given
    found = SUFFIXES.get(file.suffix.lower())
    if found is None:
        raise UsageError(f"{file.name}: give --disk-format (the file's suffix does not tell it)")
    return found


def _check_free(session: Cloud, name: str) -> None:
    if images.name_taken(session, name):
        raise UsageError(
            f"an image named {validation.shown(name)} exists already; pick another name (launch "
            "--image would be ambiguous)"
        )


def upload_image(
    file: Path,
    name: str,
    *,
    disk_format: str | None = None,
    cloud: str | None = None,
    report: Reporter = silent,
) -> ImageInfo:
    """Upload ``file`` as image ``name`` with progress; Glance's SHA-512 must be the file's.
    A failed or interrupted upload leaves no image."""
    try:
        path = validation.existing_file(file)
        validation.cloud_text(name)
    except ValueError as exc:
        raise UsageError(f"image upload: {exc}") from None
    fmt = _disk_format(path, disk_format)
    session = connect(cloud)
    _check_free(session, name)
    started = time.monotonic()
    size = path.stat().st_size
    with Phase(report, "upload", total=max(1, size >> 20), text=f"uploading {path.name}") as phase:

        def progress(done: int, total: int) -> None:
            phase.set_progress(done >> 20, transfer.rate_text(done, total, started))

        try:
            return images.upload(session, path, name, fmt, progress)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; the half-uploaded image {name} was deleted") from None


def list_images(cloud: str | None = None) -> list[ImageInfo]:
    """The images the project can boot from, newest first."""
    return images.usable_images(connect(cloud))


#: The group of a bake's one server.
BAKE_GROUP = "bake"
_NOT_IN_NAMES = re.compile(r"[^a-z0-9-]+")


def bake_cluster(image: str) -> str:
    """The temporary cluster a bake of ``image`` runs as: ``bake-<image>`` made a cluster name."""
    cleaned = _NOT_IN_NAMES.sub("-", image.lower()).strip("-")
    return validation.check_cluster_name(f"bake-{cleaned}"[:40].rstrip("-"))


def bake_spec(
    image: str,
    *,
    from_image: str | None = None,
    flavor: str | None = None,
    network: str | None = None,
    ssh_user: str | None = None,
    software: dict[str, Any] | None = None,
    hdfs: bool = False,
    zookeeper: bool = False,
    cloud: str | None = None,
) -> ClusterSpec:
    """The one-server cluster that bakes ``image``: every role whose software is asked for
    on one node (so that every tarball is installed there), Spark always. ``software`` holds
    the ``spark``, ``hdfs`` and ``zookeeper`` sections of a cluster file (version, tarball...)."""
    roles = [Role.SPARK_MASTER, Role.SPARK_WORKER, *([Role.ZOOKEEPER] if zookeeper else [])]
    chosen = {k: v for k, v in (software or {}).items() if k == "spark"}
    if hdfs:  # one DataNode: a replication the spec accepts, never used
        chosen["hdfs"] = {**(software or {}).get("hdfs", {}), "enabled": True, "replication": 1}
    if zookeeper:
        chosen["zookeeper"] = (software or {}).get("zookeeper", {})
    overrides = {
        "name": bake_cluster(image),
        "cloud": cloud,
        "image": from_image,
        "ssh_user": ssh_user,
        "groups": {BAKE_GROUP: {"count": 1, "flavor": flavor, "roles": roles}},
        "network": {"name": network},
        **chosen,
    }
    return load_spec(overrides=overrides)


def bake_image(
    name: str,
    *,
    from_image: str | None = None,
    flavor: str | None = None,
    network: str | None = None,
    ssh_user: str | None = None,
    software: dict[str, Any] | None = None,
    hdfs: bool = False,
    zookeeper: bool = False,
    cloud: str | None = None,
    report: Reporter = silent,
) -> ImageInfo:
    """Bake image ``name``: boot one server of ``from_image``, install Java and the software
    (Spark; HDFS's Hadoop, ZooKeeper when asked) as a launch does, clean the node, stop it,
    snapshot it into an image that says what it holds, then delete the server and all else
    the bake made (also on a failure or Ctrl-C). An existing image ``name`` is refused first."""
    try:
        validation.cloud_text(name)
    except ValueError as exc:
        raise UsageError(f"image bake: {exc}") from None
    spec = bake_spec(
        name, from_image=from_image, flavor=flavor, network=network, ssh_user=ssh_user,
        software=software, hdfs=hdfs, zookeeper=zookeeper, cloud=cloud,
    )  # fmt: skip
    plan = preflight(spec, report)
    session = plan.cloud
    _check_free(session, name)
    software_held = {
        s.name: s.baked_record(plan.services.artifacts[s.name].sha512)
        for s in plan.services.services
        if isinstance(s, TarballService)
    }
    token = images.new_token()
    try:
        with rolled_back(session, spec.name, report, what="bake"):
            made = provision_new(plan, report)
            access, narrow = new_cluster_access(plan, made.cluster, made.host_keys, report)
            _sync.run(bake_on(made.cluster, access, plan.services, report, on_reached=narrow))
            with Phase(report, "stop", total=1, text="stopping the server") as phase:
                stop_servers(session, spec.name, on_progress=lambda n, _s: phase.set_progress(n))
            with Phase(report, "snapshot", text=f"snapshot into image {name}") as phase:
                server = made.cluster.nodes[0].server_id
                image = images.snapshot(session, server, name, software_held, token)
                phase.message(f"image {image.name} ({image.id}) active, {image.size} bytes")
    except BaseException:
        with sigint_ignored(), suppress(SparkstackError):  # the original error says more
            images.remove_unfinished(session, name, token)  # made by a request cut short
        raise
    try:
        with sigint_ignored():
            remove_cluster(session, spec.name, report, phase="teardown")
    except SparkstackError as exc:
        add_note(
            exc,
            f"image {name} is ready; `sparkstack destroy {spec.name}` removes what is left of "
            "the bake",
        )
        raise
    return image
