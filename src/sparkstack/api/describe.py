"""``describe``: the cluster as the cloud has it, what it lost, what it runs, how its services are.

The cloud alone gives the nodes, their state and the lost ones (the security group records which
nodes the cluster is meant to have). One SSH connection to a master adds the manifest (what the
cluster runs) and each service's health. A broken cluster is described, not refused: whatever
cannot be read is reported with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.deploy import state_hosts, status_of
from sparkstack.api.lifecycle import cluster_state
from sparkstack.api.lookup import open_cluster
from sparkstack.api.state import read_state
from sparkstack.cluster import Cluster
from sparkstack.errors import SparkstackError
from sparkstack.manifest import Manifest
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet
from sparkstack.services import pipeline
from sparkstack.services.base import ServiceStatus

#: describe is a quick look: a master that does not answer SSH soon is reported, not waited for.
DESCRIBE_SSH_TIMEOUT = 20.0


@dataclass(frozen=True)
class ClusterReport:
    """A cluster, the nodes it is meant to have that are gone, its manifest and services."""

    cluster: Cluster
    state: str
    lost: list[str]
    manifest: Manifest | None = None
    #: Why the manifest and the services could not be read (empty when they were).
    unreachable: str = ""
    services: list[ServiceStatus] = field(default_factory=list)

    def service(self, name: str) -> ServiceStatus | None:
        return next((s for s in self.services if s.service == name), None)


async def _read_nodes(cluster: Cluster, access: SSHAccess) -> ClusterReport:
    report = ClusterReport(cluster, cluster_state(cluster), cluster.lost())
    async with Fleet(access) as fleet:
        state, why = await read_state(fleet, state_hosts(hosts_of(cluster)))
        if state is None:
            return _unreachable(report, why)
        services = pipeline.services_for(state.manifest.cluster_spec())
        statuses = await status_of(cluster, services, fleet)
    return ClusterReport(cluster, report.state, report.lost, state.manifest, "", statuses)


def _unreachable(report: ClusterReport, why: str) -> ClusterReport:
    return ClusterReport(report.cluster, report.state, report.lost, None, why)


def describe_nodes(cluster: Cluster, access: SSHAccess) -> ClusterReport:
    """The cluster with its manifest and services as its nodes report them (never raises for
    a broken cluster: what cannot be read is said in ``unreachable``)."""
    report = ClusterReport(cluster, cluster_state(cluster), cluster.lost())
    try:
        hosts_of(cluster)  # a cluster with no running node is described from the cloud alone
        return _sync.run(_read_nodes(cluster, access))
    except SparkstackError as exc:
        return _unreachable(report, str(exc))


def describe(
    name: str,
    cloud: str | None = None,
    *,
    with_services: bool = True,
    trust_first_host_key: bool = False,
) -> ClusterReport:
    """The cluster ``name``: nodes and lost nodes from the cloud; unless ``with_services`` is
    off, its manifest and services from its nodes."""
    session, cluster = open_cluster(name, cloud)
    state = cluster_state(cluster)
    if not with_services:
        return ClusterReport(cluster, state, cluster.lost())
    if state == "stopped":  # nothing runs: no SSH to wait for
        why = f"the cluster is stopped: `sparkstack start {name}`"
        return ClusterReport(cluster, state, cluster.lost(), unreachable=why)
    try:
        access = ssh_access(
            session, cluster, trust_first=trust_first_host_key, ready_timeout=DESCRIBE_SSH_TIMEOUT
        )
    except SparkstackError as exc:
        return _unreachable(
            ClusterReport(cluster, cluster_state(cluster), cluster.lost()), str(exc)
        )
    return describe_nodes(cluster, access)
