"""Cluster lifecycle: launch, describe, list and destroy, as plain typed functions.

``launch`` runs preflight, provisioning and (unless ``provision_only``) the services phase
inside one rollback guard: any failure or Ctrl-C removes everything this launch created, found
again by the cluster's tags, unless ``keep_on_failure``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sparkstack import keys
from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, connect
from sparkstack.cloud.console import host_keys
from sparkstack.cloud.inventory import read_all, read_cluster
from sparkstack.cloud.preflight import Plan, run_preflight
from sparkstack.cloud.provision import KeyChoice, provision
from sparkstack.cloud.teardown import KINDS, teardown
from sparkstack.cluster import Cluster, Node
from sparkstack.errors import Interrupted, NotFoundError, SparkstackError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.spec import ClusterSpec


def _key_choice(cloud: Cloud, spec: ClusterSpec) -> KeyChoice:
    if spec.key.keypair:
        private = spec.key.private_key_file
        return KeyChoice(keypair=spec.key.keypair, private_key_file=str(private or ""))
    if spec.key.public_key_file:
        public = spec.key.public_key_file.expanduser()
        private = spec.key.private_key_file or public.with_suffix("")
        return KeyChoice(public_key=keys.read_public_key(public), private_key_file=str(private))
    return KeyChoice(public_key=keys.ensure_cluster_key(cloud.name, spec.name))


def preflight(spec: ClusterSpec, report: Reporter = silent) -> tuple[Cloud, Plan]:
    """Connect and check everything a launch of ``spec`` needs; nothing is created."""
    cloud = connect(spec.cloud)
    try:
        with Phase(report, "preflight", total=1, text="checking the cloud") as phase:
            plan = run_preflight(cloud, spec)
            phase.advance("ok")
    except KeyboardInterrupt:
        raise Interrupted("interrupted during preflight; nothing was created") from None
    return cloud, plan


def provision_cluster(
    cloud: Cloud, spec: ClusterSpec, plan: Plan, report: Reporter = silent
) -> Cluster:
    """Create the cluster's cloud resources (no rollback: :func:`launch` guards this)."""
    return provision(cloud, spec, plan, _key_choice(cloud, spec), report)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Let a rollback finish even if Ctrl-C is pressed again (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _rollback(cloud: Cloud, name: str, report: Reporter) -> str:
    """Remove what the launch made; return a clause for the error line."""
    try:
        with _sigint_ignored():
            _remove(cloud, name, report, phase="rollback")
    except SparkstackError as exc:
        return (
            f"the rollback failed too ({exc}); once the cloud answers, run "
            f"`sparkstack destroy {name} --cloud {cloud.name}`"
        )
    return "everything this launch created has been removed"


def launch(
    spec: ClusterSpec,
    *,
    provision_only: bool = False,
    keep_on_failure: bool = False,
    report: Reporter = silent,
) -> Cluster:
    """Provision ``spec`` and deploy its services; roll back on any failure or Ctrl-C."""
    cloud, plan = preflight(spec, report)
    try:
        cluster = provision_cluster(cloud, spec, plan, report)
        if not provision_only:
            from sparkstack.api.services import deploy_services

            deploy_services(cluster, spec, report)
        return cluster
    except KeyboardInterrupt:
        if keep_on_failure:
            raise Interrupted(
                f"interrupted; what was created is kept (--keep-on-failure): "
                f"`sparkstack destroy {spec.name}` removes it"
            ) from None
        raise Interrupted(f"interrupted; {_rollback(cloud, spec.name, report)}") from None
    except SparkstackError as exc:
        if keep_on_failure:
            raise type(exc)(
                f"{exc}; resources kept (--keep-on-failure): "
                f"`sparkstack destroy {spec.name}` removes them"
            ) from exc
        raise type(exc)(f"{exc}; {_rollback(cloud, spec.name, report)}") from exc
    except BaseException:
        if not keep_on_failure:
            _rollback(cloud, spec.name, report)
        raise


def find_cluster(name: str, cloud: str | None = None) -> Cluster:
    """The cluster named ``name`` as the cloud has it; NotFoundError when nothing is left."""
    session = connect(cloud)
    cluster = read_cluster(session, name)
    if cluster is None:
        raise NotFoundError(
            f"no cluster named '{name}' on cloud '{session.name}'; "
            "`sparkstack list` shows the clusters there"
        )
    return cluster


describe = find_cluster


def list_clusters(cloud: str | None = None) -> list[Cluster]:
    """Every sparkstack cluster of the project, found by its tags."""
    return read_all(connect(cloud))


def _remove(cloud: Cloud, name: str, report: Reporter, phase: str) -> dict[str, int]:
    with Phase(report, phase, total=len(KINDS), text=f"removing {name}") as progress:
        removed = teardown(
            cloud, name, on_step=lambda kind, n: progress.advance(f"{n} {kind.replace('_', ' ')}")
        )
    keys.forget_cluster(cloud.name, name)
    return removed


def destroy(name: str, cloud: str | None = None, report: Reporter = silent) -> dict[str, int]:
    """Remove every resource of the cluster; return counts per kind (all 0: nothing was left)."""
    return _remove(connect(cloud), name, report, phase="destroy")


def cluster_state(cluster: Cluster) -> str:
    """One word for a cluster: active, building, error, degraded (nodes missing) or empty."""
    statuses = {node.status for node in cluster.nodes}
    if not cluster.nodes:
        return "empty"
    if "ERROR" in statuses:
        return "error"
    if statuses & {"BUILD", "REBUILD", "REBOOT", "HARD_REBOOT"}:
        return "building"
    expected = cluster.expected_masters + cluster.expected_workers
    if statuses != {"ACTIVE"} or len(cluster.nodes) < expected:
        return "degraded"
    return "active"


def console_host_keys(cluster: Cluster, nodes: Sequence[Node]) -> dict[str, list[str]]:
    """Host public keys (``"<type> <base64>"``) from each node's console log, by server id;
    [] for a node whose log shows none. One connection serves every node."""
    if not nodes:
        return {}
    cloud = connect(None if cluster.cloud == "envvars" else cluster.cloud)
    return {node.server_id: host_keys(cloud, node.server_id) for node in nodes}


def cluster_key_path(cluster: Cluster) -> Path:
    """The private key to log in with: the user's own when they brought one, else the generated."""
    own = cluster.metadata.get(naming.META_PRIVATE_KEY)
    return Path(own) if own else keys.cluster_key_path(cluster.cloud, cluster.name)
