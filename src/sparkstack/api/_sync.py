"""Run the library's coroutines from plain synchronous calls, anywhere, and stop them on Ctrl-C.

Called where no event loop runs (a script, the CLI), the coroutine gets a loop of its own in this
thread. Called from inside a running loop (Jupyter, an async application), it runs on a loop in a
worker thread and this thread waits, so the sync API works there too.

Ctrl-C (SIGINT in the main thread, or KeyboardInterrupt in the waiting thread) cancels the
coroutine, and keeps cancelling it every half second until it has ended: code that swallowed one
cancellation (asyncio.wait_for in Python 3.11 can) cannot hold the interrupt back. The caller
then gets KeyboardInterrupt, as from any blocking call.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

#: How long a cancelled coroutine may take to unwind before it is abandoned.
UNWIND_SECONDS = 8.0
_RECANCEL_SECONDS = 0.5


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result; KeyboardInterrupt on Ctrl-C."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_here(coro)
    return _run_beside(coro)


def _keep_cancelling(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    if not task.done():
        task.cancel()
        loop.call_later(_RECANCEL_SECONDS, _keep_cancelling, loop, task)


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop`` and close it, waiting a bounded time."""
    left = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in left:
        task.cancel()
    if left:
        loop.run_until_complete(asyncio.wait(left, timeout=UNWIND_SECONDS))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def _run_here(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    interrupted = threading.Event()

    def on_sigint(_signum: int, _frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for the unwind
        interrupted.set()
        loop.call_soon_threadsafe(_keep_cancelling, loop, task)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    try:
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupted.is_set():
                raise KeyboardInterrupt from None
            raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _finish(loop)
        if interrupted.is_set() and task.done() and not task.cancelled():
            # the coroutine ended on its own after the interrupt (with a result or an error
            # raised by the cancellation): the caller still learns that Ctrl-C was pressed
            raise KeyboardInterrupt


def _run_beside(coro: Coroutine[Any, Any, T]) -> T:
    """Run on a fresh loop in a worker thread (this thread's loop is busy running us)."""
    result: Future[T] = Future()
    started: Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[T]]] = Future()

    def worker() -> None:
        loop = asyncio.new_event_loop()
        task = loop.create_task(coro)
        started.set_result((loop, task))
        try:
            result.set_result(loop.run_until_complete(task))
        except BaseException as exc:
            result.set_exception(exc)
        finally:
            _finish(loop)

    thread = threading.Thread(target=worker, name="sparkstack-loop", daemon=True)
    thread.start()
    loop, task = started.result()
    try:
        return result.result()
    except KeyboardInterrupt:
        loop.call_soon_threadsafe(_keep_cancelling, loop, task)
        thread.join(UNWIND_SECONDS)
        raise
