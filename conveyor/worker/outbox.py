"""The worker's outbox: finished attempts waiting to be stored (their leases still held),
sent in batches after the progress and log lines reported before them and, when asked,
with the next claim in the same transaction (:mod:`conveyor.worker.outcomes`). Observers
hear of each attempt once its outcome is stored; of one the worker could not store (it
gave up on the store while stopping), as of a lost attempt."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from conveyor.observe import Ended
from conveyor.observe.dispatch import Dispatch
from conveyor.stores.base import ClaimedJob, Outcome, Store
from conveyor.worker import report
from conveyor.worker.meta import Buffer
from conveyor.worker.outcomes import LOST_OUTCOME, ClaimArgs, GaveUp, Guard, store_and_claim

log = logging.getLogger("conveyor.worker")

Finished = tuple[ClaimedJob, Outcome, BaseException | None]


@dataclass
class Sent:
    """What sending a batch did."""

    stored: bool  # outcomes were stored (some at least)
    due: bool  # ... among them a retry or a wake-up time
    jobs: list[ClaimedJob] | None  # claimed with them (None: no claim made)
    failed: Exception | None  # the claim's error: raise it (the batch is reported)


class Outbox:
    """Outcomes waiting to be stored, and the batch being stored now."""

    def __init__(self, buffer: Buffer, observers: Dispatch) -> None:
        self.buffer = buffer  # progress and log lines (written before outcomes)
        self.observers = observers
        self.outcomes: list[Outcome] = []  # finished, waiting to be stored (leases kept)
        self.finished: list[Finished] = []  # told to observers once stored
        self.storing: dict[int, int] = {}  # outcomes being stored now: id -> lease token
        self.went = asyncio.Event()  # for taken_within: sent, or `enough` wait
        self.enough = 0

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.buffer)

    def add(self, job: ClaimedJob, outcome: Outcome, error: BaseException | None) -> None:
        self.outcomes.append(outcome)
        self.finished.append((job, outcome, error))
        if self.enough and len(self.outcomes) >= self.enough:
            self.went.set()

    async def taken_within(self, timeout: float, enough: int) -> bool:
        """Wait up to ``timeout`` seconds for a send to take the outcomes waiting now
        (returns True), or for ``enough`` to wait (False). One timer, not a wake-up per
        outcome."""
        waiting = self.outcomes
        if timeout <= 0 or len(waiting) >= enough:
            return False
        self.enough = enough
        self.went.clear()
        timer = asyncio.get_running_loop().call_later(timeout, self.went.set)
        try:
            await self.went.wait()
        finally:
            timer.cancel()
            self.enough = 0
        return self.outcomes is not waiting

    def held(self) -> dict[int, int]:
        """The leases of outcomes not stored yet: still this worker's, heartbeated."""
        held = {o.id: o.token for o in self.outcomes}
        held.update(self.storing)
        return held

    async def send(self, guard: Guard, store: Store, claim: ClaimArgs | None) -> Sent:
        """Store what waits (progress and logs first) and, given ``claim``'s arguments,
        claim in the same transaction; then tell observers."""
        outcomes, self.outcomes = self.outcomes, []
        finished, self.finished = self.finished, []
        self.went.set()
        progress, logs = self.buffer.take()
        self.storing = {o.id: o.token for o in outcomes}
        try:
            try:
                if progress or logs:
                    await guard(store.write_progress, progress, logs)
            except GaveUp:
                log.warning("could not store %d progress reports and %d log lines before "
                            "stopping; dropped", len(progress), len(logs))
            except Exception:  # bad progress or log data: never hold up outcomes
                log.exception("could not store %d progress reports and %d log lines; "
                              "dropped", len(progress), len(logs))
            attempts = {job.id: job.attempt for job, _, _ in finished}
            replaced, jobs, failed = await store_and_claim(guard, store, outcomes, claim,
                                                           attempts)
        finally:
            self.storing = {}
        if not replaced:  # (nearly always) each outcome stored as it was
            report.finished_all(finished)
            self.observers.finished_all(finished)
            due = any(o.state in ("pending", "waiting") for o in outcomes)
            return Sent(bool(outcomes), due, jobs, failed)
        unstored: list[ClaimedJob] = []
        told: list[Ended] = []
        for job, outcome, error in finished:
            stored = replaced.get(outcome.id, outcome)
            if stored is None:
                unstored.append(job)
                told.append((job, None, None))
                continue
            if stored.state == LOST_OUTCOME:  # rescued as it ended: its rescuer reported it
                report.finished(job, None)
                told.append((job, None, None))
                continue
            report.finished(job, stored)
            told.append((job, stored, error))
        self.observers.finished_all(told)
        if unstored:
            _gave_up(unstored)
        kept = [o for o in outcomes
                if (stored := replaced.get(o.id, o)) is not None and stored.state != LOST_OUTCOME]
        due = any(o.state in ("pending", "waiting") for o in kept)
        return Sent(bool(kept), due, jobs, failed)


def _gave_up(jobs: list[ClaimedJob]) -> None:
    log.error("gave up storing outcomes as the worker stops (the store kept failing); "
              "these jobs stay running until their leases expire, then run again: %s",
              ", ".join(str(job.id) for job in jobs), extra={"job_ids": [j.id for j in jobs]})
