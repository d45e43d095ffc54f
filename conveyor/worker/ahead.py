"""Jobs claimed ahead that have not started within AHEAD_PATIENCE of their claim go back
to the queue: the jobs they wait behind turned out slow, and other workers may be idle
(a job is never stuck behind another's long run). So do those found too late to start as
a slot freed (past START_WITHIN of their lease: conveyor.worker.claims)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from conveyor.stores.base import ClaimedJob, Store
from conveyor.worker.attempts import Attempts
from conveyor.worker.claims import AHEAD_PATIENCE
from conveyor.worker.storecalls import StoreCalls

log = logging.getLogger("conveyor.worker")


class ClaimedAhead:
    """Gives ``attempts``' stale jobs claimed ahead back to ``store`` through ``calls``."""

    def __init__(self, attempts: Attempts, calls: StoreCalls, store: Store) -> None:
        self.attempts, self.calls, self.store = attempts, calls, store
        self.patience = AHEAD_PATIENCE
        self.waiting = asyncio.Event()  # jobs claimed ahead wait for a slot
        self.late: list[ClaimedJob] = []  # found too late to start: to give back
        self.giving: list[ClaimedJob] = []  # being given back now
        self.found_late = asyncio.Event()
        attempts.give_back = self.too_late

    def claimed(self) -> None:
        """After a claim: jobs waiting for a slot are watched."""
        if self.attempts.slots.ready:
            self.waiting.set()

    def too_late(self, jobs: list[ClaimedJob]) -> None:
        """Jobs that waited too long to start: given back now (not left to expire)."""
        self.late.extend(jobs)
        self.found_late.set()
        self.waiting.set()

    def giving_back(self) -> bool:
        """Jobs left the worker's hands but are not back in the queue yet."""
        return bool(self.late or self.giving)

    def unreleased(self) -> list[ClaimedJob]:
        """The worker stops: the jobs to give back that may not be back yet, for it to
        release (one being given back as it stops is released twice at worst: the
        second finds its lease token gone and changes nothing)."""
        jobs, self.late = [*self.late, *self.giving], []
        return jobs

    async def return_stale(self) -> None:
        """One look (a step of a supervised task): once jobs wait for a slot, give back
        those still waiting ``patience`` seconds after their claim, and those too late."""
        if not self.attempts.slots.ready and not self.late:
            self.waiting.clear()
            await self.waiting.wait()
        if not self.late:
            self.found_late.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.found_late.wait(), self.patience / 2)
        stale = self.attempts.stale_ahead(self.patience, time.monotonic()) + self.late
        self.late = []
        if not stale:
            return
        self.giving = stale
        try:
            given = await self.calls.release(
                self.store, {j.id: j.token for j in stale}, logging.WARNING,
                f"could not give back {len(stale)} jobs claimed ahead")
        finally:
            self.giving = []
        if given is not None:
            log.debug("gave back %d jobs claimed ahead that waited up to %g s for a slot",
                      len(stale), self.patience)
