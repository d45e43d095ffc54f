"""The worker's side of :class:`WorkerObserver`: tasks per job, in order, drained at stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from conveyor.observe import metrics, tracing

if TYPE_CHECKING:
    from conveyor.observe import ObservedApp, WorkerObserver
    from conveyor.stores.base import ClaimedJob, Outcome

log = logging.getLogger("conveyor.worker")

Call = Callable[["WorkerObserver"], Awaitable[None]]


class Dispatch:
    """Runs observer calls as tasks: one job's calls in order, never blocking the worker."""

    def __init__(self, app: ObservedApp) -> None:
        self.app = app
        metrics.install(app)  # attempts are counted when prometheus_client is installed
        tracing.install(app)  # and traced when OpenTelemetry is
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def started(self, job: ClaimedJob) -> None:
        if self.app.observers:
            self._add(job.id, lambda obs: obs.attempt_started(self.app, job))

    def finished(
        self, job: ClaimedJob, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        if self.app.observers:
            self._add(job.id, lambda obs: obs.attempt_finished(self.app, job, outcome, error))

    def _add(self, job_id: int, call: Call) -> None:
        before = self.tasks.get(job_id)
        observers = list(self.app.observers)

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])
            for observer in observers:
                try:
                    await call(observer)
                except Exception:
                    log.exception("observer %r failed for job %s", observer, job_id)

        task = asyncio.create_task(run())
        self.tasks[job_id] = task
        task.add_done_callback(lambda t: self._done(job_id, t))

    def _done(self, job_id: int, task: asyncio.Task[None]) -> None:
        if self.tasks.get(job_id) is task:
            del self.tasks[job_id]

    async def drain(self, timeout: float) -> None:
        """Wait (up to ``timeout`` seconds) for the observer calls still running."""
        if self.tasks:
            await asyncio.wait(list(self.tasks.values()), timeout=max(timeout, 0.001))
