"""What ``describe`` shows: the cluster as the cloud has it, what is lost, and Spark's health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkstack.api import clusters, services
from sparkstack.cloud import naming
from sparkstack.cluster import Cluster, Role
from sparkstack.errors import SparkstackError

#: describe is a quick look: a master that does not answer SSH soon is reported, not waited for.
DESCRIBE_SSH_TIMEOUT = 20.0


@dataclass(frozen=True)
class ClusterReport:
    """A cluster, the nodes it was launched with that are gone, and Spark's own view of it."""

    cluster: Cluster
    lost: list[str]
    spark: dict[str, Any]


def lost_nodes(cluster: Cluster) -> list[str]:
    """Names of the nodes the cluster was launched with that the cloud no longer has.

    A server deleted outside sparkstack leaves a gap in the indices that launch numbered 1..N.
    """
    present = {(node.role, node.index) for node in cluster.nodes}
    expected = [(Role.MASTER, i) for i in range(1, cluster.expected_masters + 1)]
    expected += [(Role.WORKER, i) for i in range(1, cluster.expected_workers + 1)]
    return [
        f"{naming.server_base_name(cluster.name, role)}-{index}"
        for role, index in expected
        if (role, index) not in present
    ]


def spark_health(cluster: Cluster) -> dict[str, Any]:
    """Spark's status, or why it cannot be read: describe must work on a broken cluster too."""
    if not any(m.status == "ACTIVE" for m in cluster.masters):
        return {"status": "unreachable", "error": "no running master"}
    try:
        access = services.cloud_access(cluster)
        access.ready_timeout = DESCRIBE_SSH_TIMEOUT
        return services.spark_status(cluster, access=access)
    except SparkstackError as exc:
        return {"status": "unreachable", "error": str(exc)}


def describe(name: str, cloud: str | None = None, *, with_spark: bool = True) -> ClusterReport:
    """The cluster ``name``: nodes from the cloud, lost nodes and (unless told not to) Spark."""
    cluster = clusters.find_cluster(name, cloud)
    spark = spark_health(cluster) if with_spark else {}
    return ClusterReport(cluster, lost_nodes(cluster), spark)
