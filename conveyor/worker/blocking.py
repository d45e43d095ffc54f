"""Running the worker's coroutine to its end from synchronous code, whether or not an
event loop already runs in the calling thread, and the signals that stop it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("conveyor.worker")
Run = Callable[..., Coroutine[Any, Any, None]]


def run_to_end(run: Run, stop_now: Callable[[], None] | None = None) -> None:
    """``run_on_new_loop(run(handle_signals=...), stop_now)`` in this thread (signals
    handled in the main thread); from async code (a loop runs here), on a loop of its own
    in a new thread, waited for, its error raised here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        main = threading.current_thread() is threading.main_thread()
        run_on_new_loop(run(handle_signals=main), stop_now)
        return
    failed: list[BaseException] = []

    def capture() -> None:
        try:
            run_on_new_loop(run(), stop_now)
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=capture, name="conveyor-worker")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


# Seconds the tasks still running when the worker ends get to finish once cancelled.
LEFTOVER_GRACE = 1.0
# Seconds a worker stopped at once by a KeyboardInterrupt or SystemExit that escaped its
# loop gets to store the outcomes it has and release the jobs it holds.
ESCAPE_GRACE = 10.0


def run_on_new_loop(main: Coroutine[Any, Any, None],
                    stop_now: Callable[[], None] | None = None) -> None:
    """``asyncio.run(main)``, except that tasks left running when ``main`` ends (an async
    job's coroutine abandoned because it ignores being cancelled) are cancelled and given
    LEFTOVER_GRACE seconds, never waited for forever; and that a KeyboardInterrupt or
    SystemExit raised on the loop outside ``main`` (asyncio carries those out of any task
    or callback, stopping the loop) first calls ``stop_now`` and lets ``main`` end (up to
    ESCAPE_GRACE seconds), so that the worker stores what it finished and releases what it
    holds before the exception goes on: no job is left running until its lease expires."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        task = loop.create_task(main)
        try:
            loop.run_until_complete(task)
        except (KeyboardInterrupt, SystemExit):
            if stop_now is None or task.done():
                raise
            stop_now()
            loop.run_until_complete(asyncio.wait([task], timeout=ESCAPE_GRACE))
            if task.done() and not task.cancelled():
                task.exception()  # read: the escaped exception is the one raised
            raise
    finally:
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=LEFTOVER_GRACE))
            for task in left:
                if task.done() and not task.cancelled():
                    task.exception()  # read: not logged as never retrieved
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def install_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[bool], None],
                    stopping: Callable[[], bool], supervised: bool) -> Callable[[], None]:
    """SIGTERM/SIGINT ``stop`` gracefully (``stop(False)``), a second one at once
    (``stop(True)``). A ``supervised`` worker gets its stop signal twice (systemd signals
    every process of the unit, the supervisor forwards its own): there SIGTERM/SIGINT only
    stop gracefully, and the supervisor's SIGUSR1 (its own second signal) stops at once.
    Returns what puts back the handlers found (the loop's close would leave the defaults:
    a program running ``app.run_worker()`` keeps its own handlers after it)."""
    def on_signal() -> None:
        if stopping() and not supervised:
            now()
        stop(False)

    def now() -> None:
        log.warning("second signal: stopping now")
        stop(True)  # cuts short a grace period already being waited out

    handlers = {signal.SIGTERM: on_signal, signal.SIGINT: on_signal}
    if supervised and hasattr(signal, "SIGUSR1"):
        handlers[signal.SIGUSR1] = now
    found: dict[signal.Signals, Any] = {}
    for sig, handler in handlers.items():
        with contextlib.suppress(NotImplementedError, RuntimeError):
            before = signal.getsignal(sig)
            loop.add_signal_handler(sig, handler)
            found[sig] = before

    def restore() -> None:
        for sig, before in found.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL if before is None else before)

    return restore
