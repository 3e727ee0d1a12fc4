"""Draws the library's progress events as rich progress bars, one bar per phase."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from sparkstack.cli.output import err_console
from sparkstack.events import Event


class ProgressReporter:
    """A :data:`sparkstack.events.Reporter` that renders to stderr; use as a context manager."""

    def __init__(self, enabled: bool = True) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[phase]:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=err_console,
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, event: Event) -> None:
        if event.kind == "phase_started":
            self._tasks[event.phase] = self._progress.add_task(
                event.text, total=event.total, phase=event.phase
            )
            return
        task = self._tasks.get(event.phase)
        if task is None:
            return
        if event.kind == "step":
            self._progress.update(task, completed=event.completed, description=event.text)
        elif event.kind == "message":
            self._progress.console.print(f"  {event.phase}: {event.text}")
        elif event.kind == "phase_done":
            total = event.total if event.total is not None else event.completed
            self._progress.update(task, total=total, completed=total, description=event.text)
