"""The services of a cluster, in dependency order, run over the nodes that host their roles.

Which services a cluster runs follows from its spec: every registered service one of whose roles
some group hosts. They are ordered so that each runs after what it depends on; the deploy
prepares the nodes once, then takes each service through install, configure, start and health
before the next, handing each the outputs of those before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sparkstack.cluster import Role
from sparkstack.errors import SpecError
from sparkstack.services.base import Deployment, Port, Service, ServiceStatus
from sparkstack.services.hdfs import Hdfs
from sparkstack.services.object_storage import ObjectStorage
from sparkstack.services.prepare import prepare_nodes
from sparkstack.services.reaper import Reaper
from sparkstack.services.spark import SparkStandalone
from sparkstack.services.staging import staging_port
from sparkstack.services.zookeeper import ZooKeeper
from sparkstack.spec import ClusterSpec

#: Every service sparkstack knows; a new one is a module in services/ and a line here.
REGISTRY: tuple[type[Service], ...] = (ZooKeeper, Hdfs, ObjectStorage, SparkStandalone, Reaper)


def in_dependency_order(services: Iterable[Service]) -> list[Service]:
    """``services`` sorted so that each comes after those it depends on (stable otherwise)."""
    pending = {s.name: s for s in services}
    ordered: list[Service] = []
    while pending:
        ready = [s for s in pending.values() if not set(s.depends_on()) & set(pending)]
        if not ready:
            names = ", ".join(sorted(pending))
            raise SpecError(f"services {names} depend on each other in a circle")
        for service in ready:
            ordered.append(service)
            del pending[service.name]
    return ordered


def services_for(spec: ClusterSpec) -> list[Service]:
    """The services ``spec`` asks for, in the order they must be deployed."""
    wanted = [kind(spec) for kind in REGISTRY if kind.wanted(spec)]
    present = {s.name for s in wanted}
    for service in wanted:
        missing = set(service.depends_on()) - present
        if missing:
            raise SpecError(
                f"{service.name} needs {', '.join(sorted(missing))}, which no group hosts"
            )
    return in_dependency_order(wanted)


def member_ports(services: list[Service]) -> list[Port]:
    """Every port cluster members reach on each other: the services' and the staging port."""
    return [staging_port(), *(p for s in services for p in s.ports())]


def client_roles(services: Iterable[Service | type[Service]] = REGISTRY) -> set[Role]:
    """Roles a client reaches directly (those groups get floating IPs by default)."""
    return {role for s in services for role in s.client_roles}


def carry_over(launched: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any | None]:
    """``wanted``'s services' settings, as each service applies them over ``launched``."""
    return {
        kind.settings_key: kind.carry_over(
            launched.get(kind.settings_key) or {}, wanted.get(kind.settings_key) or {}
        )
        for kind in REGISTRY
    }


def job_runner() -> type[Service]:
    """The service that runs applications (``submit``)."""
    for kind in REGISTRY:
        if kind.runs_jobs:
            return kind
    raise SpecError("no service that runs jobs is known")


def web_ui(name: str, which: str | None = None) -> tuple[type[Service], int]:
    """The service ``name`` and the port of its web UI (``which``: another of its UIs)."""
    for kind in REGISTRY:
        if kind.name == name and which is not None:
            if which not in kind.web_uis:
                others = ", ".join(kind.web_uis) or "none"
                raise SpecError(f"{name} has no {which!r} web UI; its others: {others}")
            return kind, kind.web_uis[which]
        if kind.name == name and kind.web_ui_port is not None:
            return kind, kind.web_ui_port
    names = ", ".join(k.name for k in REGISTRY if k.web_ui_port is not None)
    raise SpecError(f"no web UI for service {name!r}; services with one: {names}")


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did: the nodes whose configuration changed, per service, and outputs."""

    changed: dict[str, list[str]]
    outputs: dict[str, str]


async def _prepare(dep: Deployment, services: list[Service]) -> None:
    await prepare_nodes(dep, {k: v for s in services for k, v in s.installed_links.items()})


async def install_software(dep: Deployment, services: list[Service]) -> None:
    """Prepare the nodes and install each service's software as a deploy does, configuring
    and starting nothing (how an image is baked)."""
    await _prepare(dep, services)
    for service in services:
        await service.install(dep)


async def deploy(dep: Deployment, services: list[Service], health_timeout: float) -> DeployResult:
    """Prepare the nodes once, then each service in order; idempotent (nothing changed:
    nothing written, nothing restarted)."""
    await _prepare(dep, services)
    changed: dict[str, list[str]] = {}
    for service in services:
        await service.install(dep)
        nodes = await service.configure(dep)
        await service.start(dep, nodes)
        await service.health(dep, health_timeout)
        dep.outputs.update(service.outputs(dep))
        changed[service.name] = sorted(nodes)
    return DeployResult(changed, dict(dep.outputs))


async def join(dep: Deployment, services: list[Service], health_timeout: float) -> DeployResult:
    """Bring the nodes of ``dep.scope`` into the running cluster: each service admits them,
    then the deploy acts on them alone (the others are only read)."""
    joining = dep.acting(dep.hosts)
    for service in services:
        await service.admit(dep, joining)
    return await deploy(dep, services, health_timeout)


async def stop(dep: Deployment, services: list[Service]) -> None:
    """Stop every service's daemons, those that others depend on last."""
    for service in reversed(services):
        await service.stop(dep)


async def status(dep: Deployment, services: list[Service]) -> list[ServiceStatus]:
    """Each service's state, in order (a broken one does not hide the others)."""
    found = []
    for service in services:
        found.append(await service.status(dep))
        dep.outputs.update(service.outputs(dep))
    return found
