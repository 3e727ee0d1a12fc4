"""Scheduled deletion, the logic alone: durations, when the reaper acts and why, what the
cloud's tags record, what describe shows. The agent's module is the very file shipped to
the nodes (stdlib only), imported here."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from sparkstack import validation as v
from sparkstack.cloud import naming
from sparkstack.cluster import Expiry
from sparkstack.errors import SpecError
from sparkstack.services import reaper_agent as agent
from sparkstack.services.pipeline import carry_over, services_for
from sparkstack.services.reaper import reaper_status
from sparkstack.spec import load_spec

pytestmark = pytest.mark.unit

T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("8h", 28800, "8h"),
        ("90m", 5400, "1h30m"),
        ("1d12h", 129600, "1d12h"),
        ("30d", 2592000, "30d"),
        ("1m", 60, "1m"),
        ("3600s", 3600, "1h"),
    ],
)
def test_durations(text: str, seconds: int, canonical: str) -> None:
    assert v.duration_seconds(text) == seconds
    assert v.duration(text) == canonical


@pytest.mark.parametrize("text", ["", "8", "59s", "31d", "8 h", "h", "1h 30m", "-1h", "1e3h", "8H"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        v.duration_seconds(text)


def test_idle_since_starts_with_the_first_idle_round_and_resets_on_an_application() -> None:
    assert agent.next_idle_since(None, False, T0) == T0
    assert agent.next_idle_since(T0, False, T0 + 30) == T0
    assert agent.next_idle_since(T0, True, T0 + 60) is None
    assert agent.next_idle_since(None, None, T0) == T0, "no master answering counts as idle"


def test_max_age_deadline() -> None:
    schedule = {"deadline": T0 + 100, "idle_timeout": None}
    assert agent.verdict(schedule, None, T0 + 99) is None
    assert agent.verdict(schedule, None, T0 + 100) == "max age"
    assert agent.verdict(schedule, T0, T0 + 100) == "max age"


def test_idle_timeout_counts_from_the_last_application() -> None:
    schedule = {"deadline": None, "idle_timeout": 120}
    assert agent.verdict(schedule, None, T0 + 10_000) is None, "busy: never due"
    assert agent.verdict(schedule, T0, T0 + 119) is None
    assert agent.verdict(schedule, T0, T0 + 120) == f"idle since {agent.iso(T0)}"


def test_the_sooner_of_max_age_and_idle_wins() -> None:
    schedule = {"deadline": T0 + 500, "idle_timeout": 120}
    assert agent.due_at(schedule, T0) == (T0 + 120, f"idle since {agent.iso(T0)}")
    assert agent.due_at(schedule, T0 + 450) == (T0 + 500, "max age")


def test_extend_holds_idleness_back() -> None:
    schedule = {"deadline": None, "idle_timeout": 120, "hold_until": T0 + 3600}
    assert agent.verdict(schedule, T0, T0 + 3599) is None
    assert agent.verdict(schedule, T0, T0 + 3600) is not None


def test_the_agent_needs_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(agent.__file__).read_text())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported


def test_expiry_tags_round_trip() -> None:
    for record in (
        Expiry(1_800_000_000, "abc123", 1_800_003_600),
        Expiry(None, "abc", 1_802_592_000),
    ):
        tags = naming.expiry_tags(record)
        assert all(len(t) <= 255 and "," not in t for t in tags)
        assert naming.expiry_from_tags(["sparkstack", *tags]) == record
        assert naming.without_expiry(["sparkstack", *tags]) == ["sparkstack"]
    assert naming.expiry_from_tags(["sparkstack-expiry:soon", "sparkstack-credential:x:1"]) is None


def test_spec_expiry_and_the_reaper_service() -> None:
    spec = load_spec(overrides={"name": "demo", "expiry": {"idle_timeout": "2m"}})
    assert spec.expiry is not None and spec.expiry.idle_timeout_seconds == 120
    assert spec.expiry.on_expiry == "delete"
    assert [s.name for s in services_for(spec)][-1] == "reaper"
    assert "reaper" not in [s.name for s in services_for(load_spec(overrides={"name": "demo"}))]


def test_configure_keeps_the_schedule_as_launched() -> None:
    launched = load_spec(overrides={"name": "d", "expiry": {"max_age": "8h"}}).model_dump(
        mode="json"
    )
    wanted = load_spec(overrides={"name": "d", "expiry": {"max_age": "1h"}}).model_dump(mode="json")
    assert carry_over(launched, wanted)["expiry"] == launched["expiry"]
    plain = load_spec(overrides={"name": "d"}).model_dump(mode="json")
    assert carry_over(plain, wanted)["expiry"] is None


def test_a_deleting_cluster_cannot_have_its_own_network() -> None:
    with pytest.raises(SpecError, match="cannot remove a network of its own"):
        load_spec(overrides={"name": "d", "network": {"create": True}, "expiry": {"max_age": "1h"}})
    load_spec(
        overrides={
            "name": "d",
            "network": {"create": True},
            "expiry": {"max_age": "1h", "on_expiry": "stop"},
        }
    )


def test_describe_line_of_the_reaper() -> None:
    status = reaper_status(
        {
            "running": True,
            "schedule": {"on_expiry": "delete", "idle_timeout": 120},
            "state": {"idle_since": T0},
        }
    )
    assert status.state == "healthy"
    assert status.summary == f"delete at {agent.iso(T0 + 120)} (idle since {agent.iso(T0)})"
    busy = reaper_status(
        {"running": True, "schedule": {"on_expiry": "stop", "idle_timeout": 60}, "state": {}}
    )
    assert busy.due_at is None and "busy now" in busy.summary
    down = reaper_status({"running": False, "schedule": {"deadline": T0}, "state": None})
    assert down.state == "down" and down.due_at == agent.iso(T0)
