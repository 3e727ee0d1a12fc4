"""``quota``: what a cluster of some shape would take from the project's quotas, against what is
left, per resource; nothing is created. The same arithmetic as launch's preflight."""

from __future__ import annotations

from dataclasses import dataclass

from sparkstack.api.lifecycle import group_requests, member_ports
from sparkstack.cloud.connection import connect
from sparkstack.cloud.preflight import Need, quota_check
from sparkstack.cloud.security import rule_count
from sparkstack.services import pipeline
from sparkstack.spec import ClusterSpec


@dataclass(frozen=True)
class QuotaReport:
    """Each quota resource's need, limit and use; ``problems`` names what could not be looked
    up (an image or flavor not found: then there are no needs)."""

    cloud: str
    needs: list[Need]
    problems: list[str]

    @property
    def short(self) -> list[Need]:
        """The resources that do not have room for the cluster."""
        return [n for n in self.needs if n.problem()]

    @property
    def fits(self) -> bool:
        return not self.problems and not self.short


def quota(spec: ClusterSpec) -> QuotaReport:
    """What launching ``spec`` would need from each quota of its cloud, and what is left."""
    services = pipeline.services_for(spec)
    groups = group_requests(spec, services)
    ports = member_ports(services)
    cloud = connect(spec.cloud)
    needs, problems = quota_check(cloud, spec, groups, rule_count(ports, spec.open_ports))
    return QuotaReport(cloud.name, needs, problems)
