"""Images in Glance: an upload with progress and checked hashes, and the project's usable images.

The file goes through :class:`~sparkstack.cloud.transfer.ProgressReader`, which counts and
hashes what Glance reads (one pass: the SHA-512 is ready when the upload ends, to compare with
Glance's ``os_hash_value``). Each upload carries a one-off token in its properties, so a
failed or interrupted one is found and deleted even before Glance has said its id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import sigint_ignored
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.transfer import ProgressReader
from sparkstack.errors import CloudError

#: Tags sparkstack puts on images it uploads or bakes.
UPLOADED = "sparkstack-uploaded"
BAKED = "sparkstack-baked"
#: The property holding an upload's (or a bake's) token (found again after a failure).
UPLOAD_TOKEN = "sparkstack_upload"
#: Properties of a baked image: ``true``, and JSON of {service: {version, sha512, install_dir}}.
BAKED_FLAG = "sparkstack_baked"
BAKED_SOFTWARE = "sparkstack_software"
DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "aki", "ari", "ami")


@dataclass(frozen=True)
class ImageInfo:
    """An image as ``image list`` shows it."""

    id: str
    name: str
    status: str
    size: int
    disk_format: str
    created: datetime | None
    visibility: str
    origin: str  # "uploaded" or "baked" by sparkstack, else ""
    sha512: str = ""


def image_info(image: Any) -> ImageInfo:
    tags = set(image.tags or [])
    origin = "baked" if BAKED in tags else "uploaded" if UPLOADED in tags else ""
    created = None
    if image.created_at:
        try:
            created = datetime.fromisoformat(str(image.created_at).replace("Z", "+00:00"))
        except ValueError:
            created = None
    return ImageInfo(
        id=str(image.id),
        name=str(image.name or ""),
        status=str(image.status or ""),
        size=int(image.size or 0),
        disk_format=str(image.disk_format or ""),
        created=created,
        visibility=str(image.visibility or ""),
        origin=origin,
        sha512=str(image.hash_value or "") if image.hash_algo == "sha512" else "",
    )


def _property(image: Any, key: str) -> Any:
    return (image.properties or {}).get(key, getattr(image, key, None))


def baked_software(image: Any) -> dict[str, dict[str, str]]:
    """What a baked image says it holds, {service: {version, sha512, install_dir}}; {} for
    any other image (or a property that is not that shape: it is data from the cloud)."""
    if str(_property(image, BAKED_FLAG)).lower() != "true":
        return {}
    try:
        held = json.loads(str(_property(image, BAKED_SOFTWARE) or "{}"))
    except json.JSONDecodeError:
        return {}
    if not isinstance(held, dict):
        return {}
    return {
        str(name): {str(k): str(v) for k, v in record.items() if isinstance(v, str)}
        for name, record in held.items()
        if isinstance(record, dict)
    }


def name_taken(cloud: Cloud, name: str) -> bool:
    """Whether an image of the project already has ``name`` (launch --image would be
    ambiguous with a second one)."""
    with translate_errors("listing images"):
        return any(True for _ in cloud.conn.image.images(name=name))


def usable_images(cloud: Cloud) -> list[ImageInfo]:
    """The images the project can boot from (active), newest first."""
    with translate_errors("listing images"):
        found = [image_info(i) for i in cloud.conn.image.images() if i.status == "active"]
    return sorted(found, key=lambda i: (i.created is None, i.created), reverse=True)


def _ours(cloud: Cloud, name: str, token: str) -> list[Any]:
    return [i for i in cloud.conn.image.images(name=name) if _property(i, UPLOAD_TOKEN) == token]


def remove_unfinished(cloud: Cloud, name: str, token: str) -> int:
    """Delete what an upload or a bake made (its record, in whatever state); how many images."""
    with translate_errors(f"removing the unfinished image {name}"):
        found = _ours(cloud, name, token)
        for image in found:
            cloud.conn.image.delete_image(image, ignore_missing=True)
    return len(found)


def upload(
    cloud: Cloud,
    path: Path,
    name: str,
    disk_format: str,
    on_progress: Callable[[int, int], None],
    timeout: float = 3600,
) -> ImageInfo:
    """Upload ``path`` as image ``name``, wait until it is active and check that Glance's
    SHA-512 is the file's. Any failure or Ctrl-C deletes what was made."""
    token = secrets.token_hex(8)
    sha512 = hashlib.sha512()
    reader = ProgressReader(path, on_progress, [sha512])
    glance: Any = cloud.conn.image  # typed as v1 or v2; v1's data is bytes, v2 takes a file
    try:
        with translate_errors(f"uploading {path.name}"):
            glance.create_image(
                name,
                data=reader,
                disk_format=disk_format,
                container_format="bare",
                tags=["sparkstack", UPLOADED, naming.version_tag()],
                meta={UPLOAD_TOKEN: token},
                allow_duplicates=True,
                wait=True,
                timeout=int(timeout),
                validate_checksum=False,
            )
        local = sha512.hexdigest()
        with translate_errors("reading the uploaded image"):
            found = _ours(cloud, name, token)
        if len(found) != 1:
            raise CloudError(f"image {name} is not listed after its upload")
        info = image_info(cloud.conn.image.get_image(found[0].id))
        if info.status != "active":
            raise CloudError(f"image {name} is {info.status} after its upload, not active")
        if info.sha512 and info.sha512 != local:
            raise CloudError(
                f"image {name}: Glance's SHA-512 {info.sha512[:16]}... is not the file's "
                f"{local[:16]}...: the upload was damaged; it has been deleted, upload again"
            )
        return ImageInfo(**{**info.__dict__, "sha512": local})
    except BaseException:
        with sigint_ignored():
            remove_unfinished(cloud, name, token)
        raise
    finally:
        reader.close()


def new_token() -> str:
    """A one-off mark for an image about to be made, so that it is found even before (or
    without) its id: an interrupted create request may still make it."""
    return secrets.token_hex(8)


def snapshot(
    cloud: Cloud,
    server_id: str,
    name: str,
    software: dict[str, dict[str, str]],
    token: str,
    timeout: float = 3600,
) -> ImageInfo:
    """Snapshot the (stopped) server into image ``name``, marked as baked with ``software``,
    tagged, active before it returns. Any failure or Ctrl-C deletes the image (found by
    ``token``, a one-off property: see :func:`new_token`)."""
    props = {BAKED_FLAG: "true", BAKED_SOFTWARE: json.dumps(software, sort_keys=True)}
    glance: Any = cloud.conn.image  # typed as v1 or v2; tags are v2's
    try:
        with translate_errors(f"snapshotting the server into image {name}"):
            made = cloud.conn.compute.create_server_image(
                server_id, name, metadata={UPLOAD_TOKEN: token}, wait=True, timeout=int(timeout)
            )
            # nova caps a snapshot's metadata values at 255 characters: the record goes to
            # Glance, which does not
            # added to the properties it has (a plain update_image would remove the others)
            image = glance.get_image(made.id)
            glance.update_image_properties(image, meta=props)
            for tag in ("sparkstack", BAKED, naming.version_tag()):
                glance.add_tag(image, tag)
            info = image_info(glance.get_image(image.id))
        if info.status != "active":
            raise CloudError(f"image {name} is {info.status} after the snapshot, not active")
        return info
    except BaseException:
        with sigint_ignored():
            remove_unfinished(cloud, name, token)
        raise
