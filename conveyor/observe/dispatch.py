"""The worker's side of the observers: inline ones called in place, async ones as tasks
per job (in order, drained at stop), and nothing at all for observers that watch nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, cast

from conveyor.observe import Ended, metrics, tracing
from conveyor.observe.safely import tell_batch, tell_each

if TYPE_CHECKING:
    from conveyor.observe import InlineObserver, ObservedApp, Observer, WorkerObserver
    from conveyor.stores.base import ClaimedJob, Outcome

log = logging.getLogger("conveyor.worker")

Call = Callable[["WorkerObserver"], Awaitable[None]]


class Dispatch:
    """Tells the app's observers about attempts, never blocking the worker."""

    def __init__(self, app: ObservedApp) -> None:
        self.app = app
        metrics.install(app)  # attempts are counted when prometheus_client is installed
        tracing.install(app)  # and traced when OpenTelemetry is
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._seen: tuple[Observer, ...] = ()
        self._inline: list[InlineObserver] = []
        self._async: list[WorkerObserver] = []

    def _split(self) -> None:
        """Sort ``app.observers`` into inline and async ones (again when it changed)."""
        seen = tuple(self.app.observers)
        if seen != self._seen:
            self._seen = seen
            self._inline, self._async = [], []
            for observer in seen:
                if hasattr(observer, "started_now"):
                    self._inline.append(cast("InlineObserver", observer))
                else:
                    self._async.append(observer)

    def _watching(self, event: str) -> list[WorkerObserver]:
        """The async observers that want ``event`` now."""
        wanted = []
        for observer in self._async:
            watching = getattr(observer, "watching", None)
            if watching is None or watching(event):
                wanted.append(observer)
        return wanted

    def started(self, job: ClaimedJob) -> None:
        self.started_all((job,))

    def started_all(self, jobs: Sequence[ClaimedJob], *, told_before: bool = False) -> None:
        """Attempts started (jobs that took a slot, in order): each observer hears of the
        batch at once (an inline one with ``started_all`` in one call). ``told_before``:
        the observers that must hear before the run (:meth:`before_run`) already have."""
        self._split()
        for inline in self._inline:
            if told_before and getattr(inline, "before_run", False):
                continue
            many = getattr(inline, "started_all", None)
            if many is not None:
                tell_batch(inline, many, jobs, lambda: jobs)
            else:
                tell_each(inline, inline.started_now, zip(jobs, strict=True))
        if self._async:
            observers = self._watching("started")
            if observers:
                for job in jobs:
                    self._add(job.id, observers, self._started_call(job))

    def finished(
        self, job: ClaimedJob, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        self.finished_all(((job, outcome, error),))

    def finished_all(self, ended: Sequence[Ended]) -> None:
        """Attempts ended (``(job, outcome, error)`` each, as ``finished`` takes them):
        each observer hears of the batch at once (an inline one with ``finished_all`` in
        one call)."""
        self._split()
        for inline in self._inline:
            many = getattr(inline, "finished_all", None)
            if many is not None:
                tell_batch(inline, many, ended, lambda: (job for job, _, _ in ended))
            else:
                tell_each(inline, inline.finished_now, ended)
        if self._async:
            observers = self._watching("finished")
            if observers:
                for job, outcome, error in ended:
                    self._add(job.id, observers, self._finished_call(job, outcome, error))

    def watching_starts(self) -> bool:
        """Whether an async observer wants to hear of starts (on the event loop)."""
        self._split()
        return bool(self._async) and bool(self._watching("started"))

    def before_run(self) -> list[Callable[[ClaimedJob], None]]:
        """The ``started_now`` of the inline observers that must hear of an attempt
        before it runs, on the thread that runs it (``before_run = True``: a span that
        is current as the job runs); the others hear later, in a batch, on the loop."""
        self._split()
        return [inline.started_now for inline in self._inline
                if getattr(inline, "before_run", False)]

    def _started_call(self, job: ClaimedJob) -> Call:
        return lambda obs: obs.attempt_started(self.app, job)

    def _finished_call(self, job: ClaimedJob, outcome: Outcome | None,
                       error: BaseException | None) -> Call:
        return lambda obs: obs.attempt_finished(self.app, job, outcome, error)

    def _add(self, job_id: int, observers: list[WorkerObserver], call: Call) -> None:
        before = self.tasks.get(job_id)

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])
            for observer in observers:
                try:
                    await call(observer)
                except (asyncio.CancelledError, GeneratorExit):
                    raise
                except BaseException:  # KeyboardInterrupt, SystemExit: not out of the loop
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
