"""The worker's exchanges with the store, one at a time: claims, and outcomes stored in
batches with the claim of the slots they free in the same transaction; claimed jobs go
to the worker's attempts (schedule occurrences seen by extensions first)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from conveyor.stores.base import ClaimedJob, Store
from conveyor.worker.ahead import ClaimedAhead
from conveyor.worker.attempts import Attempts
from conveyor.worker.claims import START_WITHIN
from conveyor.worker.duties import Duties
from conveyor.worker.outbox import Outbox
from conveyor.worker.report import count_jobs
from conveyor.worker.storecalls import StoreCalls
from conveyor.worker.supervise import Supervisor
from conveyor.worker.watch import ChangeWatch

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")


class Exchange:
    """Worker ``holder``'s claims (of ``queues``, leased for ``app.lease`` seconds) and
    flushes of ``outbox`` to ``store`` through ``calls``. A flush that stored a retry or
    a wake-up time, or freed a limit's slots while work is ``held_back``, marks ``watch``
    and sets ``wake`` for the claim loop; ``stopping``: claim nothing, release what a
    claim brings."""

    def __init__(self, app: Host, holder: str, queues: list[str] | None,
                 calls: StoreCalls, store: Store, outbox: Outbox, attempts: Attempts,
                 duties: Duties, supervisor: Supervisor, ahead: ClaimedAhead,
                 watch: ChangeWatch, wake: asyncio.Event, *,
                 stopping: Callable[[], bool], held_back: Callable[[], bool]) -> None:
        self.app, self.holder, self.queues = app, holder, queues
        self.calls, self.store, self.outbox, self.attempts = calls, store, outbox, attempts
        self.duties, self.supervisor, self.ahead = duties, supervisor, ahead
        self.watch, self.wake, self.stopping, self.held_back = watch, wake, stopping, held_back
        # One exchange at a time: shutdown's final flush must wait for the flusher's
        # in-flight write, which is cancelled (and lost) if it has not started yet.
        self.lock = asyncio.Lock()
        attempts.lane.exchanging = self.lock.locked
        self.flowing = False  # the last claim came back full

    def wanted(self) -> int:
        """How many jobs to claim now: 0 while enough wait for a slot (or stopping)."""
        attempts = self.attempts
        return 0 if self.stopping() else attempts.sizing.wanted(len(attempts.active),
                                                                len(attempts.slots.ready))

    async def claim(self) -> bool | None:
        """The claim loop's claim. Outcomes are the flush task's, in batches that grow
        while a claim runs (async jobs finish one by one); those waiting as the claim
        goes out go with it, in the same transaction (one statement, not two). Returns
        whether the claim came back full (None: nothing wanted any more)."""
        async with self.lock:
            want = self.wanted()
            if not want:
                return None
            if self.outbox:
                return await self.flush_locked(1)
            sent = time.monotonic()
            jobs = await self.calls.guard(self.store.claim, self.holder, self.queues, want,
                                          self.app.lease)
            return await self._took(want, jobs, sent)

    async def flush(self, claim_least: int = 0) -> bool | None:
        """Store the outcomes (progress and logs first) and claim, in the same transaction,
        what free slots can take if that is at least ``claim_least`` jobs (0: no claim).
        Returns whether a claim came back full (None: no claim was made)."""
        async with self.lock:
            return await self.flush_locked(claim_least)

    async def flush_locked(self, claim_least: int) -> bool | None:
        """:meth:`flush`, holding :attr:`lock` already. Outcomes that finished while a
        batch was stored go next, with the claim if the slots freed since make it worth
        ``claim_least``; once a claim is made, later ones wait for the next flush."""
        want = self._least(claim_least)
        while self.outbox or want:
            claim = (self.holder, self.queues, want, self.app.lease) if want else None
            leased = time.monotonic()
            sent = await self.outbox.send(self.calls.must, self.store, claim)
            if sent.due:
                self.watch.written = True  # a retry or a wake-up time: read when due
                self.wake.set()
            if sent.stored and self.held_back() and not want:  # a limit's slots freed: claim now
                self.watch.changed = True
                self.wake.set()
            if sent.failed is not None:
                raise sent.failed
            if want:  # outcomes finished since: the flush task's next batch
                return await self._took(want, sent.jobs, leased)
            if self.outbox:
                want = self._least(claim_least)
        return None

    def _least(self, claim_least: int) -> int:
        """The claim a flush makes now: what is wanted, if at least ``claim_least`` (0:
        none)."""
        want = self.wanted() if claim_least else 0
        return want if want >= claim_least else 0

    async def _took(self, want: int, jobs: list[ClaimedJob] | None, sent: float) -> bool:
        """Claimed jobs (by a claim sent at monotonic ``sent``: their leases end no
        sooner) wait for a slot (schedule occurrences seen by extensions first); returns
        whether the claim was full."""
        self.supervisor.ok("claim")
        full = jobs is not None and len(jobs) == want
        self.flowing = full  # a full claim: more is likely due (a trickle claims alone)
        self.attempts.sizing.took(full)
        if jobs and any(j.schedule_id for j in jobs):
            seen = await self.calls.guard(self.duties.claimed, self.store, jobs)
            if seen is None:  # the store went away as extensions looked: not held, released
                await self.release({j.id: j.token for j in jobs})
                return full
            jobs = seen
        if jobs and self.stopping():  # claimed as the worker stops (shutdown may have begun)
            await self.release({j.id: j.token for j in jobs})
            return full
        self.attempts.hold(jobs or [], sent + self.app.lease * START_WITHIN)
        self.ahead.claimed()
        return full

    async def release(self, held: dict[int, int]) -> None:
        """Give unfinished jobs back to other workers (patiently, while stopping)."""
        released = await self.calls.release(
            self.store, held, logging.ERROR,
            f"could not release {count_jobs(len(held), 'unfinished')}")
        if released is not None:
            log.info("released %s to other workers", count_jobs(released, "unfinished"))
