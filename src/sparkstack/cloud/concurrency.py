"""Independent API calls at once, and none left running when the caller moves on.

A plain ``with ThreadPoolExecutor`` starts every queued call even after an error or Ctrl-C; a
rollback listing resources meanwhile could miss one still being created. Here, on any failure
or interrupt, calls not yet started are dropped and the running ones are waited for, so when
the error reaches the caller nothing of this batch is still in flight.

Ctrl-C is held back while the calls are handed to the pool: a KeyboardInterrupt raised inside
``submit`` (while it starts a worker thread) leaves a running thread the pool does not know
yet, which its shutdown would not wait for (seen: a security group created after the rollback
had listed them).
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

from sparkstack.cloud.connection import translate_errors

T = TypeVar("T")

MAX_CALLS = 8


def concurrently(calls: Mapping[str, Callable[[], T]], action: str) -> dict[str, T]:
    """Run ``calls`` at once; their results by name, or the first error (translated, with
    the call's name in the message)."""
    return _run_all(calls, lambda name: f"{action}: {name}")


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Deliver a Ctrl-C pressed inside the block only when it ends (main thread only; the
    worker threads started inside inherit the mask, so the main thread gets the signal)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def for_each(items: Iterable[Any], action: Callable[[Any], object], what: str) -> int:
    """Apply ``action`` to every item at once (e.g. delete); return how many there were."""
    todo = list(items)
    calls = {str(i): functools.partial(action, item) for i, item in enumerate(todo)}
    _run_all(calls, lambda _name: what)
    return len(todo)


def _run_all(calls: Mapping[str, Callable[[], T]], describe: Callable[[str], str]) -> dict[str, T]:
    if not calls:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(MAX_CALLS, len(calls)))

    def run(name: str, call: Callable[[], T]) -> T:
        with translate_errors(describe(name)):
            return call()

    try:
        with _sigint_held():
            futures = {name: pool.submit(run, name, call) for name, call in calls.items()}
        done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
        for future in futures.values():
            error = future.exception() if future in done else None
            if error is not None:
                raise error
        return {name: future.result() for name, future in futures.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Let a rollback finish even if Ctrl-C is pressed again (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
