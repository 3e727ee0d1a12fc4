"""The services phase on a cluster's nodes: reach them, keep the cluster's record, deploy.

Works on a Cluster and an SSHAccess alone (no cloud), so the same code runs on the devcloud and
on plain SSH hosts; the lifecycle verbs (launch, configure) wrap it with the cloud steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sparkstack import validation
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, hosts_with
from sparkstack.api.state import ClusterState, new_secrets, read_state, write_state
from sparkstack.cluster import Cluster
from sparkstack.errors import NodeError, SparkstackError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.manifest import ArtifactRecord, Manifest
from sparkstack.nodes.connection import SSHAccess
from sparkstack.nodes.runner import Fleet, each
from sparkstack.paths import cache_dir
from sparkstack.services import pipeline
from sparkstack.services.artifacts import Artifact, ArtifactSource, recorded, resolve
from sparkstack.services.base import Deployment, Host, Service, ServiceStatus
from sparkstack.services.prepare import clean_for_image
from sparkstack.spec import ClusterSpec


@dataclass(frozen=True)
class DeployReport:
    """What a deploy did: the nodes whose configuration changed (per service), what the
    services publish (e.g. ``spark.master_url``), time taken, bytes fetched from sources."""

    changed: dict[str, list[str]]
    outputs: dict[str, str]
    seconds: float
    fetched_bytes: int
    connections: dict[str, int] = field(default_factory=dict)
    client_address: str | None = None
    #: ``path: old -> new`` for each setting that changed since the cluster's manifest.
    differences: list[str] = field(default_factory=list)
    #: The manifest the cluster keeps now.
    manifest: Manifest | None = None

    @property
    def changed_nodes(self) -> list[str]:
        return sorted({n for nodes in self.changed.values() for n in nodes})


@dataclass(frozen=True)
class ServicePlan:
    """What a deploy runs: the spec, its services and artifacts, and the record to keep."""

    spec: ClusterSpec
    services: list[Service]
    artifacts: dict[str, Artifact]
    state: ClusterState
    differences: list[str] = field(default_factory=list)


def state_hosts(hosts: list[Host]) -> list[Host]:
    """The nodes that keep the cluster's manifest and secrets: those a client reaches."""
    return hosts_with(hosts, pipeline.client_roles()) or hosts[:1]


def records(artifacts: dict[str, Artifact]) -> dict[str, ArtifactRecord]:
    return {
        name: ArtifactRecord(filename=a.filename, sha512=a.sha512, source=a.source)
        for name, a in artifacts.items()
    }


def kept_artifact(manifest: Manifest, source: ArtifactSource) -> Artifact | None:
    """The tarball the cluster was deployed with for ``source``, as its manifest records it
    (the first node keeps a verified copy: nothing is fetched again), if it records one."""
    before = manifest.artifacts.get(source.name)
    if before is None:
        return None
    return recorded(source.name, before.filename, before.sha512, source, cache_dir() / "downloads")


def kept_plan(state: ClusterState) -> ServicePlan:
    """A plan that deploys what the cluster runs, as its manifest says, with the tarballs it
    was deployed with."""
    spec = state.manifest.cluster_spec()
    services = pipeline.services_for(spec)
    artifacts = {
        source.name: kept_artifact(state.manifest, source)
        or resolve_artifacts([service])[source.name]
        for service in services
        for source in service.artifacts()
    }
    return ServicePlan(spec, services, artifacts, state)


def resolve_artifacts(services: list[Service]) -> dict[str, Artifact]:
    """Every service's artifacts checked (exists, checksum known), none downloaded yet."""
    return {
        source.name: resolve(source, cache_dir() / "downloads")
        for service in services
        for source in service.artifacts()
    }


def fresh_plan(spec: ClusterSpec, old: ClusterState | None = None) -> ServicePlan:
    """A plan that deploys ``spec`` as given (keeping the secrets the cluster has)."""
    services = pipeline.services_for(spec)
    artifacts = resolve_artifacts(services)
    names = [name for s in services for name in s.secrets()]
    state = ClusterState(
        Manifest.new(spec, [s.name for s in services], records(artifacts)),
        new_secrets(names, old.secrets if old else None),
    )
    return ServicePlan(spec, services, artifacts, state)


async def reach(fleet: Fleet, hosts: list[Host], report: Reporter) -> str | None:
    """Open SSH to every node; return the client's address as the first node sees it."""
    with Phase(report, "ssh", total=len(hosts), text="SSH to nodes") as phase:

        async def one(host: Host) -> None:
            await fleet.connection(host.target)
            phase.advance(host.name)

        await each(hosts, one)
    seen = await fleet.run(hosts[0].target, 'echo "$SSH_CLIENT"')
    try:
        return validation.ip_address(seen.stdout.split()[0]) if seen.ok else None
    except (ValueError, IndexError):
        return None


async def deploy_on(
    cluster: Cluster,
    access: SSHAccess,
    plan_for: Callable[[ClusterState | None], ServicePlan],
    report: Reporter = silent,
    *,
    health_timeout: float = 300.0,
    on_reached: Callable[[str | None], None] = lambda _address: None,
    joining: frozenset[str] | None = None,
    given: Mapping[str, object] | None = None,
) -> DeployReport:
    """Reach the nodes, read the record the cluster keeps (if any), let ``plan_for`` decide
    what to run from it, write the new record on the masters, deploy the services.

    With ``joining`` (names of new nodes), only those and the masters are reached and only
    those are changed; the record is written once they serve."""
    started = time.monotonic()
    hosts = hosts_of(cluster)
    keepers = state_hosts(hosts)
    reached = hosts if joining is None else [h for h in hosts if h in keepers or h.name in joining]
    async with Fleet(access) as fleet:
        address = await reach(fleet, reached, report)
        await asyncio.to_thread(on_reached, address)
        old, _why = await read_state(fleet, keepers)
        plan = await asyncio.to_thread(plan_for, old)
        if joining is None:
            await write_state(fleet, keepers, plan.state)
        dep = Deployment(
            cluster.name,
            hosts,
            fleet,
            report,
            artifacts=plan.artifacts,
            scope=joining,
            given=dict(given or {}),
        )
        dep.secrets = plan.state.secrets
        if joining is None:
            result = await pipeline.deploy(dep, plan.services, health_timeout)
        else:
            result = await pipeline.join(dep, plan.services, health_timeout)
            await write_state(fleet, keepers, plan.state)
        return DeployReport(
            result.changed,
            result.outputs,
            time.monotonic() - started,
            sum(a.fetched_bytes for a in plan.artifacts.values()),
            dict(fleet.connections_opened),
            address,
            plan.differences,
            plan.state.manifest,
        )


async def bake_on(
    cluster: Cluster,
    access: SSHAccess,
    plan: ServicePlan,
    report: Reporter = silent,
    *,
    on_reached: Callable[[str | None], None] = lambda _address: None,
) -> None:
    """Install the plan's software on the nodes as a deploy does (nothing configured or
    started), then clean them to be snapshotted into an image."""
    hosts = hosts_of(cluster)
    async with Fleet(access) as fleet:
        address = await reach(fleet, hosts, report)
        await asyncio.to_thread(on_reached, address)
        dep = Deployment(cluster.name, hosts, fleet, report, artifacts=plan.artifacts)
        await pipeline.install_software(dep, plan.services)
        await clean_for_image(dep)


def deploy_services(
    cluster: Cluster,
    spec: ClusterSpec,
    *,
    access: SSHAccess,
    report: Reporter = silent,
    health_timeout: float = 300.0,
) -> DeployReport:
    """Deploy ``spec``'s services on ``cluster``'s nodes as they are (for example SSH hosts
    that sparkstack did not make); idempotent: nothing changed, nothing restarted."""
    return _sync.run(
        deploy_on(
            cluster,
            access,
            lambda old: fresh_plan(spec, old),
            report,
            health_timeout=health_timeout,
        )
    )


async def read_cluster_state(fleet: Fleet, hosts: list[Host]) -> ClusterState:
    """The manifest and secrets the masters keep, or a NodeError saying why not."""
    state, why = await read_state(fleet, state_hosts(hosts))
    if state is None:
        raise NodeError(f"cannot read the cluster's manifest: {why}")
    return state


async def status_of(cluster: Cluster, services: list[Service], fleet: Fleet) -> list[ServiceStatus]:
    """Each service's state as the nodes report it."""
    dep = Deployment(cluster.name, hosts_of(cluster), fleet)
    try:
        return await pipeline.status(dep, services)
    except SparkstackError as exc:
        return [ServiceStatus(s.name, "unreachable", str(exc)) for s in services]
