"""The worker's hold on the store: calls that outlast an outage, lease heartbeats,
abandoning lost jobs, stopping on signals, and the graceful shutdown that releases
unfinished jobs to other workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.errors import StoreBusy, StoreError, is_connection_error
from conveyor.lockwait import patiently
from conveyor.observe.dispatch import Dispatch
from conveyor.stores.base import Store
from conveyor.worker.abandoned import close_abandoned
from conveyor.worker.attempts import Active, Attempts
from conveyor.worker.cadence import Cadence
from conveyor.worker.dbthread import DbThread
from conveyor.worker.lanes import Slots
from conveyor.worker.meta import Buffer
from conveyor.worker.outbox import Outbox
from conveyor.worker.outcomes import GaveUp
from conveyor.worker.supervise import Supervisor

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")
T = TypeVar("T")
LATE_WARNINGS = 60.0  # seconds between warnings of late heartbeats


class LeasesMixin:
    """Store access, lease keeping and stopping for :class:`~conveyor.worker.loop.Worker`."""

    app: Host
    id: str
    grace: float
    supervised: bool
    stopping: bool
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event
    hurry: asyncio.Event
    flushed: asyncio.Event
    settled: asyncio.Event
    active: Active
    attempts: Attempts
    outbox: Outbox
    slots: Slots
    buffer: Buffer
    observers: Dispatch
    store: Store
    db_pool: DbThread
    beat_store: Store  # heartbeats only, on beat_pool's thread
    beat_pool: DbThread
    supervisor: Supervisor
    outage_tolerance: float | None
    lock_waits: set[Callable[..., Any]]

    if TYPE_CHECKING:
        async def _flush_all(self, claim_least: int = 0) -> bool | None: ...

    async def db(self, fn: Callable[..., T], *args: Any, on: DbThread | None = None) -> T:
        """Run a store call on this worker's single database thread (or thread ``on``)."""
        return await (on or self.db_pool).call(fn, *args)

    def _patient(self, fn: Callable[..., T], *args: Any) -> T:
        """In the database thread: a start-up write that waits out another process's lock."""
        return patiently(lambda: fn(*args), lambda exc: log.warning("%s", exc.waiting))

    async def _guard(self, fn: Callable[..., T], *args: Any,
                     on: DbThread | None = None) -> T | None:
        """A store call that survives the database going away: log, back off, retry.
        None: given up (the worker is stopping, or past its outage tolerance)."""
        try:
            return await self._persist(fn, args, on, patient=False)
        except GaveUp:
            return None

    async def _must(self, fn: Callable[..., T], *args: Any) -> T:
        """:meth:`_guard` for a call whose effect must be known (outcomes, releases):
        while the worker stops, a failing store is retried for up to the grace period;
        raises :class:`GaveUp` when given up (nothing is known to be done)."""
        return await self._persist(fn, args, None, patient=True)

    async def _persist(self, fn: Callable[..., T], args: tuple[Any, ...],
                       on: DbThread | None, patient: bool, most: float = 5.0
                       ) -> T:
        """The retry loop of :meth:`_guard` and :meth:`_must` (backing off up to ``most``
        seconds between tries)."""
        delay, since = min(0.1, most), time.monotonic()
        while True:
            try:
                result = await self.db(fn, *args, on=on)
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
            if self.stopping:  # patient: one last try at the deadline
                delay = min(delay, max(0.0, self._failing_since + self.grace - time.monotonic()))
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)

    _failing_since = 0.0  # since when the store fails while the worker stops

    def _stopping_gives_up(self, exc: BaseException, patient: bool) -> None:
        """While stopping: give up at once, or (``patient``) once the store has failed for
        the grace period (shared by all such calls, so shutdown stays bounded)."""
        if not self.stopping:
            return
        now = time.monotonic()
        if not self._failing_since:
            self._failing_since = now
        if not patient or now - self._failing_since >= self.grace:
            raise GaveUp(f"{type(exc).__name__}: {exc}") from exc

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

    async def open_heartbeats(self) -> None:
        """Heartbeats get their own thread and connection: a long claim or completion on
        the database thread never delays the renewal of the leases."""
        self.beat_pool = DbThread(self.loop, "conveyor-heartbeat")
        self.beat_store = await self.db(self.app.store.clone, on=self.beat_pool)

    async def close_heartbeats(self) -> None:
        """After the last heartbeat (the same thread runs them in order); the thread is
        ended by the worker's run."""
        if self.beat_store is not self.app.store and self.beat_store is not self.store:
            with contextlib.suppress(Exception):
                await self.db(self.beat_store.close, on=self.beat_pool)

    def abandon_start(self) -> None:
        """A start that failed: the stores cloned so far are closed and the threads end,
        after the calls queued on them (nothing waits for them)."""
        main = getattr(self, "store", None)
        beats = getattr(self, "beat_store", None)
        for pool, store in ((getattr(self, "beat_pool", None), beats if beats is not main
                             else None), (self.db_pool, main)):
            if pool is None:
                continue
            if store is not None and store is not self.app.store:
                pool.call(_close_quietly, store)
            pool.shutdown()

    async def _heartbeats(self) -> None:
        """Renew the leases every lease / 3 seconds on a fixed cadence (a slow heartbeat
        does not push the next one back); a late one is logged, at most once a minute."""
        cadence = Cadence(self._beat_interval())
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
            await self.supervisor.step("heartbeat", self._heartbeat)
            await asyncio.sleep(cadence.wait(time.monotonic()))

    def _beat_interval(self) -> float:
        return max(self.app.lease / 3.0, 0.05)

    async def _heartbeat(self) -> None:
        held = {i: job.token for i, (job, _) in self.active.items()}
        held.update(self.outbox.held())  # not stored yet: still ours
        try:  # retried no slower than the cadence: a lease outlasts few retries
            lost = await self._persist(self.beat_store.heartbeat,
                                       (self.id, held, self.app.lease), self.beat_pool,
                                       patient=False, most=self._beat_interval())
        except GaveUp:
            lost = set()
        if self.buffer:
            self.flushed.set()
        # Only the attempt renewed: one claimed again meanwhile holds a new token.
        mine = [i for i in lost if (e := self.active.get(i)) is not None and e[0].token == held[i]]
        cancelled = await self._cancelled(mine) if mine else set()
        for job_id in mine:
            entry = self.active.get(job_id)
            if entry is not None and entry[0].token == held[job_id]:
                why = "cancelled" if job_id in cancelled else None
                log.warning("job %s: lease lost (%s); abandoning", job_id,
                            why or "cancelled or rescued")
                self.attempts.abandon(job_id, entry[1], why)

    async def _cancelled(self, ids: list[int]) -> set[int]:
        """Which of the jobs whose leases were lost are cancelled (read back: rare)."""
        def read() -> set[int]:
            return {i for i in ids if (s := self.beat_store.state_of(i)) and s[0] == "cancelled"}

        try:
            return await self.db(read, on=self.beat_pool)
        except Exception:  # reported as lost, cause unknown
            log.debug("could not read the state of jobs whose leases were lost", exc_info=True)
            return set()

    def _install_signals(self) -> None:
        """SIGTERM/SIGINT stop gracefully, a second one at once. A supervised worker gets
        its stop signal twice (systemd signals every process of the unit, the supervisor
        forwards its own): there SIGTERM/SIGINT only stop gracefully, and the
        supervisor's SIGUSR1 (its own second signal) stops at once."""
        def on_signal() -> None:
            if self.stopping and not self.supervised:
                now()
            self.stop()

        def now() -> None:
            log.warning("second signal: stopping now")
            self.stop(force=True)  # cuts short a grace period already being waited out

        handlers = {signal.SIGTERM: on_signal, signal.SIGINT: on_signal}
        if self.supervised and hasattr(signal, "SIGUSR1"):
            handlers[signal.SIGUSR1] = now
        for sig, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                self.loop.add_signal_handler(sig, handler)

    async def _release(self, held: dict[int, int]) -> None:
        """Give jobs back to other workers (patiently: as outcomes, while stopping)."""
        try:
            released = await self._must(self.store.release, held)
        except GaveUp as exc:
            log.error("could not release %s (%s); they run again once their leases expire",
                      _jobs(len(held), "unfinished"), exc)
            return
        log.info("released %s to other workers", _jobs(released, "unfinished"))

    async def _settle(self) -> None:
        while self.active:
            self.settled.clear()
            await self.settled.wait()

    async def _shutdown(self, helpers: list[asyncio.Task[None]]) -> None:
        cancelled = False
        unstarted = self.slots.withdraw()  # claimed ahead: back to the queue at once
        for job in unstarted:  # never started: observers never heard of them
            self.active.pop(job.id, None)
        if self.active:
            log.info("waiting up to %g s for %s", self.grace, _jobs(len(self.active), "running"))
            all_done = asyncio.ensure_future(self._settle())
            hurry = asyncio.ensure_future(self.hurry.wait())
            try:
                await asyncio.wait([all_done, hurry], timeout=self.grace or 0.001,
                                   return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:  # cancelled (again): a second signal, release
                cancelled = True             # the running jobs now, then end cancelled
            all_done.cancel()  # stops waiting; the job tasks themselves are not cancelled
            hurry.cancel()
        leftover = {i: job.token for i, (job, _) in self.active.items()}
        for job_id in leftover:
            self.attempts.abandon(job_id, self.active[job_id][1], "released")
        self.attempts.lane.close()
        await self._flush_all()
        leftover.update({job.id: job.token for job in unstarted})
        if leftover:
            await self._release(leftover)
        for task in helpers:
            task.cancel()
        close_abandoned()
        await self.observers.drain(max(self.grace, 5.0))
        with contextlib.suppress(Exception):
            await self.db(self._patient, self.store.unregister_worker, self.id)
        await self.close_heartbeats()
        if self.store is not self.app.store:
            with contextlib.suppress(Exception):
                await self.db(self.store.close)
        log.info("worker %s stopped after %s", self.id, _jobs(self.attempts.processed))
        if cancelled:
            raise asyncio.CancelledError


def _jobs(count: int, adjective: str = "") -> str:
    """``1 running job``, ``2 running jobs``."""
    words = f"{adjective} job" if adjective else "job"
    return f"{count} {words}{'' if count == 1 else 's'}"


def _close_quietly(store: Store) -> None:
    """Close a store nobody waits on (a failed start): its error is only logged."""
    try:
        store.close()
    except Exception:
        log.debug("could not close a store of a worker that failed to start", exc_info=True)
