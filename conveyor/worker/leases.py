"""The worker's leases: renewed by heartbeats on a thread and connection of their own (a
long claim or completion on the database thread never delays them); an attempt whose
lease was lost (cancelled, or rescued by another worker) is abandoned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from conveyor.stores.base import Store
from conveyor.worker.attempts import Attempts
from conveyor.worker.cadence import Cadence
from conveyor.worker.dbthread import DbThread
from conveyor.worker.meta import Buffer
from conveyor.worker.outbox import Outbox
from conveyor.worker.outcomes import GaveUp
from conveyor.worker.storecalls import StoreCalls, close_quietly
from conveyor.worker.supervise import Supervisor

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")
LATE_WARNINGS = 60.0  # seconds between warnings of late heartbeats


class Leases:
    """Keeps worker ``holder``'s leases on the attempts ``attempts`` holds and on the
    outcomes ``outbox`` has not stored yet (``app.lease`` seconds each); a heartbeat
    sets ``flushed`` when ``buffer`` holds progress or log lines to store."""

    def __init__(self, app: Host, holder: str, calls: StoreCalls, attempts: Attempts,
                 outbox: Outbox, buffer: Buffer, flushed: asyncio.Event,
                 supervisor: Supervisor) -> None:
        self.app, self.holder, self.calls, self.attempts = app, holder, calls, attempts
        self.outbox, self.buffer, self.flushed = outbox, buffer, flushed
        self.supervisor = supervisor
        self.pool: DbThread | None = None  # the heartbeats' thread (once open)
        self.store: Store | None = None  # ... and their store, on that thread

    async def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the heartbeats' thread and clone the app's store on it."""
        self.pool = DbThread(loop, "conveyor-heartbeat")
        self.store = await self.calls.call(self.app.store.clone, on=self.pool)

    async def close(self, main: Store) -> None:
        """After the last heartbeat (the same thread runs them in order): close their
        store unless it is the app's or ``main``; :meth:`shutdown` ends the thread."""
        store = self.store
        if store is not None and store is not self.app.store and store is not main:
            with contextlib.suppress(Exception):
                await self.calls.call(store.close, on=self.pool)

    def shutdown(self) -> None:
        """The thread ends after the calls queued on it (nothing waits for them)."""
        if self.pool is not None:
            self.pool.shutdown()

    def abandon(self, main: Store | None) -> None:
        """A start that failed: the store cloned (unless it is ``main``) is closed and
        the thread ends, after the calls queued on it."""
        if self.pool is None:
            return
        store = self.store if self.store is not main else None
        if store is not None and store is not self.app.store:
            self.pool.call(close_quietly, store)
        self.pool.shutdown()

    async def run(self) -> None:
        """Renew the leases every lease / 3 seconds on a fixed cadence (a slow heartbeat
        does not push the next one back); a late one is logged, at most once a minute."""
        cadence = Cadence(self._interval())
        warned = -LATE_WARNINGS
        while True:
            now = time.monotonic()
            late = cadence.start(now)
            if late >= cadence.interval and now - warned >= LATE_WARNINGS:
                warned = now
                log.warning("leases renewed %.1f s late (lease %g s): the event loop was "
                            "blocked (an async job doing blocking work?) or the store was "
                            "slow to answer; a lease that expires runs its job again",
                            late, self.app.lease)
            await self.supervisor.step("heartbeat", self.beat)
            await asyncio.sleep(cadence.wait(time.monotonic()))

    def _interval(self) -> float:
        return max(self.app.lease / 3.0, 0.05)

    async def beat(self) -> None:
        """One heartbeat: renew, then abandon the attempts whose leases were lost."""
        store = self.store
        assert store is not None, "heartbeats before open()"
        active = self.attempts.active
        held = {i: job.token for i, (job, _) in active.items()}
        held.update(self.outbox.held())  # not stored yet: still ours
        try:  # retried no slower than the cadence: a lease outlasts few retries
            lost = await self.calls.persist(store.heartbeat,
                                            (self.holder, held, self.app.lease), self.pool,
                                            patient=False, most=self._interval())
        except GaveUp:
            lost = set()
        if self.buffer:
            self.flushed.set()
        # Only the attempt renewed: one claimed again meanwhile holds a new token.
        mine = [i for i in lost if (e := active.get(i)) is not None and e[0].token == held[i]]
        cancelled = await self._cancelled(store, mine) if mine else set()
        for job_id in mine:
            entry = active.get(job_id)
            if entry is not None and entry[0].token == held[job_id]:
                why = "cancelled" if job_id in cancelled else None
                log.warning("job %s: lease lost (%s); abandoning", job_id,
                            why or "cancelled or rescued")
                self.attempts.abandon(job_id, entry[1], why)

    async def _cancelled(self, store: Store, ids: list[int]) -> set[int]:
        """Which of the jobs whose leases were lost are cancelled (read back: rare)."""
        def read() -> set[int]:
            return {i for i in ids if (s := store.state_of(i)) and s[0] == "cancelled"}

        try:
            return await self.calls.call(read, on=self.pool)
        except Exception:  # reported as lost, cause unknown
            log.debug("could not read the state of jobs whose leases were lost", exc_info=True)
            return set()
