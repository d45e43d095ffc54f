"""The worker loop: claim in batches -> run (conveyor.worker.attempts) -> complete in
batches (leases and shutdown: conveyor.worker.leases)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch
from conveyor.observe.dispatch import Dispatch
from conveyor.options import coerce_queues, worker_concurrency
from conveyor.stores.base import ClaimedJob, Store, WorkerInfo
from conveyor.worker.attempts import Active, Attempts
from conveyor.worker.blocking import run_to_end
from conveyor.worker.claims import AHEAD_PATIENCE, Sizing
from conveyor.worker.dbthread import DbThread
from conveyor.worker.duties import Duties
from conveyor.worker.execute import JobRunner
from conveyor.worker.lanes import Slots
from conveyor.worker.leases import LeasesMixin
from conveyor.worker.meta import Buffer
from conveyor.worker.outbox import Outbox
from conveyor.worker.outcomes import GaveUp
from conveyor.worker.supervise import FAILURE_BUDGET, Supervisor
from conveyor.worker.watch import WatchMixin

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")
HELD_POLL = 0.2  # seconds between claims while due work is held back (pause, limits)
# An idle worker whose change watcher runs reads the due time every QUIET_POLLS x
# poll_interval (5 s): notifications wake it for new work, the read is the guarantee.
QUIET_POLLS = 5


class Worker(LeasesMixin, WatchMixin):
    """Runs jobs from one app's store. Use ``app.run_worker()`` or ``conveyor worker``."""

    def __init__(
        self,
        app: Host,
        *,
        concurrency: int = 10,
        queues: Sequence[str] | str | None = None,
        burst: bool = False,
        grace: float = 30.0,
        batch: int | None = None,
        prefetch: int | None = None,
        poll_interval: float = 1.0,
        maintenance_interval: float = 1.0,
        outage_tolerance: float | None = 300.0,
        failure_budget: int = FAILURE_BUDGET,
        supervised: bool = False,
    ) -> None:
        self.app = app
        # A worker of `conveyor worker --processes N` (see _install_signals).
        self.supervised = supervised
        self.concurrency = worker_concurrency(concurrency)
        self.queues = coerce_queues(queues)
        self.burst = burst
        self.grace = grace
        self.sizing = Sizing(self.concurrency, prefetch, batch)
        self.slots = Slots(concurrency)
        self.poll_interval = poll_interval
        self.maintenance_interval = maintenance_interval
        # Past this many seconds without the store the worker stops (exit non-zero).
        self.outage_tolerance = outage_tolerance
        # A background task failing this many times in a row stops the worker.
        self.supervisor = Supervisor(self.stop, failure_budget)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.duties = Duties(app, self.id)  # extensions' look at claims, maintenance
        self.active: Active = {}  # claimed and not finished (conveyor.worker.attempts)
        self.observers = Dispatch(app)
        self.buffer = Buffer()
        self.outbox = Outbox(self.buffer, self.observers)  # finished, not stored yet
        self.lost: set[int] = set()
        self.stopping = False
        # The store calls now waiting for another process's write lock (logged once each).
        self.lock_waits: set[Callable[..., Any]] = set()
        # Set while the last claim found less than it asked for: the watcher thread only
        # listens for new work then (a busy worker claims again anyway).
        self.hungry = threading.Event()

    # -- running -----------------------------------------------------------------
    def run_blocking(self) -> None:
        """Run on a new event loop in this thread, stopping on SIGTERM/SIGINT; called from
        async code (a loop runs here), on a loop of its own in a thread, waited for."""
        run_to_end(self.run, lambda: self.stop(force=True))

    async def run(self, handle_signals: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.flushed = asyncio.Event()
        self.ahead = asyncio.Event()  # jobs claimed ahead wait for a slot (set on claims)
        # One flush at a time: shutdown's final flush must wait for the flusher's
        # in-flight write, which is cancelled (and lost) if it has not started yet.
        self.flush_lock = asyncio.Lock()
        self.hurry = asyncio.Event()  # a second signal: stop waiting for running jobs
        self.db_pool = DbThread(self.loop, "conveyor-db")
        self.runner = JobRunner(self.app, self.buffer)
        self.settled = asyncio.Event()  # a job left self.active
        self.attempts = Attempts(
            self.runner, self.active, self.slots, self.sizing, self.lost, self.observers,
            self.outbox, wake=self.wake, flushed=self.flushed, settled=self.settled,
            loop=self.loop, concurrency=self.concurrency)
        try:
            self.store: Store = await self.db(self.app.store.clone)
            await self.open_heartbeats()
            if handle_signals:
                self._install_signals()
            await self.db(self._patient, self.store.register_worker, WorkerInfo(
                self.id, socket.gethostname(), os.getpid(), ",".join(self.queues or ["*"]),
                self.concurrency,
            ))
            # Limits declared in code become the store's, for every worker on every host.
            await self.db(self._patient, self.store.sync_limits, self.app.declared_limits())
        except BaseException:
            self.abandon_start()
            raise
        log.info("worker %s started (concurrency %d, queues %s)", self.id, self.concurrency,
                 ",".join(self.queues or ["all"]))
        watcher = threading.Thread(target=self._watch, name="conveyor-watch", daemon=True)
        watcher.start()
        supervise = self.supervisor.forever
        helpers = [
            asyncio.create_task(supervise("completion flush", self._flush_when_asked),
                                name="completion flush"),
            asyncio.create_task(self._heartbeats(), name="heartbeats"),
            asyncio.create_task(supervise("claimed ahead", self._return_stale_ahead),
                                name="claimed ahead"),
        ]
        if not self.burst:
            helpers.append(asyncio.create_task(supervise(
                "upkeep", self._upkeep, self.maintenance_interval), name="upkeep"))
        for task in helpers:  # none ends silently (leaving leases unrenewed, say)
            self.supervisor.watch(task, lambda: self.stopping)
        try:
            await self._claim_loop()
        finally:
            self.stopping = True
            try:
                await self._shutdown(helpers)
            finally:  # (cancelled again as it stops, too) its threads end after their calls
                self.db_pool.shutdown()
                self.beat_pool.shutdown()
        if self.supervisor.fatal is not None:
            raise self.supervisor.fatal

    async def _claim_loop(self) -> None:
        """The main loop, supervised like the helpers (a failure past the budget stops
        the worker instead of killing it with its leases held)."""
        while not self.stopping:
            try:
                await self._main()
                return
            except Exception as exc:
                if self.stopping:
                    raise
                await asyncio.sleep(self.supervisor.failed("claim", exc))

    async def _main(self) -> None:
        self.maybe_work = True
        peeked: float | None = None  # next_due read by the last idle poll
        use_peek = False
        held_until = 0.0  # while held: when to claim again (monotonic)
        while not self.stopping:
            claimed = False
            if self.maybe_work and self._wanted():
                claimed = True
                full = await self._claim_alone()
                if full is None or full:  # None: nothing wanted now (the flush claimed)
                    continue
                if self.burst and not self.active and await self._burst_done():
                    return
                self._short_claim()
            timeout = self.poll_interval if not self.burst else 0.05
            if self.watching and not self.active and not self.burst:
                timeout *= QUIET_POLLS
            if self.maybe_work:
                due = None
            elif use_peek:
                due = peeked
            elif self.held and not claimed:
                # Still held (woken by a job of its own finishing): the due work is known;
                # the next claim comes with the outcomes stored, or when the poll is up.
                due, timeout = None, max(0.0, held_until - time.monotonic())
            else:
                due = await self._guard(self.store.next_due, self.queues)
            was_held = self.held
            if self.maybe_work or use_peek or claimed or due is not None:
                self.held = False
            use_peek = False
            if due is not None:
                # Work due now that the claim left (paused, or held by a limit): look
                # again a few times a second (and when this worker frees slots) rather
                # than spin.
                now = epoch(self.app.clock)
                self.held = due <= now
                if self.held and not self.precise_watch:
                    # Every write wakes an imprecise watcher (SQLite): while held, this
                    # worker's own outcomes and the poll claim; another's commits do not.
                    self.hungry.clear()
                timeout = max(HELD_POLL if self.held else 0.0, min(timeout, due - now))
                held_until = time.monotonic() + timeout
            if was_held and not self.held and not self.maybe_work:
                self.hungry.set()  # held back no more (nor listening): listen again
            self.wake.clear()
            if self.stopping:  # stop() may have set wake just before the clear above
                break
            if self.wake_pending():
                self.maybe_work = True
                continue
            try:
                if not self._written:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                peek = self._written  # a write somewhere, maybe not of a job: look first
            except TimeoutError:
                self.maybe_work = self.burst or self.held or due is not None
                peek = not self.maybe_work  # an idle poll
            self._written = False  # the claim or the look below sees what it wrote
            if self._changed:
                self.maybe_work, self._changed = True, False
            elif peek and not self.maybe_work:  # one look at the due time, claim only if due
                peeked = await self._guard(self.store.next_due, self.queues)
                self.maybe_work = peeked is not None and peeked <= epoch(self.app.clock)
                use_peek = not self.maybe_work
                if use_peek:
                    self.hungry.set()

    maybe_work = True  # due work may be left: claim when slots free up
    flowing = False  # the last claim came back full
    _changed = False  # jobs were stored (a precise waiter: LISTEN, this process)
    _written = False  # something was written (SQLite data_version): peek before claiming
    held = False  # due work was left by the last claim (a pause or a full limit)

    @property
    def processed(self) -> int:
        """Outcomes this worker has stored or is storing."""
        return self.attempts.processed if hasattr(self, "attempts") else 0

    def wake_pending(self) -> bool:
        if self._changed:
            self._changed = False
            return True
        return False

    async def _burst_done(self) -> bool:
        """In burst mode: after maintenance, is anything due now that this worker may claim,
        or running here, or left running by a worker that is gone (its lease expires, then
        it runs here)? Work it may not claim (paused, held by a limit) and jobs running on
        live workers do not count. Holds the flush lock throughout: no claim or outcome is
        in flight while it looks."""
        async with self.flush_lock:
            if self.active:  # claimed (with outcomes stored) while this waited for the lock
                return False
            await self._flush_locked(0)
            await self.supervisor.step("upkeep", lambda: self._upkeep(force=True))
            due = await self._guard(self.store.next_due, self.queues)
            if self.active:
                return False
            if due is None or due > epoch(self.app.clock):
                orphaned = await self._guard(self.duties.orphaned, self.store, self.queues,
                                             self.app.lease)
                return not orphaned
            lookout = getattr(self.store, "lookout", None)  # its memory may hide a new job
            if lookout is not None:
                lookout.forget()
            await self._flush_locked(1)
            return not self.active

    def _wanted(self) -> int:
        """How many jobs to claim now: 0 while enough wait for a slot (or stopping)."""
        return 0 if self.stopping else self.sizing.wanted(len(self.active),
                                                           len(self.slots.ready))

    def _short_claim(self) -> None:
        """A claim found less than it asked for: no more due work, until told otherwise."""
        self.maybe_work = self.burst  # a burst worker keeps claiming until done
        if not self.maybe_work and (self.precise_watch or not self.held):
            self.hungry.set()  # only now are change notifications worth watching

    async def _flush_when_asked(self) -> None:
        if not self.outbox:  # (outcomes left by a flush that failed go at once)
            await self.flushed.wait()
        self.flushed.clear()
        if not self.outbox:  # woken by outcomes the last flush took along
            return
        if self.held:
            await self._gather_outcomes()
        full = await self._flush_all(
            self.sizing.flush_least(self.held, self.maybe_work or self.flowing))
        if full is False and not self.burst:
            self._short_claim()

    async def _gather_outcomes(self) -> None:
        """While a limit holds work back, outcomes go with the claim of the slots they
        free: wait a little (``Sizing.gather``) for this worker's other held jobs to
        finish, so one transaction stores them all and claims as many, instead of freeing
        slots a few at a time (each outcome stored alone hands its slot to whichever
        worker claims next, and each claim is then of a few jobs)."""
        deadline = time.monotonic() + self.sizing.gather()
        while self.active and not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.flushed.wait(), left)
            except TimeoutError:
                return
            self.flushed.clear()

    async def _claim_alone(self) -> bool | None:
        """The claim loop's claim, without outcomes: those are the flush task's, in batches
        that grow while a claim runs (async jobs finish one by one). Returns whether the
        claim came back full (None: nothing wanted any more)."""
        async with self.flush_lock:
            want = self._wanted()
            if not want:
                return None
            jobs = await self._guard(self.store.claim, self.id, self.queues, want,
                                     self.app.lease)
            return await self._took(want, jobs)

    async def _flush_all(self, claim_least: int = 0) -> bool | None:
        """Store the outcomes (progress and logs first) and claim, in the same transaction,
        what free slots can take if that is at least ``claim_least`` jobs (0: no claim).
        Returns whether a claim came back full (None: no claim was made)."""
        async with self.flush_lock:
            return await self._flush_locked(claim_least)

    async def _flush_locked(self, claim_least: int) -> bool | None:
        want = self._wanted() if claim_least else 0
        if want < claim_least:
            want = 0
        full: bool | None = None
        while self.outbox or want:
            claim = (self.id, self.queues, want, self.app.lease) if want else None
            sent = await self.outbox.send(self._must, self.store, claim)
            if sent.due:
                self._written = True  # a retry or a wake-up time: read when due
                self.wake.set()
            if sent.stored and self.held and not want:  # a limit's slots freed: claim now
                self._changed = True
                self.wake.set()
            if sent.failed is not None:
                raise sent.failed
            if want:
                full = await self._took(want, sent.jobs)
                want = 0
        return full

    async def _took(self, want: int, jobs: list[ClaimedJob] | None) -> bool:
        """Claimed jobs wait for a slot (schedule occurrences seen by extensions first);
        returns whether the claim was full."""
        self.supervisor.ok("claim")
        full = jobs is not None and len(jobs) == want
        self.flowing = full  # a full claim: more is likely due (a trickle claims alone)
        if jobs and any(j.schedule_id for j in jobs):
            seen = await self._guard(self.duties.claimed, self.store, jobs)
            if seen is None:  # the store went away as extensions looked: not held, released
                await self._release({j.id: j.token for j in jobs})
                return full
            jobs = seen
        if jobs and self.stopping:  # claimed as the worker stops (shutdown may have begun)
            await self._release({j.id: j.token for j in jobs})
            return full
        self.attempts.hold(jobs or [])
        if self.slots.ready:
            self.ahead.set()
        return full

    async def _return_stale_ahead(self) -> None:
        """Give the jobs claimed ahead that have not started within AHEAD_PATIENCE of
        their claim back to the queue: the jobs they wait behind turned out slow, and
        other workers may be idle (a job is never stuck behind another's long run)."""
        if not self.slots.ready:
            self.ahead.clear()
            await self.ahead.wait()
        await asyncio.sleep(AHEAD_PATIENCE / 2)
        stale = self.attempts.stale_ahead(AHEAD_PATIENCE, time.monotonic())
        if not stale:
            return
        try:
            await self._must(self.store.release, {j.id: j.token for j in stale})
        except GaveUp as exc:
            log.warning("could not give back %d jobs claimed ahead (%s); they run again "
                        "once their leases expire", len(stale), exc)
            return
        log.debug("gave back %d jobs claimed ahead that waited %g s for a slot",
                  len(stale), AHEAD_PATIENCE)

    async def _upkeep(self, force: bool = False) -> None:
        await self._guard(self.duties.maintain, self.store, force)
