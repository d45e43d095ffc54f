"""Jobs claimed ahead that have not started within AHEAD_PATIENCE of their claim go back
to the queue: the jobs they wait behind turned out slow, and other workers may be idle
(a job is never stuck behind another's long run)."""

from __future__ import annotations

import asyncio
import logging
import time

from conveyor.stores.base import Store
from conveyor.worker.attempts import Attempts
from conveyor.worker.claims import AHEAD_PATIENCE
from conveyor.worker.storecalls import StoreCalls

log = logging.getLogger("conveyor.worker")


class ClaimedAhead:
    """Gives ``attempts``' stale jobs claimed ahead back to ``store`` through ``calls``."""

    def __init__(self, attempts: Attempts, calls: StoreCalls, store: Store) -> None:
        self.attempts, self.calls, self.store = attempts, calls, store
        self.waiting = asyncio.Event()  # jobs claimed ahead wait for a slot

    def claimed(self) -> None:
        """After a claim: jobs waiting for a slot are watched."""
        if self.attempts.slots.ready:
            self.waiting.set()

    async def return_stale(self) -> None:
        """One look (a step of a supervised task): once jobs wait for a slot, give back
        those still waiting AHEAD_PATIENCE after their claim."""
        if not self.attempts.slots.ready:
            self.waiting.clear()
            await self.waiting.wait()
        await asyncio.sleep(AHEAD_PATIENCE / 2)
        stale = self.attempts.stale_ahead(AHEAD_PATIENCE, time.monotonic())
        if not stale:
            return
        given = await self.calls.release(self.store, {j.id: j.token for j in stale},
                                         logging.WARNING,
                                         f"could not give back {len(stale)} jobs claimed ahead")
        if given is not None:
            log.debug("gave back %d jobs claimed ahead that waited %g s for a slot",
                      len(stale), AHEAD_PATIENCE)
