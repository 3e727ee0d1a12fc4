"""Clusters and SSH access built on test hosts, as the cloud layer would hand them over."""

from __future__ import annotations

from pathlib import Path

from sparkstack.cluster import Cluster, Node, Role
from sparkstack.devcloud.testhosts import TestBed
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.hostkeys import HostKeyStore

#: What a small cloud flavor gives; every test host really sees the machine's CPUs and RAM.
VCPUS, RAM_MB = 2, 2048


def bed_cluster(bed: TestBed, name: str, workers: int | None = None, jump: bool = True) -> Cluster:
    """A Cluster as the cloud layer would read it: host 1 the master, the others workers.

    With ``jump``, the master has a "floating IP" (its own address), so workers are reached
    through it as on a cloud.
    """
    hosts = bed.hosts[: 1 + (len(bed.hosts) - 1 if workers is None else workers)]
    nodes = tuple(
        Node(
            name=h.name,
            group="master" if i == 0 else "worker",
            roles=frozenset({Role.SPARK_MASTER if i == 0 else Role.SPARK_WORKER}),
            index=max(i, 1),
            server_id=h.name,
            status="ACTIVE",
            flavor="bed.small",
            vcpus=VCPUS,
            ram_mb=RAM_MB,
            fixed_ip=h.ip,
            floating_ip=h.ip if i == 0 and jump else None,
        )
        for i, h in enumerate(hosts)
    )
    expected = {"master": (1,), "worker": tuple(range(1, len(nodes)))}
    return Cluster(name, "testhosts", "testhosts", bed.user, nodes, expected, "ready")


def bed_access(bed: TestBed, known_hosts: Path, **kwargs: float) -> SSHAccess:
    """The bed's key; host keys pinned into ``known_hosts``, expected from the consoles."""
    expected = {h.ip: [h.host_key] for h in bed.hosts}
    return SSHAccess(bed.key_path, HostKeyStore(known_hosts, expected), **kwargs)
