"""Draws the library's progress events: rich progress bars on a terminal, plain lines elsewhere.

On a terminal each phase gets a bar. When stderr is a file or a pipe (CI logs, scripts), each
event becomes one line, ``sparkstack: <phase> <what>``, so a log shows what happened when.
Warnings (the ``warning`` phase) are always shown as ``warning:`` lines.
"""

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

from sparkstack.cli.output import err_console, warning_line
from sparkstack.events import Event


class ProgressReporter:
    """A :data:`sparkstack.events.Reporter` that renders to stderr; use as a context manager."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars = enabled and err_console.is_terminal
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[phase]:<10}", markup=False, style="bold"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}", markup=False),
            console=err_console,
            disable=not self.bars,
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
        if event.phase == "warning":
            if event.kind == "message":
                warning_line(event.text)
            return
        if not self.enabled:
            return
        if not self.bars:
            self._line(event)
            return
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

    @staticmethod
    def _line(event: Event) -> None:
        counted = f" {event.completed}/{event.total}" if event.total else ""
        kind = {"phase_started": "started", "phase_done": "", "step": "", "message": ""}
        text = " ".join(p for p in (kind[event.kind], event.text) if p)
        err_console.print(f"sparkstack: {event.phase}{counted} {text}", soft_wrap=True)
