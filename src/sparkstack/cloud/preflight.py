"""Checks before anything is created: credentials, names, quota headroom.

Every lookup runs concurrently (one list call each), every problem becomes one line that names
the resource, what is needed and what is left, and all problems are reported together.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.connection import Cloud, translate_errors
from sparkstack.errors import PreflightError, QuotaError, SparkstackError
from sparkstack.spec import ClusterSpec, ServerGroupPolicy


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int


@dataclass(frozen=True)
class Plan:
    """What preflight resolved: ids for every name in the spec."""

    project_id: str
    image_id: str
    master_flavor: Flavor
    worker_flavor: Flavor
    network_id: str | None  # None: the cluster gets its own network
    external_network_id: str | None  # floating-IP pool, and the created router's gateway
    security_group_ids: tuple[str, ...]
    keypair: str | None  # the user's existing keypair; None: sparkstack makes one


@dataclass(frozen=True)
class Need:
    """One quota resource: how much the launch needs, and the project's limit and usage."""

    resource: str
    need: int
    limit: int
    used: int

    def problem(self) -> str | None:
        """A line when the need does not fit, else None (a negative limit is unlimited)."""
        if self.need <= 0 or self.limit < 0:
            return None
        left = max(self.limit - self.used, 0)
        if self.need <= left:
            return None
        return (
            f"quota {self.resource}: need {self.need}, {left} left "
            f"(limit {self.limit}, used {self.used})"
        )


def suggest(name: str, candidates: Iterable[str]) -> str:
    """', did you mean ...?' for close names, else the list of what exists (at most 8)."""
    names = sorted({c for c in candidates if c})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    if not names:
        return "; there are none"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"; available: {shown}"


def resolve(kind: str, wanted: str, items: list[Any]) -> tuple[Any | None, str | None]:
    """Find by id, then by unique name; return (item, None) or (None, problem line)."""
    for item in items:
        if item.id == wanted:
            return item, None
    named = [item for item in items if item.name == wanted]
    if len(named) == 1:
        return named[0], None
    if len(named) > 1:
        return None, f"{kind} '{wanted}' is ambiguous ({len(named)} share the name); use its id"
    return None, f"{kind} '{wanted}' not found" + suggest(wanted, (i.name for i in items))


def quota_needs(
    spec: ClusterSpec, master: Flavor, worker: Flavor, creates_network: bool
) -> dict[str, int]:
    """What a launch of ``spec`` consumes, per quota resource."""
    servers = spec.masters.count + spec.workers.count
    return {
        "instances": servers,
        "cores": spec.masters.count * master.vcpus + spec.workers.count * worker.vcpus,
        "ram_mb": spec.masters.count * master.ram_mb + spec.workers.count * worker.ram_mb,
        "server_groups": int(spec.server_group_policy is not ServerGroupPolicy.NONE),
        "floating_ips": spec.masters.count if spec.use_floating_ips else 0,
        "ports": servers + (1 if creates_network else 0),
        "security_groups": 1,
        "networks": int(creates_network),
        "subnets": int(creates_network),
        "routers": int(creates_network),
    }


def _compute_usage(cloud: Cloud) -> dict[str, tuple[int, int]]:
    absolute = cloud.conn.compute.get_limits().absolute
    return {
        "instances": (absolute.instances, absolute.instances_used),
        "cores": (absolute.total_cores, absolute.total_cores_used),
        "ram_mb": (absolute.total_ram, absolute.total_ram_used),
        "server_groups": (absolute.server_groups, absolute.server_groups_used),
    }


def _network_usage(cloud: Cloud, project_id: str) -> dict[str, tuple[int, int]]:
    quota = cloud.conn.network.get_quota(project_id, details=True)
    fields = {
        "floating_ips": quota.floating_ips,
        "ports": quota.ports,
        "security_groups": quota.security_groups,
        "networks": quota.networks,
        "subnets": quota.subnets,
        "routers": quota.routers,
    }
    return {
        name: (int(v["limit"]), int(v["used"]) + int(v.get("reserved", 0)))
        for name, v in fields.items()
        if v
    }


def _existing_cluster(cloud: Cloud, cluster: str) -> bool:
    tag = naming.cluster_tag(cluster)
    servers = cloud.conn.compute.servers(details=False, tags=tag, limit=1)
    groups = cloud.conn.network.security_groups(tags=tag)
    return any(True for _ in servers) or any(True for _ in groups)


def _parallel(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent lookups at once; the first error (already translated) propagates."""

    def run(item: tuple[str, Callable[[], Any]]) -> tuple[str, Any]:
        name, call = item
        with translate_errors(f"preflight: {name}"):
            return name, call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return dict(pool.map(run, calls.items()))


def _lookups(cloud: Cloud, spec: ClusterSpec, project_id: str) -> dict[str, Any]:
    conn = cloud.conn
    calls: dict[str, Callable[[], Any]] = {
        "existing cluster": lambda: _existing_cluster(cloud, spec.name),
        "images": lambda: list(conn.image.images()),
        "flavors": lambda: list(conn.compute.flavors(details=True)),
        "networks": lambda: list(conn.network.networks()),
        "compute quota": lambda: _compute_usage(cloud),
        "network quota": lambda: _network_usage(cloud, project_id),
    }
    if spec.key.keypair:
        calls["keypairs"] = lambda: list(conn.compute.keypairs())
    if spec.security_groups:
        calls["security groups"] = lambda: list(conn.network.security_groups())
    if spec.availability_zone:
        calls["availability zones"] = lambda: [
            z.name for z in conn.compute.availability_zones() if z.state.get("available")
        ]
    if spec.boot_volume_gb:
        calls["block storage"] = lambda: conn.has_service("block-storage")
    return _parallel(calls)


def _pick_network(
    spec: ClusterSpec, networks: list[Any], project_id: str, problems: list[str]
) -> str | None:
    if spec.network.create:
        return None
    tenant = [n for n in networks if not n.is_router_external]
    if spec.network.name:
        found, problem = resolve("network", spec.network.name, tenant)
        if problem:
            problems.append(problem)
        return found.id if found else None
    own = [n for n in tenant if n.project_id == project_id] or tenant
    if len(own) == 1:
        return str(own[0].id)
    names = ", ".join(sorted(n.name for n in own)) or "none"
    problems.append(
        f"network: choose one with --network NAME (project networks: {names}) "
        "or make one with --create-network"
    )
    return None


def _pick_external(spec: ClusterSpec, networks: list[Any], problems: list[str]) -> str | None:
    external = [n for n in networks if n.is_router_external]
    if not (spec.use_floating_ips or spec.network.create):
        return None
    if spec.floating_ip_pool:
        found, problem = resolve(
            "floating-IP pool (external network)", spec.floating_ip_pool, external
        )
        if problem:
            problems.append(problem)
        return found.id if found else None
    if len(external) == 1:
        return str(external[0].id)
    problems.append("external network: name one with --floating-ip-pool NAME")
    return None


def _check_quotas(
    needs: dict[str, int], usage: dict[str, tuple[int, int]], problems: list[str]
) -> list[str]:
    quota_problems = []
    for resource, need in needs.items():
        if resource in usage:
            limit, used = usage[resource]
            line = Need(resource, need, limit, used).problem()
            if line:
                quota_problems.append(line)
    problems.extend(quota_problems)
    return quota_problems


def run_preflight(cloud: Cloud, spec: ClusterSpec) -> Plan:
    """Check everything the launch needs; raise one error listing every problem."""
    with translate_errors("authenticating"):
        cloud.conn.authorize()
        project_id = str(cloud.conn.current_project_id)
    found = _lookups(cloud, spec, project_id)
    problems: list[str] = []
    if found["existing cluster"]:
        raise PreflightError(
            f"cluster '{spec.name}' already exists on cloud '{cloud.name}'; "
            f"describe it, or run `sparkstack destroy {spec.name}` first"
        )
    image, problem = resolve("image", spec.image, found["images"])
    if problem:
        problems.append(problem)
    flavors = {}
    for role, group in (("master", spec.masters), ("worker", spec.workers)):
        flavor, problem = resolve(f"{role} flavor", group.flavor, found["flavors"])
        if problem and (role == "master" or group.count > 0):
            problems.append(problem)
        if flavor:
            flavors[role] = Flavor(flavor.id, flavor.name, flavor.vcpus, flavor.ram)
    network_id = _pick_network(spec, found["networks"], project_id, problems)
    external_id = _pick_external(spec, found["networks"], problems)
    keypair = None
    if spec.key.keypair:
        kp, problem = resolve("keypair", spec.key.keypair, found["keypairs"])
        problems.extend([problem] if problem else [])
        keypair = kp.name if kp else None
    group_ids = []
    for wanted in spec.security_groups:
        sg, problem = resolve("security group", wanted, found.get("security groups", []))
        problems.extend([problem] if problem else [])
        group_ids.extend([sg.id] if sg else [])
    zone = spec.availability_zone
    if zone and zone not in found["availability zones"]:
        problems.append(
            f"availability zone '{zone}' not found" + suggest(zone, found["availability zones"])
        )
    if spec.boot_volume_gb and not found["block storage"]:
        problems.append(
            "boot volume: this cloud has no block-storage service; drop --boot-volume-gb"
        )
    quota_problems: list[str] = []
    if "master" in flavors and "worker" in flavors:
        needs = quota_needs(spec, flavors["master"], flavors["worker"], spec.network.create)
        usage = {**found["compute quota"], **found["network quota"]}
        quota_problems = _check_quotas(needs, usage, problems)
    if problems:
        error_class: type[SparkstackError] = (
            QuotaError if problems == quota_problems else PreflightError
        )
        raise error_class("; ".join(problems) if len(problems) > 1 else problems[0])
    assert image is not None
    return Plan(
        project_id=project_id,
        image_id=image.id,
        master_flavor=flavors["master"],
        worker_flavor=flavors["worker"],
        network_id=network_id,
        external_network_id=external_id,
        security_group_ids=tuple(group_ids),
        keypair=keypair,
    )
