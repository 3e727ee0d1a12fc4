"""Progress events: the library never prints, it reports what it does through a Reporter.

A phase (``provision``, ``ssh``, ``spark``...) starts, advances step by step and finishes. The CLI
draws these with rich progress bars; library users may pass their own callable or nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["phase_started", "step", "phase_done", "message"]


@dataclass(frozen=True)
class Event:
    """One thing that happened; ``completed``/``total`` are set for steps of a counted phase."""

    kind: EventKind
    phase: str
    text: str = ""
    completed: int | None = None
    total: int | None = None
    data: dict[str, object] = field(default_factory=dict)


Reporter = Callable[[Event], None]


def silent(_event: Event) -> None:
    """The default reporter: drop every event."""


class Phase:
    """Context manager that emits start, step and done events for one phase.

    >>> with Phase(report, "provision", total=4) as phase:
    ...     phase.advance("server 1 ACTIVE")
    """

    def __init__(self, report: Reporter, name: str, total: int | None = None, text: str = ""):
        self.report = report
        self.name = name
        self.total = total
        self.text = text or name
        self.completed = 0

    def __enter__(self) -> Phase:
        self.report(Event("phase_started", self.name, self.text, 0, self.total))
        return self

    def advance(self, text: str = "", by: int = 1) -> None:
        """Count ``by`` more steps as done."""
        self.completed += by
        self.report(Event("step", self.name, text, self.completed, self.total))

    def set_progress(self, completed: int, text: str = "") -> None:
        """Set the absolute number of finished steps (for polls that count states)."""
        self.completed = completed
        self.report(Event("step", self.name, text, completed, self.total))

    def message(self, text: str) -> None:
        """A line of information inside the phase."""
        self.report(Event("message", self.name, text))

    def __exit__(self, exc_type: object, *_: object) -> None:
        status = "done" if exc_type is None else "failed"
        self.report(Event("phase_done", self.name, status, self.completed, self.total))
