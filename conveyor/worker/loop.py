"""The worker loop: claim in batches -> run (conveyor.worker.attempts) -> complete in
batches. The services it composes: store calls (conveyor.worker.storecalls), leases
(conveyor.worker.leases), the change watcher (conveyor.worker.watch) and the return of
jobs claimed ahead (conveyor.worker.ahead)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from conveyor.clock import epoch
from conveyor.observe.dispatch import Dispatch
from conveyor.options import coerce_queues, worker_concurrency
from conveyor.stores.base import Store, WorkerInfo
from conveyor.worker.abandoned import close_abandoned
from conveyor.worker.ahead import ClaimedAhead
from conveyor.worker.attempts import Active, Attempts
from conveyor.worker.blocking import install_signals, run_to_end
from conveyor.worker.claims import Sizing
from conveyor.worker.dbthread import DbThread
from conveyor.worker.duties import Duties
from conveyor.worker.exchange import Exchange
from conveyor.worker.execute import JobRunner
from conveyor.worker.isolation import refuse_worker
from conveyor.worker.lanes import Slots
from conveyor.worker.leases import Leases
from conveyor.worker.meta import Buffer
from conveyor.worker.outbox import Outbox
from conveyor.worker.report import count_jobs
from conveyor.worker.storecalls import StoreCalls, close_quietly
from conveyor.worker.supervise import FAILURE_BUDGET, Supervisor
from conveyor.worker.watch import ChangeWatch

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")
HELD_POLL = 0.2  # seconds between claims while due work is held back (pause, limits)
# An idle worker whose change watcher runs reads the due time every QUIET_POLLS x
# poll_interval (5 s): notifications wake it for new work, the read is the guarantee.
QUIET_POLLS = 5


class Worker:
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
        refuse_worker()
        self.app = app
        # A worker of `conveyor worker --processes N` (see blocking.install_signals).
        self.supervised = supervised
        self.restore_signals: Callable[[], None] = lambda: None  # (run: the handlers found)
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
        self.watch = ChangeWatch(self._stopping)

    # -- running -----------------------------------------------------------------
    def run_blocking(self) -> None:
        """Run on a new event loop in this thread, stopping on SIGTERM/SIGINT; called from
        async code (a loop runs here), on a loop of its own in a thread, waited for."""
        run_to_end(self.run, lambda: self.stop(force=True))

    async def run(self, handle_signals: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.flushed = asyncio.Event()
        self.hurry = asyncio.Event()  # a second signal: stop waiting for running jobs
        self.calls = calls = StoreCalls(DbThread(self.loop, "conveyor-db"), self.supervisor,
                                        self.outage_tolerance, self._stopping,
                                        lambda: self.grace)
        self.runner = JobRunner(self.app, self.buffer)
        self.settled = asyncio.Event()  # a job left self.active
        self.attempts = Attempts(
            self.runner, self.active, self.slots, self.sizing, self.lost, self.observers,
            self.outbox, wake=self.wake, flushed=self.flushed, settled=self.settled,
            loop=self.loop, concurrency=self.concurrency)
        self.leases = Leases(self.app, self.id, calls, self.attempts, self.outbox, self.buffer,
                             self.flushed, self.supervisor)
        try:
            self.store: Store = await calls.call(self.app.store.clone)
            await self.leases.open(self.loop)
            if handle_signals:
                self.restore_signals = install_signals(
                    self.loop, self.stop, self._stopping, self.supervised)
            await calls.call(calls.patient, self.store.register_worker, WorkerInfo(
                self.id, socket.gethostname(), os.getpid(), ",".join(self.queues or ["*"]),
                self.concurrency,
            ))
            # Limits declared in code become the store's, for every worker on every host.
            await calls.call(calls.patient, self.store.sync_limits, self.app.declared_limits())
        except BaseException:
            self.abandon_start()
            raise
        log.info("worker %s started (concurrency %d, queues %s)", self.id, self.concurrency,
                 ",".join(self.queues or ["all"]))
        self.watch.start(self.app.store, self.loop, self.wake)
        self.ahead = ClaimedAhead(self.attempts, calls, self.store)
        self.exchange = Exchange(
            self.app, self.id, self.queues, calls, self.store, self.outbox, self.attempts,
            self.duties, self.supervisor, self.ahead, self.watch, self.wake,
            stopping=self._stopping, held_back=lambda: self.held)
        supervise = self.supervisor.forever
        helpers = [
            asyncio.create_task(supervise("completion flush", self._flush_when_asked),
                                name="completion flush"),
            asyncio.create_task(self.leases.run(), name="heartbeats"),
            asyncio.create_task(supervise("claimed ahead", self.ahead.return_stale),
                                name="claimed ahead"),
        ]
        if not self.burst:
            helpers.append(asyncio.create_task(supervise(
                "upkeep", self._upkeep, self.maintenance_interval), name="upkeep"))
        for task in helpers:  # none ends silently (leaving leases unrenewed, say)
            self.supervisor.watch(task, self._stopping)
        try:
            await self._claim_loop()
        finally:
            self.stopping = True
            try:
                await self._shutdown(helpers)
            finally:  # (cancelled again as it stops, too) its threads end after their calls
                calls.pool.shutdown()
                self.leases.shutdown()
                await self.watch.end()  # its connections closed on return
                self.restore_signals()
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
        watch = self.watch
        while not self.stopping:
            claimed = False
            if self.maybe_work and self.exchange.wanted():
                claimed = True
                full = await self.exchange.claim()
                if full is None or full:  # None: nothing wanted now (the flush claimed)
                    continue
                if self.burst and not self.active and await self._burst_done():
                    return
                self._short_claim()
            timeout = self.poll_interval if not self.burst else 0.05
            if watch.watching and not self.active and not self.burst:
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
                due = await self.calls.guard(self.store.next_due, self.queues)
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
                if self.held and not watch.precise:
                    # Every write wakes an imprecise watcher (SQLite): while held, this
                    # worker's own outcomes and the poll claim; another's commits do not.
                    watch.hungry.clear()
                timeout = max(HELD_POLL if self.held else 0.0, min(timeout, due - now))
                held_until = time.monotonic() + timeout
            if was_held and not self.held and not self.maybe_work:
                watch.hungry.set()  # held back no more (nor listening): listen again
            self.wake.clear()
            if self.stopping:  # stop() may have set wake just before the clear above
                break
            if self.wake_pending():
                self.maybe_work = True
                continue
            try:
                if not watch.written:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                peek = watch.written  # a write somewhere, maybe not of a job: look first
            except TimeoutError:
                self.maybe_work = self.burst or self.held or due is not None
                peek = not self.maybe_work  # an idle poll
            watch.written = False  # the claim or the look below sees what it wrote
            if watch.changed:
                self.maybe_work, watch.changed = True, False
            elif peek and not self.maybe_work:  # one look at the due time, claim only if due
                peeked = await self.calls.guard(self.store.next_due, self.queues)
                self.maybe_work = peeked is not None and peeked <= epoch(self.app.clock)
                use_peek = not self.maybe_work
                if use_peek:
                    watch.hungry.set()

    maybe_work = True  # due work may be left: claim when slots free up
    held = False  # due work was left by the last claim (a pause or a full limit)

    @property
    def processed(self) -> int:
        """Outcomes this worker has stored or is storing."""
        return self.attempts.processed if hasattr(self, "attempts") else 0

    def _stopping(self) -> bool:
        return self.stopping

    @property
    def watching(self) -> bool:
        """The change watcher listens (an idle worker polls slowly)."""
        return self.watch.watching

    def wake_pending(self) -> bool:
        if self.watch.changed:
            self.watch.changed = False
            return True
        return False

    async def _burst_done(self) -> bool:
        """In burst mode: after maintenance, is anything due now that this worker may claim,
        or running here, or left running by a worker that is gone (its lease expires, then
        it runs here)? Work it may not claim (paused, held by a limit) and jobs running on
        live workers do not count. Holds the flush lock throughout: no claim or outcome is
        in flight while it looks."""
        async with self.exchange.lock:
            # Claimed (with outcomes stored) while this waited for the lock, or given back
            # unstarted and not in the queue yet (next_due would miss it): not done.
            if self.active or self.ahead.giving_back():
                return False
            await self.exchange.flush_locked(0)
            await self.supervisor.step("upkeep", lambda: self._upkeep(force=True))
            due = await self.calls.guard(self.store.next_due, self.queues)
            if self.active:
                return False
            if due is None or due > epoch(self.app.clock):
                orphaned = await self.calls.guard(self.duties.orphaned, self.store, self.queues,
                                             self.app.lease)
                return not orphaned
            lookout = getattr(self.store, "lookout", None)  # its memory may hide a new job
            if lookout is not None:
                lookout.forget()
            await self.exchange.flush_locked(1)
            return not self.active

    def _short_claim(self) -> None:
        """A claim found less than it asked for: no more due work, until told otherwise."""
        self.maybe_work = self.burst  # a burst worker keeps claiming until done
        if not self.maybe_work and (self.watch.precise or not self.held):
            self.watch.hungry.set()  # only now are change notifications worth watching

    async def _flush_when_asked(self) -> None:
        if not self.outbox:  # (outcomes left by a flush that failed go at once)
            await self.flushed.wait()
        self.flushed.clear()
        if not self.outbox:  # woken by outcomes the last flush took along
            return
        if self.held:
            await self.attempts.gather(self._stopping)
        elif self._claiming_soon() and await self.outbox.taken_within(
                self.sizing.gather(), self.sizing.batch):  # a few ms at most
            return  # the claim took them (those finished since wait for the next one)
        full = await self.exchange.flush(
            self.sizing.flush_least(self.held, self.maybe_work or self.exchange.flowing))
        if full is False and not self.burst:
            self._short_claim()

    def _claiming_soon(self) -> bool:
        """Will the claim loop claim within moments, taking the outcomes along? While work
        flows (the last claim came back full) and jobs claimed ahead wait for a slot, it
        claims as few enough are left: outcomes stored alone before that make two
        transactions where one would do (most of the cost of a quick job's outcome)."""
        return (self.maybe_work and self.exchange.flowing and not self.burst
                and bool(self.slots.ready) and self.sizing.quick())

    async def _upkeep(self, force: bool = False) -> None:
        await self.calls.guard(self.duties.maintain, self.store, force)

    def stop(self, force: bool = False) -> None:
        """Stop claiming; running jobs get ``grace`` seconds to finish (``force``: none),
        then are released to other workers. Safe to call from any thread."""
        self.stopping = True
        if force:
            self.grace = 0
        if hasattr(self, "wake"):
            with contextlib.suppress(RuntimeError):  # the loop is closed: stopped already
                if force and hasattr(self, "hurry"):
                    self.loop.call_soon_threadsafe(self.hurry.set)
                self.loop.call_soon_threadsafe(self.wake.set)

    def abandon_start(self) -> None:
        """A start that failed: the stores cloned so far are closed and the threads end,
        after the calls queued on them (nothing waits for them)."""
        self.restore_signals()
        main = getattr(self, "store", None)
        self.leases.abandon(main)
        if main is not None and main is not self.app.store:
            self.calls.pool.call(close_quietly, main)
        self.calls.pool.shutdown()

    async def _shutdown(self, helpers: list[asyncio.Task[None]]) -> None:
        # Back to the queue at once, not after the grace period: no longer heartbeated,
        # they would wait (unrun) for their leases to end.
        unstarted = {job.id: job.token for job in
                     [*self.attempts.withdraw_unstarted(), *self.ahead.unreleased()]}
        giving_back = asyncio.ensure_future(self.exchange.release(unstarted)) if unstarted else None
        cancelled = await self.attempts.finish_running(self.grace, self.hurry)
        leftover = self.attempts.release_running()
        await self.exchange.flush()
        if giving_back is not None:
            await giving_back
        if leftover:
            await self.exchange.release(leftover)
        for task in helpers:
            task.cancel()
        close_abandoned()
        await self.observers.drain(max(self.grace, 5.0))
        calls = self.calls
        with contextlib.suppress(Exception):
            await calls.call(calls.patient, self.store.unregister_worker, self.id)
        await self.leases.close(self.store)
        if self.store is not self.app.store:
            with contextlib.suppress(Exception):
                await calls.call(self.store.close)
        log.info("worker %s stopped after %s", self.id, count_jobs(self.attempts.processed))
        if cancelled:  # (a second signal as it waited for running jobs)
            raise asyncio.CancelledError
