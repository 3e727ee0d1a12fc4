"""sparkstack: launch, run and tear down Apache Spark clusters on OpenStack clouds.

The library API, flat::

    import sparkstack
    spec = sparkstack.load_spec(overrides={"name": "demo", "workers": {"count": 2}})
    cluster = sparkstack.launch(spec)
    code = sparkstack.submit("demo", Path("job.py"), on_line=lambda node, line: print(line))
    sparkstack.destroy("demo")

Every function is synchronous and works inside a running event loop too (Jupyter); progress
comes as :class:`Event` objects to a ``report`` callable; errors are :class:`SparkstackError`
subclasses whose message is one line saying what to do. The command line is a thin layer over
these (see docs/library.md).
"""

from sparkstack._version import __version__
from sparkstack.api.cleanup import find_leftovers as cleanup_leftovers
from sparkstack.api.cleanup import remove_leftovers
from sparkstack.api.data import get as get_file
from sparkstack.api.data import list_containers, list_objects
from sparkstack.api.data import put as put_file
from sparkstack.api.deploy import DeployReport
from sparkstack.api.describe import ClusterReport, describe
from sparkstack.api.expiry import Extended, extend
from sparkstack.api.images import bake_image, list_images, upload_image
from sparkstack.api.jobs import submit
from sparkstack.api.lifecycle import (
    cluster_state,
    configure,
    destroy,
    launch,
    list_clusters,
)
from sparkstack.api.power import StartReport, StopReport, start, stop
from sparkstack.api.quota import QuotaReport, quota
from sparkstack.api.resize import ResizeReport, add_workers, remove_workers
from sparkstack.api.shell import Selection, copy_file, run_command
from sparkstack.cloud.object_store import ContainerInfo, ObjectInfo, Transfer
from sparkstack.cluster import Cluster, Expiry, Node, Role
from sparkstack.errors import (
    ArtifactError,
    AuthError,
    CloudError,
    CloudTimeoutError,
    HostKeyError,
    Interrupted,
    NodeError,
    NotFoundError,
    PreflightError,
    QuotaError,
    ServerFaultError,
    ServiceError,
    SparkstackError,
    SpecError,
    UsageError,
)
from sparkstack.events import Event, Reporter
from sparkstack.manifest import Manifest
from sparkstack.nodes.runner import Result
from sparkstack.services.base import ServiceStatus
from sparkstack.services.hdfs import HdfsStatus
from sparkstack.services.reaper import ReaperStatus
from sparkstack.services.spark import SparkStatus
from sparkstack.spec import ClusterSpec, GroupSpec, SparkSpec, load_spec

__all__ = [
    "ArtifactError",
    "AuthError",
    "CloudError",
    "CloudTimeoutError",
    "Cluster",
    "ClusterReport",
    "ClusterSpec",
    "ContainerInfo",
    "DeployReport",
    "Event",
    "Expiry",
    "Extended",
    "GroupSpec",
    "HdfsStatus",
    "HostKeyError",
    "Interrupted",
    "Manifest",
    "Node",
    "NodeError",
    "NotFoundError",
    "ObjectInfo",
    "PreflightError",
    "QuotaError",
    "QuotaReport",
    "ReaperStatus",
    "Reporter",
    "ResizeReport",
    "Result",
    "Role",
    "Selection",
    "ServerFaultError",
    "ServiceError",
    "ServiceStatus",
    "SparkSpec",
    "SparkStatus",
    "SparkstackError",
    "SpecError",
    "StartReport",
    "StopReport",
    "Transfer",
    "UsageError",
    "__version__",
    "add_workers",
    "bake_image",
    "cleanup_leftovers",
    "cluster_state",
    "configure",
    "copy_file",
    "describe",
    "destroy",
    "extend",
    "get_file",
    "launch",
    "list_clusters",
    "list_containers",
    "list_images",
    "list_objects",
    "load_spec",
    "put_file",
    "quota",
    "remove_leftovers",
    "remove_workers",
    "run_command",
    "start",
    "stop",
    "submit",
    "upload_image",
]
