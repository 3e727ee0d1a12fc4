"""What a cluster on object storage needs from the cloud (S3 API): the endpoint and region
from the catalog, EC2 credentials made for the cluster, and the event log directory.

EC2 credentials cannot be tagged, so each one made for a cluster carries the cluster's name in
its blob (beside ``access`` and ``secret``, which Keystone and s3token read; they ignore the
rest): teardown finds them again by it, even when a launch was cut short before it recorded
the credential anywhere else. Only the current user's credentials in the current project are
looked at.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from keystoneauth1 import exceptions as ka_exc

from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.errors import CloudError, PreflightError

#: The keys in a credential's blob that name the cluster it was made for, and when (ISO 8601).
CLUSTER_KEY, CREATED_KEY = "sparkstack_cluster", "sparkstack_created"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    region: str


@dataclass(frozen=True)
class Ec2Credential:
    id: str
    access: str
    secret: str


def s3_endpoint(cloud: Cloud, service_type: str = "s3") -> S3Endpoint:
    """The catalog's public ``s3`` endpoint and its region, or a PreflightError."""
    conn = cloud.conn
    auth: Any = conn.session.auth
    try:
        with translate_errors("reading the service catalog"):
            data = auth.get_endpoint_data(
                conn.session, service_type=service_type, interface="public"
            )
    except CloudError as exc:
        if not isinstance(exc.__cause__, ka_exc.EndpointNotFound):
            raise
        data = None
    if data is None or not data.url:
        raise PreflightError(
            [
                f"object storage: the cloud's catalog has no public {service_type} endpoint "
                "(the S3 API of Swift or Ceph); ask the operator for it, or launch without "
                "--object-storage"
            ]
        )
    region = data.region_name or conn.config.get_region_name() or "RegionOne"
    return S3Endpoint(str(data.url).rstrip("/"), str(region))


def create_ec2_credential(cloud: Cloud, cluster: str) -> Ec2Credential:
    """A new EC2 credential of the current user in the current project, marked for ``cluster``."""
    access, secret = secrets.token_hex(16), secrets.token_hex(32)
    made_at = datetime.now(UTC).isoformat(timespec="seconds")
    blob = json.dumps(
        {"access": access, "secret": secret, CLUSTER_KEY: cluster, CREATED_KEY: made_at}
    )
    with translate_errors(f"creating EC2 credentials for cluster {cluster}"):
        made = _identity(cloud).create_credential(
            type="ec2", user_id=cloud.conn.current_user_id, project_id=cloud.project_id, blob=blob
        )
    return Ec2Credential(str(made.id), access, secret)


def _blob(credential: Any) -> dict[str, Any]:
    try:
        blob = json.loads(credential.blob or "")
    except (TypeError, ValueError):
        return {}
    return blob if isinstance(blob, dict) else {}


def owner_of(credential: Any) -> tuple[str, datetime | None] | None:
    """The cluster an EC2 credential was made for, and when (None: not one of sparkstack's)."""
    blob = _blob(credential)
    cluster = blob.get(CLUSTER_KEY)
    if not isinstance(cluster, str):
        return None
    try:
        return cluster, datetime.fromisoformat(str(blob.get(CREATED_KEY)))
    except ValueError:
        return cluster, None


def sparkstack_credentials(cloud: Cloud) -> list[Any]:
    """The EC2 credentials sparkstack made (the current user's, in this project)."""
    with translate_errors("listing your EC2 credentials"):
        found = _identity(cloud).credentials(type="ec2", user_id=cloud.conn.current_user_id)
        return [c for c in found if c.project_id == cloud.project_id and owner_of(c)]


def cluster_credentials(cloud: Cloud, cluster: str) -> list[Any]:
    """The EC2 credentials made for ``cluster`` (the current user's, in this project)."""
    return [c for c in sparkstack_credentials(cloud) if _blob(c).get(CLUSTER_KEY) == cluster]


def delete_credential(cloud: Cloud, credential: Any) -> None:
    _identity(cloud).delete_credential(credential, ignore_missing=True)


def _identity(cloud: Cloud) -> Any:
    """Keystone v3 (credentials have no v2 API)."""
    return cloud.conn.identity


def ensure_directory(cloud: Cloud, container: str, prefix: str) -> None:
    """The container, and an empty ``prefix/`` object that s3a reads as a directory (Spark's
    drivers and History Server refuse an event log directory that does not exist)."""
    store = cloud.conn.object_store
    with translate_errors(f"creating the event log directory in container {container}"):
        store.create_container(name=container)  # a PUT: an existing one stays as it is
        if prefix:  # openstacksdk's upload_object would drop the trailing slash
            store.put(
                f"{quote(container)}/{quote(prefix)}/",
                data=b"",
                headers={"Content-Type": "application/x-directory"},
            )
