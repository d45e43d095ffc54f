"""Supervision of a worker's background tasks: none of them dies silently.

Every task (completion flush, heartbeats, upkeep, the change watcher) runs its steps
through :meth:`Supervisor.step`: a failure is logged with its traceback under the
``conveyor`` logger, the task backs off and goes on. A task that fails
``budget`` times in a row (no success in between) means the worker cannot do its job;
the supervisor then records why and stops the worker, which releases its leases and
exits non-zero (``run_worker`` raises :class:`WorkerFailed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from conveyor.errors import WorkerFailed

log = logging.getLogger("conveyor.worker")

#: Failures in a row after which a task gives up and the worker stops.
FAILURE_BUDGET: Final = 8
#: Backoff between retries of a failing task (doubling from FIRST up to MAX seconds).
FIRST_BACKOFF: Final = 0.1
MAX_BACKOFF: Final = 5.0


class Supervisor:
    """Counts failures per task; decides when the worker must stop."""

    def __init__(self, stop: Callable[[], None], budget: int = FAILURE_BUDGET) -> None:
        self._stop = stop
        self.budget = budget
        self.failures: dict[str, int] = {}
        self.fatal: WorkerFailed | None = None

    def ok(self, name: str) -> None:
        self.failures.pop(name, None)

    def failed(self, name: str, exc: BaseException) -> float:
        """Log ``exc`` for task ``name``; returns the seconds to back off. Past the
        budget the worker is stopped (once) with the reason."""
        count = self.failures.get(name, 0) + 1
        self.failures[name] = count
        delay: float = min(FIRST_BACKOFF * 2.0 ** min(count - 1, 20), MAX_BACKOFF)
        log.error("worker task %r failed (%d in a row); retrying in %.1f s", name, count,
                  delay, exc_info=exc)
        if count >= self.budget:
            self.give_up(f"worker task {name!r} failed {count} times in a row; last error: "
                         f"{type(exc).__name__}: {exc}")
        return delay

    def give_up(self, why: str) -> None:
        if self.fatal is None:
            log.critical("stopping the worker: %s", why)
            self.fatal = WorkerFailed(why)
            self._stop()

    async def step(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run one step of task ``name``; on failure log, back off and return."""
        try:
            await body()
        except (asyncio.CancelledError, GeneratorExit):  # cancelled, or closed unfinished
            raise
        except BaseException as exc:  # any other: asyncio carries KeyboardInterrupt and
            # SystemExit out of the loop (the worker died holding its leases), and any
            # other BaseException ended the task without a word
            await asyncio.sleep(self.failed(name, exc))
        else:
            self.ok(name)

    def watch(self, task: asyncio.Task[None], stopping: Callable[[], bool]) -> None:
        """Stop the worker (logged, then WorkerFailed) should ``task``, which runs until
        cancelled, end any other way while the worker is not ``stopping``."""
        def ended(task: asyncio.Task[None]) -> None:
            if task.cancelled():
                return
            exc = task.exception()  # read even when stopping (else asyncio logs it as lost)
            if stopping():
                return
            log.error("worker task %r ended unexpectedly", task.get_name(), exc_info=exc)
            self.give_up(f"worker task {task.get_name()!r} ended unexpectedly: {exc!r}")

        task.add_done_callback(ended)

    async def forever(
        self, name: str, body: Callable[[], Awaitable[None]], pause: float = 0.0
    ) -> None:
        """A task: ``body`` again and again (``pause`` seconds apart) until cancelled."""
        while True:
            await self.step(name, body)
            if pause:
                await asyncio.sleep(pause)

