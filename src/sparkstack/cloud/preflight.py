"""Checks before anything is created: credentials, names, images, flavors, quota headroom.

Every lookup runs concurrently (one list call each), every problem becomes one line that names
the resource, what is needed and what is left, and all problems are reported together.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sparkstack.cloud import naming
from sparkstack.cloud.concurrency import concurrently
from sparkstack.cloud.connection import Cloud
from sparkstack.cloud.images import baked_software
from sparkstack.cloud.layout import GroupRequest, total
from sparkstack.errors import PreflightError, QuotaPreflightError
from sparkstack.spec import ClusterSpec, ServerGroupPolicy


@dataclass(frozen=True)
class Flavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int = 0


@dataclass(frozen=True)
class Plan:
    """What preflight resolved: ids for every name in the spec, per node group."""

    project_id: str
    images: dict[str, str]  # group -> image id
    flavors: dict[str, Flavor]  # group -> flavor
    network_id: str | None  # None: the cluster gets its own network
    external_network_id: str | None  # floating-IP pool, and the created router's gateway
    security_group_ids: tuple[str, ...]
    keypair: str | None  # the user's existing keypair; None: sparkstack makes one
    #: group -> what its image holds, if sparkstack baked it ({service: {version, sha512...}})
    software: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


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
    spec: ClusterSpec,
    groups: list[GroupRequest],
    flavors: dict[str, Flavor],
    rules: int,
    creates_network: bool,
    new_cluster: bool = True,
) -> dict[str, int]:
    """What a launch of ``groups`` consumes, per quota resource (with ``new_cluster`` off:
    what adding them to a running cluster consumes, i.e. no new groups or rules)."""
    servers = total(groups)
    floating = sum(g.count for g in groups if g.floating_ip) if spec.use_floating_ips else 0
    in_server_group = spec.server_group_policy is not ServerGroupPolicy.NONE
    return {
        "instances": servers,
        "cores": sum(g.count * flavors[g.group].vcpus for g in groups),
        "ram_mb": sum(g.count * flavors[g.group].ram_mb for g in groups),
        "server_groups": int(in_server_group and new_cluster),
        "server_group_members": servers if in_server_group else 0,
        "floating_ips": floating,
        "ports": servers + (1 if creates_network else 0),
        "security_groups": int(new_cluster),
        "security_group_rules": rules,
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
        # members of the new group: none yet
        "server_group_members": (absolute.server_group_members, 0),
    }


def _network_usage(cloud: Cloud, project_id: str) -> dict[str, tuple[int, int]]:
    quota = cloud.conn.network.get_quota(project_id, details=True)
    fields = {
        "floating_ips": quota.floating_ips,
        "ports": quota.ports,
        "security_groups": quota.security_groups,
        "security_group_rules": quota.security_group_rules,
        "networks": quota.networks,
        "subnets": quota.subnets,
        "routers": quota.routers,
    }
    return {
        name: (int(v["limit"]), int(v["used"]) + int(v.get("reserved", 0)))
        for name, v in fields.items()
        if v
    }


def existing_resources(cloud: Cloud, cluster: str) -> list[str]:
    """What of ``cluster`` exists already (servers, security group, keypair, server group)."""
    tag = naming.cluster_tag(cluster)
    owned = naming.owned_name(cluster)
    conn = cloud.conn
    found = concurrently(
        {
            "servers": lambda: any(True for _ in conn.compute.servers(tags=tag, limit=1)),
            "security group": lambda: any(True for _ in conn.network.security_groups(tags=tag)),
            "floating IPs": lambda: any(True for _ in conn.network.ips(tags=tag)),
            "keypair": lambda: conn.compute.find_keypair(owned, ignore_missing=True) is not None,
            "server group": lambda: any(g.name == owned for g in conn.compute.server_groups()),
        },
        "preflight: existing cluster",
    )
    return [kind for kind, present in found.items() if present]


def _shape_calls(cloud: Cloud) -> dict[str, Callable[[], Any]]:
    """The lookups every check of a cluster's shape needs: images, flavors, networks, quotas."""
    conn = cloud.conn
    return {
        "images": lambda: list(conn.image.images()),
        "flavors": lambda: list(conn.compute.flavors(details=True)),
        "networks": lambda: list(conn.network.networks()),
        "compute quota": lambda: _compute_usage(cloud),
        "network quota": lambda: _network_usage(cloud, cloud.project_id),
    }


def _lookups(cloud: Cloud, spec: ClusterSpec) -> dict[str, Any]:
    conn = cloud.conn
    calls: dict[str, Callable[[], Any]] = {
        "existing cluster": lambda: existing_resources(cloud, spec.name),
        **_shape_calls(cloud),
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
    return concurrently(calls, "preflight")


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
        return str(found.id) if found else None
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
        return str(found.id) if found else None
    if len(external) == 1:
        return str(external[0].id)
    problems.append("external network: name one with --floating-ip-pool NAME")
    return None


def _resolve_groups(
    spec: ClusterSpec, groups: list[GroupRequest], found: dict[str, Any], problems: list[str]
) -> tuple[dict[str, Any], dict[str, Flavor]]:
    """Image and flavor of every group; a problem line per name not found or too small."""
    images: dict[str, Any] = {}
    flavors: dict[str, Flavor] = {}
    usable_images = [i for i in found["images"] if i.status == "active"]
    for group in groups:
        image, problem = resolve("image", group.image, usable_images)
        flavor, flavor_problem = resolve(
            f"flavor of group {group.group}", group.flavor, found["flavors"]
        )
        for line in (problem, flavor_problem):
            if line and line not in problems:
                problems.append(line)
        if image is None or flavor is None:
            continue
        images[group.group] = image
        flavors[group.group] = Flavor(flavor.id, flavor.name, flavor.vcpus, flavor.ram, flavor.disk)
        disk = spec.boot_volume_gb or flavor.disk
        if image.min_disk and disk and disk < image.min_disk:
            problems.append(
                f"group {group.group}: image '{image.name}' needs {image.min_disk} GB of disk, "
                f"flavor '{flavor.name}' has {disk}; pick a larger flavor or --boot-volume-gb"
            )
        if image.min_ram and flavor.ram < image.min_ram:
            problems.append(
                f"group {group.group}: image '{image.name}' needs {image.min_ram} MB of RAM, "
                f"flavor '{flavor.name}' has {flavor.ram}"
            )
    return images, flavors


def _ids(images: dict[str, Any]) -> dict[str, str]:
    return {group: str(image.id) for group, image in images.items()}


def _held(images: dict[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """What each group's image holds, for the groups whose image sparkstack baked."""
    return {group: held for group, image in images.items() if (held := baked_software(image))}


def _needs(
    found: dict[str, Any], needs: dict[str, int], usage_extra: dict[str, int] | None = None
) -> list[Need]:
    """Each resource's need against the project's limit and use (plus ``usage_extra``)."""
    usage = {**found["compute quota"], **found["network quota"]}
    extra = usage_extra or {}
    return [
        Need(resource, need, usage[resource][0], usage[resource][1] + extra.get(resource, 0))
        for resource, need in needs.items()
        if resource in usage
    ]


def _quota_problems(
    found: dict[str, Any], needs: dict[str, int], usage_extra: dict[str, int] | None = None
) -> list[str]:
    return [line for n in _needs(found, needs, usage_extra) if (line := n.problem())]


def quota_check(
    cloud: Cloud, spec: ClusterSpec, groups: list[GroupRequest], rules: int
) -> tuple[list[Need], list[str]]:
    """What a launch of ``groups`` would take from each quota, against what the project has
    left; and the names that could not be resolved (images, flavors). Creates nothing."""
    found: dict[str, Any] = concurrently(_shape_calls(cloud), "quota")
    problems: list[str] = []
    _images, flavors = _resolve_groups(spec, groups, found, problems)
    if len(flavors) != len(groups):
        return [], problems
    needs = quota_needs(spec, groups, flavors, rules, spec.network.create)
    return _needs(found, needs), problems


def run_add_preflight(
    cloud: Cloud, spec: ClusterSpec, groups: list[GroupRequest], members: int
) -> Plan:
    """Check what adding ``groups`` to the running cluster of ``spec`` needs (images, flavors,
    quota, the floating-IP pool when they get addresses); ``members`` is how many servers the
    cluster's server group holds already."""
    found: dict[str, Any] = concurrently(_shape_calls(cloud), "preflight")
    problems: list[str] = []
    images, flavors = _resolve_groups(spec, groups, found, problems)
    addressed = spec.use_floating_ips and any(g.floating_ip for g in groups)
    external_id = _pick_external(spec, found["networks"], problems) if addressed else None
    quota_problems: list[str] = []
    if len(flavors) == len(groups):
        needs = quota_needs(spec, groups, flavors, 0, False, new_cluster=False)
        quota_problems = _quota_problems(found, needs, {"server_group_members": members})
    problems.extend(quota_problems)
    if problems:
        raise (QuotaPreflightError if problems == quota_problems else PreflightError)(problems)
    return Plan(cloud.project_id, _ids(images), flavors, None, external_id, (), None, _held(images))


def run_preflight(cloud: Cloud, spec: ClusterSpec, groups: list[GroupRequest], rules: int) -> Plan:
    """Check everything the launch of ``groups`` needs; raise one error listing every problem.

    ``rules`` is how many security-group rules the cluster's group will hold (for the quota).
    """
    project_id = cloud.project_id
    found = _lookups(cloud, spec)
    if found["existing cluster"]:
        raise PreflightError(
            [
                f"cluster '{spec.name}' already exists on cloud '{cloud.name}' "
                f"({', '.join(found['existing cluster'])}); describe it, or run "
                f"`sparkstack destroy {spec.name}` first"
            ]
        )
    problems: list[str] = []
    images, flavors = _resolve_groups(spec, groups, found, problems)
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
    if len(flavors) == len(groups):
        needs = quota_needs(spec, groups, flavors, rules, spec.network.create)
        quota_problems = _quota_problems(found, needs)
    problems.extend(quota_problems)
    if problems:
        raise (QuotaPreflightError if problems == quota_problems else PreflightError)(problems)
    return Plan(
        project_id=project_id,
        images=_ids(images),
        flavors=flavors,
        network_id=network_id,
        external_network_id=external_id,
        security_group_ids=tuple(group_ids),
        keypair=keypair,
        software=_held(images),
    )
