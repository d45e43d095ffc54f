"""The worker's store calls: made on its database thread, retried through an outage
(backing off), given up once the worker stops (or the store has been gone past its
outage tolerance)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from conveyor.errors import StoreBusy, StoreError, is_connection_error
from conveyor.lockwait import patiently
from conveyor.stores.base import Store
from conveyor.worker.dbthread import DbThread
from conveyor.worker.outcomes import GaveUp
from conveyor.worker.supervise import Supervisor

log = logging.getLogger("conveyor.worker")
T = TypeVar("T")


class StoreCalls:
    """Store calls on ``pool``'s thread (or another's). ``stopping`` and ``grace`` are
    read at each failure (stopping gives up, at once or after the grace period); past
    ``outage_tolerance`` seconds of failures ``supervisor`` stops the worker."""

    def __init__(self, pool: DbThread, supervisor: Supervisor, outage_tolerance: float | None,
                 stopping: Callable[[], bool], grace: Callable[[], float]) -> None:
        self.pool = pool
        self.supervisor = supervisor
        self.outage_tolerance = outage_tolerance
        self.stopping = stopping
        self.grace = grace
        # The store calls now waiting for another process's write lock (logged once each).
        self.lock_waits: set[Callable[..., Any]] = set()
        self.failing_since = 0.0  # since when the store fails while the worker stops

    async def call(self, fn: Callable[..., T], *args: Any, on: DbThread | None = None) -> T:
        """Run a store call on the worker's single database thread (or thread ``on``)."""
        return await (on or self.pool).call(fn, *args)

    @staticmethod
    def patient(fn: Callable[..., T], *args: Any) -> T:
        """In the database thread: a start-up write that waits out another process's lock."""
        return patiently(lambda: fn(*args), lambda exc: log.warning("%s", exc.waiting))

    async def guard(self, fn: Callable[..., T], *args: Any,
                    on: DbThread | None = None) -> T | None:
        """A store call that survives the database going away: log, back off, retry.
        None: given up (the worker is stopping, or past its outage tolerance)."""
        try:
            return await self.persist(fn, args, on, patient=False)
        except GaveUp:
            return None

    async def must(self, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`guard` for a call whose effect must be known (outcomes, releases):
        while the worker stops, a failing store is retried for up to the grace period;
        raises :class:`GaveUp` when given up (nothing is known to be done)."""
        return await self.persist(fn, args, None, patient=True)

    async def release(self, store: Store, held: dict[int, int], level: int,
                      failure: str) -> int | None:
        """Give jobs back to other workers (patiently: as outcomes, while stopping);
        returns how many went back. None: given up, logged at ``level`` as ``failure``
        (the jobs run again once their leases expire)."""
        try:
            return await self.must(store.release, held)
        except GaveUp as exc:
            log.log(level, "%s (%s); they run again once their leases expire", failure, exc)
            return None

    async def persist(self, fn: Callable[..., T], args: tuple[Any, ...],
                      on: DbThread | None, patient: bool, most: float = 5.0) -> T:
        """The retry loop of :meth:`guard` and :meth:`must` (backing off up to ``most``
        seconds between tries)."""
        delay, since = min(0.1, most), time.monotonic()
        while True:
            try:
                result = await (on or self.pool).call(fn, *args)
                self.lock_waits.discard(fn)
                return result
            except StoreBusy as exc:  # another process holds the write lock: not dead
                self._stopping_gives_up(exc, patient)
                if fn not in self.lock_waits:  # once per wait, not once per retry
                    self.lock_waits.add(fn)
                    log.warning("%s; retrying (leases are kept: heartbeats retry too)",
                                exc.waiting)
            except (StoreError, OSError) as exc:  # StoreUnavailable included
                self._stopping_gives_up(exc, patient)
                log.warning("store unavailable (%s); retrying in %.1f s", exc, delay)
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                self._stopping_gives_up(exc, patient)
                log.warning("store unavailable (%s); retrying in %.1f s", exc, delay)
            gone = time.monotonic() - since
            if self.outage_tolerance is not None and gone > self.outage_tolerance:
                why = (f"the store has been unreachable for {gone:.0f} s (more than the "
                       f"worker's outage_tolerance of {self.outage_tolerance:g} s)")
                self.supervisor.give_up(why)
                raise GaveUp(why)
            if self.stopping():  # patient: one last try at the deadline
                delay = min(delay, max(0.0, self.failing_since + self.grace() - time.monotonic()))
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)

    def _stopping_gives_up(self, exc: BaseException, patient: bool) -> None:
        """While stopping: give up at once, or (``patient``) once the store has failed for
        the grace period (shared by all such calls, so shutdown stays bounded)."""
        if not self.stopping():
            return
        now = time.monotonic()
        if not self.failing_since:
            self.failing_since = now
        if not patient or now - self.failing_since >= self.grace():
            raise GaveUp(f"{type(exc).__name__}: {exc}") from exc


def close_quietly(store: Store) -> None:
    """Close a store the worker cloned that nobody waits on (a failed start, the change
    watcher's): its error is only logged."""
    try:
        store.close()
    except Exception:
        log.debug("could not close a store the worker cloned", exc_info=True)
