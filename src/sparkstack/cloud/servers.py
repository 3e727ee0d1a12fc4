"""Keypair, server group and the servers themselves.

Every server is created by its own request, with its name and index given explicitly
(``<cluster>-<group>-<index>``, the index also in its metadata): names never depend on nova's
multi-create naming template, and a later batch continues the numbering. The requests go out
concurrently; a quota or scheduling failure at server k stops the rest, and the caller's
rollback removes what was made.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.cloud.layout import GroupRequest
from sparkstack.cloud.preflight import Plan
from sparkstack.cloud.waiting import wait_until_placed
from sparkstack.spec import ServerGroupPolicy


def create_keypair(cloud: Cloud, cluster: str, public_key: str) -> str:
    """Import ``public_key`` as the cluster's keypair under its reserved name."""
    name = naming.owned_name(cluster)
    with translate_errors("importing the keypair"):
        cloud.conn.compute.create_keypair(name=name, public_key=public_key)
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
class BootOptions:
    """Everything the servers of a cluster share."""

    cluster: str
    network_id: str
    security_group_ids: tuple[str, ...]
    key_name: str
    metadata: dict[str, str]
    availability_zone: str | None = None
    server_group_id: str | None = None
    boot_volume_gb: int | None = None
    #: Create the servers one at a time (a hard anti-affinity group: see create_servers).
    one_at_a_time: bool = False


def server_request(
    options: BootOptions, group: GroupRequest, plan: Plan, index: int
) -> dict[str, Any]:
    """The attributes of the create_server call for node ``index`` of ``group``."""
    image_id = plan.images[group.group]
    attrs: dict[str, Any] = {
        "name": naming.server_name(options.cluster, group.group, index),
        "flavor_id": plan.flavors[group.group].id,
        "networks": [{"uuid": options.network_id}],
        "security_groups": [{"name": sg} for sg in options.security_group_ids],
        "key_name": options.key_name,
        "metadata": {
            **options.metadata,
            **naming.node_metadata(group.group, index, list(group.roles)),
        },
        "tags": naming.resource_tags(options.cluster),
    }
    if options.boot_volume_gb:
        attrs["block_device_mapping"] = [
            {
                "boot_index": 0,
                "uuid": image_id,
                "source_type": "image",
                "destination_type": "volume",
                "volume_size": options.boot_volume_gb,
                "delete_on_termination": True,
            }
        ]
    else:
        attrs["image_id"] = image_id
    if options.availability_zone:
        attrs["availability_zone"] = options.availability_zone
    if options.server_group_id:
        attrs["scheduler_hints"] = {"group": options.server_group_id}
    return attrs


def create_servers(
    cloud: Cloud, options: BootOptions, groups: list[GroupRequest], plan: Plan
) -> None:
    """Send one create request per server, all at once; waiting is separate (waiting.py).

    In a hard anti-affinity group they go one at a time, each once its host has claimed the one
    before: Nova schedules concurrent requests of one group without seeing each other's host,
    and the host's late check then fails both (seen with two hosts: both went to one, both were
    rescheduled to the other, one failed for good).
    """

    def create(group: GroupRequest, index: int) -> Any:
        return cloud.conn.compute.create_server(**server_request(options, group, plan, index))

    calls = {
        naming.server_name(options.cluster, g.group, i): functools.partial(create, g, i)
        for g in groups
        for i in g.indexes
    }
    if not options.one_at_a_time:
        concurrently(calls, "creating server")
        return
    for name, call in calls.items():
        made = concurrently({name: call}, "creating server")  # a Ctrl-C waits for the request
        wait_until_placed(cloud, str(made[name].id))


def set_metadata(cloud: Cloud, server_ids: list[str], items: dict[str, str]) -> None:
    """Add ``items`` to the metadata of each server (e.g. the manifest's digest)."""

    def record(server_id: str) -> None:
        cloud.conn.compute.set_server_metadata(server_id, **items)

    concurrently(
        {sid: functools.partial(record, sid) for sid in server_ids}, "recording server metadata"
    )
