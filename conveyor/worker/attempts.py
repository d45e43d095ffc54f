"""The attempts a worker holds in this process, from claim to outcome: waiting for a slot,
running (an asyncio task, or a lane thread for sync jobs), finished (the outcome waits in
the outbox for the next batched flush), or abandoned once their lease is lost."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from conveyor.observe.dispatch import Dispatch
from conveyor.stores.base import ClaimedJob, Outcome
from conveyor.worker import report
from conveyor.worker.claims import Sizing
from conveyor.worker.execute import JobRunner
from conveyor.worker.lanes import Slots, ThreadLane
from conveyor.worker.outbox import Outbox

log = logging.getLogger("conveyor.worker")

# Claimed and not finished: a task per async job; None: waiting or on a lane thread.
Active = dict[int, tuple[ClaimedJob, asyncio.Task[None] | None]]


class Attempts:
    """Runs on the worker's event loop. ``active``, ``slots``, ``sizing``, ``lost`` and
    ``outbox`` are the worker's own, shared (its claims, heartbeats and shutdown read
    them); ``wake`` asks the worker to claim, ``flushed`` to store outcomes, ``settled``
    tells it a job left ``active``."""

    def __init__(
        self, runner: JobRunner, active: Active, slots: Slots, sizing: Sizing, lost: set[int],
        observers: Dispatch, outbox: Outbox, *, wake: asyncio.Event, flushed: asyncio.Event,
        settled: asyncio.Event, loop: asyncio.AbstractEventLoop, concurrency: int,
    ) -> None:
        self.runner, self.active, self.slots, self.sizing = runner, active, slots, sizing
        self.lost, self.observers, self.outbox = lost, observers, outbox
        self.wake, self.flushed, self.settled = wake, flushed, settled
        self.processed = 0  # outcomes handed to the outbox
        self.loop = loop
        self.left_soon = False  # a _left_now is scheduled (async jobs ended this pass)
        self.before_run: list[Callable[[ClaimedJob], None]] = []  # see _begin_on_lane
        self.why: dict[int, str] = {}  # abandoned: "released" (stopping), "cancelled"
        # Given the jobs too late to start (Slots.late), to give back (ClaimedAhead.late).
        self.give_back: Callable[[list[ClaimedJob]], None] = lambda jobs: None
        self.lane = ThreadLane(concurrency, runner, slots, lost,
                               lambda: loop.call_soon_threadsafe(self._lane_done),
                               sizing, self._begin_on_lane)

    def hold(self, jobs: list[ClaimedJob], start_by: float) -> None:
        """Claimed jobs wait for a slot (in claim order), then start if it is not past
        ``start_by`` (monotonic; else they are given back): observers hear of an attempt
        as it takes a slot, not at its claim (one claimed ahead may be given back
        unstarted, and claimed again)."""
        self.sizing.claimed(jobs)
        active = self.active
        for job in jobs:
            job.start_by = start_by
            active[job.id] = (job, None)
        self.lane.eager = self.observers.watching_starts()
        self.before_run = self.observers.before_run()
        with self.slots.lock:
            self.slots.ready.extend(jobs)
        self._dispatch()

    def stale_ahead(self, patience: float, now: float) -> list[ClaimedJob]:
        """Withdraw the jobs claimed ahead that still wait for a slot ``patience`` seconds
        after their claim (monotonic ``now``), for the worker to release to others."""
        since = self.sizing.since
        with self.slots.lock:
            stale = [j for j in self.slots.ready if now - since.get(j.id, now) >= patience]
        withdrawn = [j for job in stale for j in self.slots.withdraw(job.id)]
        for job in withdrawn:  # never started: observers never heard of them
            self.active.pop(job.id, None)
            since.pop(job.id, None)
        if withdrawn:
            self.sizing.slow()
            self.settled.set()
        return withdrawn

    async def gather(self, stopping: Callable[[], bool]) -> None:
        """While a limit holds work back, outcomes go with the claim of the slots they
        free: wait a little (``Sizing.gather``) for this worker's other held jobs to
        finish, so one transaction stores them all and claims as many, instead of freeing
        slots a few at a time (each outcome stored alone hands its slot to whichever
        worker claims next, and each claim is then of a few jobs)."""
        deadline = time.monotonic() + self.sizing.gather()
        while self.active and not stopping():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.flushed.wait(), left)
            except TimeoutError:
                return
            self.flushed.clear()

    def withdraw_unstarted(self) -> list[ClaimedJob]:
        """The worker stops: the jobs claimed ahead never start (observers never heard of
        them); returned, to be released."""
        unstarted = self.slots.withdraw()
        for job in unstarted:
            self.active.pop(job.id, None)
        return unstarted

    async def finish_running(self, grace: float, hurry: asyncio.Event) -> bool:
        """The worker stops: wait up to ``grace`` seconds (or until ``hurry`` is set) for
        the running attempts to end. Returns whether the wait was cancelled (a second
        signal): the caller releases the running jobs now, then ends cancelled."""
        if not self.active:
            return False
        log.info("waiting up to %g s for %s", grace,
                 report.count_jobs(len(self.active), "running"))
        all_done = asyncio.ensure_future(self._settle())
        hurried = asyncio.ensure_future(hurry.wait())
        cancelled = False
        try:
            await asyncio.wait([all_done, hurried], timeout=grace or 0.001,
                               return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            cancelled = True
        all_done.cancel()  # stops waiting; the job tasks themselves are not cancelled
        hurried.cancel()
        return cancelled

    async def _settle(self) -> None:
        while self.active:
            self.settled.clear()
            await self.settled.wait()

    def release_running(self) -> dict[int, int]:
        """The worker stops past its grace period: abandon the attempts still running
        (as "released") and close the lane; returns their leases (id -> token)."""
        leftover = {i: job.token for i, (job, _) in self.active.items()}
        for job_id in leftover:
            self.abandon(job_id, self.active[job_id][1], "released")
        self.lane.close()
        return leftover

    def _dispatch(self) -> None:
        taken = self.slots.take()
        late = self.slots.take_late()
        if late:  # never started: observers never heard of them
            for job in late:
                if self._tracks(job):
                    del self.active[job.id]
                    self.sizing.since.pop(job.id, None)
            self.settled.set()
            self.give_back(late)
        if taken:
            now, since = time.monotonic(), self.sizing.since
            for job in taken:
                job.waited = now - since.get(job.id, now)
            self.sizing.started(taken)
            report.started_all(taken)
            self.observers.started_all(taken)
        for job in taken:
            if self.runner.thread_native(job):
                self.lane.put(job)
            else:
                self.active[job.id] = (job, self._task(self._execute(job)))

    def _task(self, attempt: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """``loop.create_task(attempt)``, without its checks and naming per job unless
        the loop has a task factory of its own."""
        loop = self.loop
        if loop.get_task_factory() is None:
            return asyncio.Task(attempt, loop=loop)
        return loop.create_task(attempt)

    def _begin_on_lane(self, job: ClaimedJob) -> None:
        """On the lane thread that took ``job`` from slots.ready, before it runs it: the
        observers that must hear before the run (its span is current as it runs); the
        loop tells the others in its next wake-up (``_lane_done``), before the outcome."""
        now = time.monotonic()
        job.waited = now - self.sizing.since.get(job.id, now)
        for started_now in self.before_run:
            try:
                started_now(job)
            except Exception:
                log.exception("observer %r failed for job %s", started_now, job.id)

    def _lane_done(self) -> None:
        """On the loop: record the outcomes lane threads made (one wake-up per batch)."""
        begun, done = self.lane.drain()
        if begun:
            self.sizing.started(begun)
            report.started_all(begun)
            self.observers.started_all(begun, told_before=True)
        for job, outcome, error in done:
            if not self._tracks(job):  # abandoned while it ran: dropped
                self.lost.discard(job.id)  # (a new attempt, claimed since, stays)
                if job.id not in self.active:
                    self.sizing.since.pop(job.id, None)
                continue
            del self.active[job.id]
            self._record(job, outcome, error)
        self._left()

    def _tracks(self, job: ClaimedJob) -> bool:
        """self.active holds this attempt (not one of the job claimed again since)."""
        entry = self.active.get(job.id)
        return entry is not None and entry[0].token == job.token

    def _left(self) -> None:
        """Jobs left self.active: start waiting ones, claim more when few wait."""
        self._dispatch()
        self.settled.set()
        if len(self.slots.ready) <= self.sizing.low_water:
            self.wake.set()

    async def _execute(self, job: ClaimedJob) -> None:
        try:
            outcome = await self.runner.run(job)
        except asyncio.CancelledError:  # lost its lease or the worker is shutting down
            if self._tracks(job):  # (not a new attempt of the job, claimed since)
                self.sizing.since.pop(job.id, None)
            if job.id in self.lost:
                self.lost.discard(job.id)
                self._stopped(job)
            return
        finally:
            if self._tracks(job):
                del self.active[job.id]
            self.slots.release()
            if not self.left_soon:  # the slots async jobs free this pass: dispatched
                self.left_soon = True  # together once they have all ended
                self.loop.call_soon(self._left_now)
        self._record(job, outcome, self.runner.errors.pop(job.id, None))

    def _left_now(self) -> None:
        self.left_soon = False
        self._left()

    def _record(self, job: ClaimedJob, outcome: Outcome | None,
                error: BaseException | None) -> None:
        """A finished attempt: its outcome waits for the next batched flush."""
        self.sizing.finished(job.id)
        if outcome is None or job.id in self.lost:
            self.lost.discard(job.id)
            self._stopped(job)
            return
        self.outbox.add(job, outcome, error)
        self.processed += 1
        self.flushed.set()

    def abandon(self, job_id: int, task: asyncio.Task[None] | None,
                why: str | None = None) -> None:
        """Stop holding a job (``why``: "released" as the worker stops, "cancelled";
        None: lost, cause unknown): cancel its task; one waiting to start never starts;
        one on a lane thread (which cannot be interrupted) keeps its thread until it
        returns, and its outcome is dropped."""
        self.lost.add(job_id)
        if why is not None:
            self.why[job_id] = why
        if task is not None:
            task.cancel()
            return
        job, _ = self.active.pop(job_id)
        self.sizing.since.pop(job_id, None)
        if self.slots.withdraw(job_id):  # never started: observers never heard of it
            self.lost.discard(job_id)
            report.finished(job, None, self.why.pop(job_id, None))
        else:
            self._stopped(job)
        self.settled.set()

    def _stopped(self, job: ClaimedJob) -> None:
        """Report an attempt this worker stopped holding (no outcome of its own)."""
        report.finished(job, None, self.why.pop(job.id, None))
        self.observers.finished(job, None, None)
