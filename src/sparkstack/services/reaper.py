"""The reaper: scheduled deletion, by a small agent on the first master (``expiry:``).

The agent (sparkstack.services.reaper_agent, a stdlib-only program: nodes have no openstacksdk)
reads two files sparkstack writes in its directory, mode 0600: ``credential.json`` (the
cluster's application credential and the public identity endpoint, made by the cloud layer at
launch and handed to this service in ``Deployment.given``) and ``schedule.json`` (the deadline,
the idle timeout, what to do, which Spark masters to watch). ``configure`` without a grant (a
``sparkstack configure``) rewrites the program and its control script but keeps both files, so
the credential's secret never has to leave the node again; ``extend`` rewrites the schedule.

It opens no port: it calls the cloud's APIs and reads the Spark masters' ``/json`` pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from sparkstack.cluster import Role
from sparkstack.errors import NodeError, ServiceError
from sparkstack.events import Phase
from sparkstack.nodes.files import FileSpec
from sparkstack.services import reaper_agent
from sparkstack.services.base import (
    Deployment,
    Host,
    Port,
    Service,
    ServiceStatus,
    control,
    template,
    write_each,
)
from sparkstack.services.spark import MASTER_UI_PORT
from sparkstack.validation import duration

HOME = "/var/lib/sparkstack-reaper"
CTL = f"{HOME}/reaper-ctl.sh"
UNIT = "sparkstack-reaper"
#: The key of :class:`ReaperGrant` in ``Deployment.given``.
GIVEN = "reaper"


@dataclass(frozen=True)
class ReaperGrant:
    """What the caller made for the reaper: its credential and deadlines (epoch seconds)."""

    auth_url: str
    region: str | None
    credential_id: str
    credential_secret: str = field(repr=False)
    deadline: int | None
    hold_until: int = 0

    def credential(self) -> dict[str, Any]:
        return {
            "auth_url": self.auth_url,
            "region": self.region,
            "id": self.credential_id,
            "secret": self.credential_secret,
        }


@dataclass(frozen=True)
class ReaperStatus(ServiceStatus):
    """The agent's view: when the cluster goes and why, since when it is idle."""

    due_at: str | None = None
    reason: str | None = None
    idle_since: str | None = None
    on_expiry: str | None = None


def agent_program() -> str:
    return Path(reaper_agent.__file__).read_text("utf-8")


class Reaper(Service):
    """The reaper agent on the first master, when the spec sets ``expiry``."""

    name: ClassVar[str] = "reaper"
    roles: ClassVar[tuple[Role, ...]] = (Role.SPARK_MASTER,)
    settings_key: ClassVar[str] = "expiry"

    @classmethod
    def wanted(cls, spec: Any) -> bool:
        return spec.expiry is not None

    @classmethod
    def carry_over(cls, launched: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any] | None:
        """The schedule is set at launch and moved by ``extend``, never by ``configure``."""
        return launched or None

    def depends_on(self) -> tuple[str, ...]:
        return ("spark",)

    def ports(self) -> list[Port]:
        return []

    @staticmethod
    def host(dep: Deployment) -> Host:
        return dep.first_with(
            Role.SPARK_MASTER, "the reaper needs a spark master; the cluster has none"
        )

    def schedule(self, dep: Deployment, deadline: int | None, hold_until: int) -> dict[str, Any]:
        """``schedule.json``: everything the agent decides with (no secret)."""
        expiry = self.spec.expiry
        if expiry is None:
            raise ServiceError("the reaper runs only for a cluster with expiry set")
        return {
            "cluster": dep.cluster,
            "server_id": self.host(dep).node.server_id,
            "spark_masters": [
                f"http://{h.ip}:{MASTER_UI_PORT}/json/" for h in dep.with_role(Role.SPARK_MASTER)
            ],
            "deadline": deadline,
            "idle_timeout": expiry.idle_timeout_seconds,
            "hold_until": hold_until,
            "on_expiry": expiry.on_expiry.value,
        }

    def render(self, dep: Deployment, host: Host) -> dict[str, FileSpec]:
        facts = dep.facts[host.name]
        user = facts["user"]
        ctl = template("reaper-ctl.sh.j2").render(home=HOME, systemd=facts.systemd, unit=UNIT)
        files = {
            f"{HOME}/reaper.py": FileSpec(agent_program(), 0o644, user),
            CTL: FileSpec(ctl, 0o755, user),
        }
        grant = dep.given.get(GIVEN)
        if isinstance(grant, ReaperGrant):
            files[f"{HOME}/credential.json"] = FileSpec(json.dumps(grant.credential()), 0o600, user)
            schedule = self.schedule(dep, grant.deadline, grant.hold_until)
            files[f"{HOME}/schedule.json"] = FileSpec(json.dumps(schedule), 0o600, user)
        if facts.systemd:
            unit = template("daemon.service.j2").render(
                description="sparkstack reaper", user=user, group=facts["group"], ctl=CTL
            )
            files[f"/etc/systemd/system/{UNIT}.service"] = FileSpec(unit, 0o644)
        return files

    async def install(self, dep: Deployment) -> None:
        return None  # python3 comes with node preparation; the program is a configured file

    async def configure(self, dep: Deployment) -> set[str]:
        hosts = dep.acting([self.host(dep)])
        user = {h.name: dep.facts[h.name]["user"] for h in hosts}
        return await write_each(
            dep,
            hosts,
            "reaper",
            lambda h: self.render(dep, h),
            lambda h: {HOME: (user[h.name], 0o700)},
            unread=frozenset({f"{HOME}/credential.json", f"{HOME}/schedule.json"}),
        )

    async def ctl(self, dep: Deployment, host: Host, *args: str) -> str:
        return await control(dep, host, CTL, "reaper", *args)

    async def start(self, dep: Deployment, changed: set[str]) -> None:
        hosts = dep.acting([self.host(dep)])
        with Phase(dep.report, "start", total=len(hosts), text="start the reaper") as phase:
            for host in hosts:
                state = await self.ctl(dep, host, "ensure", "1" if host.name in changed else "0")
                phase.advance(f"{host.name}: {state.splitlines()[-1] if state else 'nothing'}")

    async def stop(self, dep: Deployment) -> None:
        await self.ctl(dep, self.host(dep), "stop")

    async def health(self, dep: Deployment, timeout: float) -> None:
        host = self.host(dep)
        if await self.ctl(dep, host, "status") != "running":
            logs = await self.ctl(dep, host, "logs", "15")
            raise ServiceError(
                f"{host.name}: the reaper is not running; its log ends with:\n{logs}"
            )

    async def status(self, dep: Deployment) -> ReaperStatus:
        host = self.host(dep)
        try:
            shown = json.loads(await self.ctl(dep, host, "show"))
        except (NodeError, ServiceError, ValueError) as exc:
            return ReaperStatus("reaper", "unreachable", f"cannot read the reaper: {exc}")
        return reaper_status(shown)

    async def write_schedule(
        self, dep: Deployment, deadline: int | None, hold_until: int, grant: ReaperGrant | None
    ) -> None:
        """A new schedule (and with ``grant``, a new credential) for the running agent
        (``extend``): it reads its files every round, no restart needed."""
        host = self.host(dep)
        user = host.target.user
        schedule = self.schedule(dep, deadline, hold_until)
        files = {f"{HOME}/schedule.json": FileSpec(json.dumps(schedule), 0o600, user)}
        if grant is not None:
            files[f"{HOME}/credential.json"] = FileSpec(json.dumps(grant.credential()), 0o600, user)
        await dep.write_files(host, files)


def reaper_status(shown: dict[str, Any]) -> ReaperStatus:
    """What ``reaper-ctl.sh show`` printed, for describe."""
    schedule, state = shown.get("schedule") or {}, shown.get("state") or {}
    idle_since = state.get("idle_since")
    due = reaper_agent.due_at(schedule, idle_since)
    action = schedule.get("on_expiry")
    if due is not None:
        summary = f"{action} at {reaper_agent.iso(due[0])} ({due[1]})"
    else:
        idle = schedule.get("idle_timeout")
        summary = f"{action} when idle for {duration(f'{idle}s') if idle else '?'} (busy now)"
    running = bool(shown.get("running"))
    return ReaperStatus(
        "reaper",
        "healthy" if running else "down",
        summary if running else f"the reaper is not running; {summary}",
        [] if running else ["reaper not running on the first master"],
        due_at=reaper_agent.iso(due[0]) if due else None,
        reason=due[1] if due else None,
        idle_since=reaper_agent.iso(idle_since) if idle_since is not None else None,
        on_expiry=action,
    )
