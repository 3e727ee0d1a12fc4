"""Cluster lifecycle: launch, configure, list and destroy, as plain typed functions.

``launch`` goes one way: preflight (the cloud and the artifacts, before anything is created) ->
provision (servers, addresses and console host keys in one cloud session) -> reach the nodes ->
services -> the manifest on the masters. Any failure or Ctrl-C removes everything this launch
created, found again by the cluster's tags, unless ``keep_on_failure``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sparkstack import keys
from sparkstack.api import _sync
from sparkstack.api.access import hosts_of, ssh_access
from sparkstack.api.deploy import (
    DeployReport,
    ServicePlan,
    deploy_on,
    kept_artifact,
    records,
    resolve_artifacts,
    state_hosts,
)
from sparkstack.api.expiry import launch_grant
from sparkstack.api.lookup import find_cluster, open_cluster
from sparkstack.api.state import ClusterState, new_secrets
from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import sigint_ignored
from sparkstack.cloud.connection import Cloud, connect
from sparkstack.cloud.credentials import reaper_role
from sparkstack.cloud.inventory import read_all
from sparkstack.cloud.layout import GroupRequest
from sparkstack.cloud.power import STOPPED
from sparkstack.cloud.preflight import Plan, run_preflight
from sparkstack.cloud.provision import KeyChoice, Provisioned, provision
from sparkstack.cloud.s3 import create_ec2_credential, ensure_directory, s3_endpoint
from sparkstack.cloud.security import ANYWHERE, PortRange, open_ssh_to, rule_count, set_launch_state
from sparkstack.cloud.servers import set_metadata
from sparkstack.cloud.teardown import KINDS, teardown
from sparkstack.cluster import Cluster
from sparkstack.errors import Interrupted, SparkstackError, UsageError
from sparkstack.events import Phase, Reporter, silent
from sparkstack.manifest import Manifest, differences
from sparkstack.nodes.connection import SSHAccess
from sparkstack.services import pipeline
from sparkstack.services.artifacts import Artifact
from sparkstack.services.base import Service
from sparkstack.services.reaper import GIVEN, ReaperGrant
from sparkstack.services.tarball import TarballService
from sparkstack.spec import (
    S3_ACCESS_SECRET,
    S3_CREDENTIAL,
    S3_KEY_SECRET,
    ClusterSpec,
    load_spec,
)
from sparkstack.validation import check_cluster_name, cidr, shown

T = TypeVar("T")


def group_requests(spec: ClusterSpec, services: list[Service]) -> list[GroupRequest]:
    """The servers to boot, per group; groups hosting a client role get floating IPs unless
    the file says otherwise."""
    client = pipeline.client_roles(services)
    return [
        GroupRequest(
            group=name,
            count=group.count,
            flavor=group.flavor,
            image=spec.image_of(name),
            roles=tuple(r.value for r in group.roles),
            floating_ip=group.floating_ip
            if group.floating_ip is not None
            else bool(set(group.roles) & client),
        )
        for name, group in spec.groups.items()
        if group.count > 0
    ]


def member_ports(services: list[Service]) -> list[PortRange]:
    return [PortRange(p.first, p.last, p.purpose) for p in pipeline.member_ports(services)]


def _key_choice(cloud: Cloud, spec: ClusterSpec) -> KeyChoice:
    if spec.key.keypair:
        private = spec.key.private_key_file
        return KeyChoice(keypair=spec.key.keypair, private_key_file=str(private or ""))
    if spec.key.public_key_file:
        public = spec.key.public_key_file
        private = spec.key.private_key_file or public.with_suffix("")
        return KeyChoice(
            public_key=keys.read_public_key(public), private_key_file=str(private.absolute())
        )
    return KeyChoice(public_key=keys.ensure_cluster_key(cloud.identity, spec.name))


@dataclasses.dataclass(frozen=True)
class LaunchPlan:
    """What preflight resolved: the cloud's ids, the servers to boot, the services to run."""

    cloud: Cloud
    plan: Plan
    groups: list[GroupRequest]
    ports: list[PortRange]
    services: ServicePlan


def preflight(
    spec: ClusterSpec, report: Reporter = silent, *, with_software: bool = True
) -> LaunchPlan:
    """Connect and check everything a launch of ``spec`` needs, the cloud and (unless
    ``with_software`` is off: servers only) the software, both at once; nothing is created."""
    pipeline.services_for(spec)  # the spec's own problems first, before the network
    if spec.ssh_cidr == ANYWHERE:
        report_warning(report, "SSH will be open to the whole internet (ssh_cidr 0.0.0.0/0)")
    cloud = connect(spec.cloud)
    try:
        spec = _with_s3_endpoint(cloud, spec)
    except KeyboardInterrupt:
        raise Interrupted("interrupted during preflight; nothing was created") from None
    services = pipeline.services_for(spec)
    groups = group_requests(spec, services)
    ports = member_ports(services)
    try:
        with Phase(report, "preflight", total=2, text="checking the cloud") as phase:
            software = in_background(lambda: resolve_artifacts(services) if with_software else {})
            plan = run_preflight(cloud, spec, groups, rule_count(ports, spec.open_ports))
            if spec.expiry is not None:
                reaper_role(cloud)  # the reaper's credential needs it: say so before creating
            phase.advance("cloud")
            artifacts = software.result()
            mark_baked(services, artifacts, groups, plan.software)
            phase.advance("software")
    except KeyboardInterrupt:
        raise Interrupted("interrupted during preflight; nothing was created") from None
    names = [name for s in services for name in s.secrets()]
    state = ClusterState(
        Manifest.new(spec, [s.name for s in services], records(artifacts)), new_secrets(names)
    )
    return LaunchPlan(cloud, plan, groups, ports, ServicePlan(spec, services, artifacts, state))


def _with_s3_endpoint(cloud: Cloud, spec: ClusterSpec) -> ClusterSpec:
    """``spec`` with object storage's endpoint and region from the catalog where unset (and
    a PreflightError when the catalog has no S3 API)."""
    store = spec.object_storage
    if not store.enabled or (store.endpoint and store.region):
        return spec
    found = s3_endpoint(cloud)
    filled = store.model_copy(
        update={"endpoint": store.endpoint or found.url, "region": store.region or found.region}
    )
    return spec.model_copy(update={"object_storage": filled})


def _object_storage_access(cloud: Cloud, plan: ServicePlan) -> None:
    """An EC2 credential for the cluster, kept with its secrets (the nodes get it in a 0600
    file, the client keeps none); the event log directory, made if missing."""
    store = plan.spec.object_storage
    if not store.enabled:
        return
    made = create_ec2_credential(cloud, plan.spec.name)
    plan.state.secrets.update(
        {S3_ACCESS_SECRET: made.access, S3_KEY_SECRET: made.secret, S3_CREDENTIAL: made.id}
    )
    if store.event_log:
        parts = urlsplit(store.event_log)
        ensure_directory(cloud, parts.netloc, parts.path.strip("/"))


def mark_baked(
    services: list[Service],
    artifacts: dict[str, Artifact],
    groups: list[GroupRequest],
    held: dict[str, dict[str, dict[str, str]]],
) -> None:
    """Flag the tarballs that the image of every group installing them already holds (same
    version, same SHA-512): they are not fetched, and the nodes' installs are checked."""
    for service in services:
        artifact = artifacts.get(service.name)
        if not isinstance(service, TarballService) or artifact is None:
            continue
        roles = {r.value for r in service.roles}
        hosting = [g.group for g in groups if roles & set(g.roles)]
        artifact.baked = bool(hosting) and all(
            service.baked_in(held.get(group, {}).get(service.name), artifact.sha512)
            for group in hosting
        )


def in_background(call: Callable[[], T]) -> Future[T]:
    """``call()`` in a daemon thread: an interrupted caller does not wait for it to end."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def report_warning(report: Reporter, text: str) -> None:
    with Phase(report, "warning", text=text) as phase:
        phase.message(text)


def _rollback(cloud: Cloud, name: str, report: Reporter, what: str = "launch") -> str:
    """Remove what the launch (or ``what``) made; return a clause for the error line."""
    try:
        with sigint_ignored():
            remove_cluster(cloud, name, report, phase="rollback")
    except SparkstackError as exc:
        return (
            f"the rollback failed too ({exc}); once the cloud answers, run "
            f"`sparkstack destroy {name} --cloud {cloud.name}`"
        )
    return f"everything this {what} created has been removed"


def add_note(exc: SparkstackError, note: str) -> None:
    """Add ``note`` to the error's line; class, attributes and cause stay as they are."""
    exc.args = (f"{exc}; {note}", *exc.args[1:])


def record_manifest(cloud: Cloud, cluster: Cluster, manifest: Manifest) -> None:
    keepers = state_hosts(hosts_of(cluster))
    items = {naming.META_MANIFEST: manifest.digest()}
    set_metadata(cloud, [h.node.server_id for h in keepers], items)


def new_cluster_access(
    launch: LaunchPlan, cluster: Cluster, host_keys: dict[str, list[str]], report: Reporter
) -> tuple[SSHAccess, Callable[[str | None], None]]:
    """SSH to a cluster just provisioned (host keys pinned from the consoles), and what to do
    once the client's address is known: narrow SSH to it unless the spec says who may."""
    spec = launch.services.spec
    cloud = launch.cloud

    def narrow(address: str | None) -> None:
        if spec.ssh_cidr is None and address:
            open_ssh_to(cloud, spec.name, address)
            report_warning(report, f"SSH is open only to {address} (this client, as seen)")

    access = ssh_access(
        cloud, cluster, console_keys=host_keys, trust_first=spec.trust_first_host_key
    )
    return access, narrow


def _deploy_new(
    launch: LaunchPlan,
    cluster: Cluster,
    host_keys: dict[str, list[str]],
    report: Reporter,
    reaper: ReaperGrant | None,
) -> DeployReport:
    access, narrow = new_cluster_access(launch, cluster, host_keys, report)
    done = _sync.run(
        deploy_on(
            cluster,
            access,
            lambda _old: launch.services,
            report,
            on_reached=narrow,
            given={GIVEN: reaper} if reaper else None,
        )
    )
    record_manifest(launch.cloud, cluster, launch.services.state.manifest)
    return done


def provision_new(launch: LaunchPlan, report: Reporter) -> Provisioned:
    """Start fetching the tarballs no image holds (downloads overlap the boot), then
    provision the servers of a checked launch."""
    for artifact in launch.services.artifacts.values():
        if not artifact.baked:
            artifact.start_fetch(report)
    spec = launch.services.spec
    key = _key_choice(launch.cloud, spec)
    return provision(launch.cloud, spec, launch.groups, launch.plan, key, launch.ports, report)


@contextmanager
def rolled_back(
    cloud: Cloud, name: str, report: Reporter, *, keep: bool = False, what: str = "launch"
) -> Iterator[None]:
    """Any failure or Ctrl-C inside removes everything cluster ``name`` has (found by its
    tags), unless ``keep``; the error's line says what became of it."""
    try:
        yield
    except KeyboardInterrupt:
        if keep:
            raise Interrupted(
                f"interrupted; what was created is kept (--keep-on-failure): "
                f"`sparkstack destroy {name}` removes it"
            ) from None
        raise Interrupted(f"interrupted; {_rollback(cloud, name, report, what)}") from None
    except SparkstackError as exc:
        if keep:
            add_note(
                exc,
                f"resources kept (--keep-on-failure): `sparkstack destroy {name}` removes them",
            )
        else:
            add_note(exc, _rollback(cloud, name, report, what))
        raise
    except BaseException:
        if not keep:
            _rollback(cloud, name, report, what)
        raise


def launch(
    spec: ClusterSpec,
    *,
    provision_only: bool = False,
    keep_on_failure: bool = False,
    report: Reporter = silent,
) -> Cluster:
    """Provision ``spec`` and deploy its services; roll back on any failure or Ctrl-C."""
    if provision_only and spec.expiry is not None:
        raise UsageError(
            "--provision-only deploys no services, so no reaper would delete the cluster: "
            "drop --max-age/--idle-timeout (and expiry:) or --provision-only"
        )
    plan = preflight(spec, report, with_software=not provision_only)
    cloud = plan.cloud
    with rolled_back(cloud, spec.name, report, keep=keep_on_failure):
        _object_storage_access(cloud, plan.services)
        made = provision_new(plan, report)
        reaper = None if provision_only else launch_grant(cloud, spec)
        if not provision_only:
            _deploy_new(plan, made.cluster, made.host_keys, report, reaper[0] if reaper else None)
        set_launch_state(cloud, spec.name, naming.LaunchState.READY)
        return dataclasses.replace(
            made.cluster,
            launch_state=naming.LaunchState.READY.value,
            expiry=reaper[1] if reaper else None,
        )


# ---- configure ----------------------------------------------------------------------------


def _configure_plan(
    old: ClusterState | None,
    file: Path | None,
    flags: dict[str, Any],
    report: Reporter,
) -> ServicePlan:
    """The manifest's spec with the file or flags applied to what configure may change (the
    services' settings); what else a file changes (groups, image...) is kept as launched,
    and said so."""
    if old is None:
        raise SparkstackError(
            "the cluster keeps no manifest (launched by an older sparkstack?); nothing to re-apply"
        )
    manifest = old.manifest
    base = {**manifest.spec, "name": manifest.cluster}
    wanted = load_spec(file, flags, base=None if file else base).model_dump(mode="json")
    settings = pipeline.carry_over(base, wanted)
    new = load_spec(base={**base, **settings})
    fixed = [k for k in base if k not in settings]
    for line in differences({k: base[k] for k in fixed}, {k: wanted.get(k) for k in fixed}):
        report_warning(report, f"configure does not change {line} (kept as launched)")
    changes = differences({k: base.get(k) for k in settings}, settings)
    services = pipeline.services_for(new)
    launched = {
        source.name: source
        for service in pipeline.services_for(manifest.cluster_spec())
        for source in service.artifacts()
    }
    artifacts: dict[str, Artifact] = {}
    for service in services:
        for source in service.artifacts():
            kept = kept_artifact(manifest, source) if launched.get(source.name) == source else None
            artifacts[source.name] = kept or resolve_artifacts([service])[source.name]
    names = [name for s in services for name in s.secrets()]
    state = ClusterState(
        manifest.updated_with(new, records(artifacts), tuple(settings)) if changes else manifest,
        new_secrets(names, old.secrets),
    )
    return ServicePlan(new, services, artifacts, state, changes)


def configure(
    name: str,
    *,
    cloud: str | None = None,
    file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    ssh_cidr: str | None = None,
    trust_first_host_key: bool = False,
    health_timeout: float = 300.0,
    report: Reporter = silent,
) -> DeployReport:
    """Re-apply what the cluster runs (its manifest), changed by ``file`` or ``overrides``
    when given; restarts only what changed (nothing, when nothing did) and starts stopped
    daemons; waits up to ``health_timeout`` seconds for the services to be healthy."""
    check_cluster_name(name)
    if file is not None or overrides:
        load_spec(file, {"name": name, **(overrides or {})})  # every check before the network
    if ssh_cidr is not None:
        try:
            ssh_cidr = cidr(ssh_cidr)
        except ValueError as exc:
            raise UsageError(f"--ssh-cidr {shown(ssh_cidr)}: {exc}") from None
    session, cluster = open_cluster(name, cloud)
    if ssh_cidr:
        open_ssh_to(session, name, ssh_cidr)
    access = ssh_access(session, cluster, trust_first=trust_first_host_key)
    flags = {"name": name, **(overrides or {})}
    try:
        done = _sync.run(
            deploy_on(
                cluster,
                access,
                lambda old: _configure_plan(old, file, flags, report),
                report,
                health_timeout=health_timeout,
            )
        )
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; cluster {name} may be half configured: run "
            f"`sparkstack configure {name}` again"
        ) from None
    if done.differences and done.manifest is not None:
        record_manifest(session, cluster, done.manifest)
    return done


# ---- list and destroy ---------------------------------------------------------------------


def list_clusters(cloud: str | None = None) -> list[Cluster]:
    """Every sparkstack cluster of the project, found by its tags."""
    return read_all(connect(cloud))


def remove_cluster(cloud: Cloud, name: str, report: Reporter, phase: str) -> dict[str, int]:
    """Every resource of cluster ``name`` removed (by its tags), and its local key."""
    with Phase(report, phase, total=len(KINDS), text=f"removing {name}") as progress:
        removed = teardown(
            cloud, name, on_step=lambda kind, n: progress.advance(f"{n} {kind.replace('_', ' ')}")
        )
    keys.forget_cluster(cloud.identity, name)
    return removed


def destroy(name: str, cloud: str | None = None, report: Reporter = silent) -> dict[str, int]:
    """Remove every resource of the cluster; return counts per kind (all 0: nothing was left)."""
    check_cluster_name(name)
    session = connect(cloud)
    try:
        return remove_cluster(session, name, report, phase="destroy")
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; part of cluster {name} may be left: run `sparkstack destroy {name}` "
            "again"
        ) from None


def cluster_state(cluster: Cluster) -> str:
    """One word for a cluster: active, building, error, degraded (nodes missing or down),
    launching (a launch not finished), stopped (every node SHUTOFF or SHELVED) or empty."""
    statuses = {node.status for node in cluster.nodes}
    if not cluster.nodes:
        return "empty"
    if "ERROR" in statuses:
        return "error"
    if statuses & {"BUILD", "REBUILD", "REBOOT", "HARD_REBOOT"}:
        return "building"
    if cluster.launch_state == naming.LaunchState.LAUNCHING.value:
        return "launching"
    if statuses <= STOPPED:
        return "stopped"
    if statuses != {"ACTIVE"} or cluster.lost():
        return "degraded"
    return "active"


__all__ = ["configure", "destroy", "find_cluster", "launch", "list_clusters", "preflight"]
