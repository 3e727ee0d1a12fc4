"""Images in Glance: an upload with progress and checked hashes, and the project's usable images.

The file goes through :class:`~sparkstack.cloud.transfer.ProgressReader`, which counts and
hashes what Glance reads (one pass: the SHA-512 is ready when the upload ends, to compare with
Glance's ``os_hash_value``). Each upload carries a one-off token in its properties, so a
failed or interrupted one is found and deleted even before Glance has said its id.
"""

from __future__ import annotations

import hashlib
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
#: The property holding an upload's token (found again after a failure).
UPLOAD_TOKEN = "sparkstack_upload"
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


def usable_images(cloud: Cloud) -> list[ImageInfo]:
    """The images the project can boot from (active), newest first."""
    with translate_errors("listing images"):
        found = [image_info(i) for i in cloud.conn.image.images() if i.status == "active"]
    return sorted(found, key=lambda i: (i.created is None, i.created), reverse=True)


def _ours(cloud: Cloud, name: str, token: str) -> list[Any]:
    return [
        i
        for i in cloud.conn.image.images(name=name)
        if (i.properties or {}).get(UPLOAD_TOKEN) == token
        or getattr(i, UPLOAD_TOKEN, None) == token
    ]


def remove_upload(cloud: Cloud, name: str, token: str) -> int:
    """Delete what an upload made (its record, in whatever state); how many images."""
    with translate_errors(f"removing the half-uploaded image {name}"):
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
            remove_upload(cloud, name, token)
        raise
    finally:
        reader.close()
