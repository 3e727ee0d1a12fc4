"""Keypair, server group and the servers themselves.

All servers of one role go in a single nova multi-create request (``min_count = max_count``),
and both roles are requested at once: nova schedules each request in one pass, which is what
makes a 20-node cluster as fast to boot as the cloud allows. Nova names the servers
``<base>-1 .. <base>-N``; a lone server is given the ``-1`` name directly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from openstack import exceptions as os_exc

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.preflight import Flavor
from sparkstack.cluster import Role
from sparkstack.spec import ServerGroupPolicy


def create_keypair(cloud: Cloud, cluster: str, public_key: str) -> str:
    """Import ``public_key`` as the cluster's keypair (its reserved name is replaced if left)."""
    name = naming.owned_name(cluster)
    compute = cloud.conn.compute
    with translate_errors("importing the keypair"):
        try:
            compute.create_keypair(name=name, public_key=public_key)
        except os_exc.ConflictException:
            compute.delete_keypair(name, ignore_missing=True)
            compute.create_keypair(name=name, public_key=public_key)
    return name


def create_server_group(cloud: Cloud, cluster: str, policy: ServerGroupPolicy) -> str | None:
    """A server group with ``policy``, or None when the policy is ``none``."""
    if policy is ServerGroupPolicy.NONE:
        return None
    with translate_errors("creating the server group"):
        group = cloud.conn.compute.create_server_group(
            name=naming.owned_name(cluster), policy=policy.value
        )
    return str(group.id)


@dataclass(frozen=True)
class RoleRequest:
    """One multi-create request: ``count`` servers of one role on one flavor."""

    role: Role
    count: int
    flavor: Flavor


@dataclass(frozen=True)
class BootOptions:
    """Everything the servers of a cluster share."""

    cluster: str
    image_id: str
    network_id: str
    security_group_ids: tuple[str, ...]
    key_name: str
    metadata: dict[str, str]
    availability_zone: str | None = None
    server_group_id: str | None = None
    boot_volume_gb: int | None = None


def server_request(options: BootOptions, request: RoleRequest) -> dict[str, Any]:
    """The attributes of one create_server call for ``request``."""
    base = naming.server_base_name(options.cluster, request.role)
    attrs: dict[str, Any] = {
        "name": base if request.count > 1 else f"{base}-1",
        "flavor_id": request.flavor.id,
        "networks": [{"uuid": options.network_id}],
        "security_groups": [{"name": sg} for sg in options.security_group_ids],
        "key_name": options.key_name,
        "metadata": {**options.metadata, naming.META_ROLE: request.role.value},
        "tags": naming.server_tags(options.cluster, request.role),
        "min_count": request.count,
        "max_count": request.count,
    }
    if options.boot_volume_gb:
        attrs["block_device_mapping"] = [
            {
                "boot_index": 0,
                "uuid": options.image_id,
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": options.boot_volume_gb,
                "delete_on_termination": True,
            }
        ]
    else:
        attrs["image_id"] = options.image_id
    if options.availability_zone:
        attrs["availability_zone"] = options.availability_zone
    if options.server_group_id:
        attrs["scheduler_hints"] = {"group": options.server_group_id}
    return attrs


def create_servers(cloud: Cloud, options: BootOptions, requests: list[RoleRequest]) -> None:
    """Send every role's multi-create request at once; waiting is separate (waiting.py)."""
    wanted = [r for r in requests if r.count > 0]

    def create(request: RoleRequest) -> None:
        with translate_errors(f"creating {request.count} {request.role.value} server(s)"):
            cloud.conn.compute.create_server(**server_request(options, request))

    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        list(pool.map(create, wanted))
