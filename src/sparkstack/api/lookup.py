"""Finding a cluster in the cloud by name, with the checks every verb shares."""

from __future__ import annotations

from sparkstack.cloud.connection import Cloud, cloud_name, connect
from sparkstack.cloud.inventory import read_cluster
from sparkstack.cluster import Cluster
from sparkstack.errors import NotFoundError
from sparkstack.validation import check_cluster_name

__all__ = ["cloud_name", "find_cluster", "open_cluster"]


def open_cluster(name: str, cloud: str | None = None) -> tuple[Cloud, Cluster]:
    """The cloud session and the cluster named ``name`` as the cloud has it."""
    check_cluster_name(name)
    session = connect(cloud)
    cluster = read_cluster(session, name)
    if cluster is None:
        raise NotFoundError(
            f"no cluster named '{name}' on cloud '{session.name}'; "
            "`sparkstack list` shows the clusters there"
        )
    return session, cluster


def find_cluster(name: str, cloud: str | None = None) -> Cluster:
    """The cluster named ``name`` as the cloud has it; NotFoundError when nothing is left."""
    return open_cluster(name, cloud)[1]
