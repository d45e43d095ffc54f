"""The worker's change watcher: a thread that wakes the loop when work may have arrived
(PostgreSQL LISTEN, SQLite data_version), listening only while the worker is hungry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from conveyor.stores.base import Store
from conveyor.worker.storecalls import close_quietly

log = logging.getLogger("conveyor.worker")

WAIT_SPELL = 0.05  # seconds the thread waits for a change before it looks at the worker
REST_AFTER = 0.5  # seconds not hungry before the waiter rests (PostgreSQL: unregisters)


class ChangeWatch:
    """The ``conveyor-watch`` thread of a worker, and the wake-up reasons it shares with
    the worker's loop (which sets ``changed`` and ``written`` for its own writes too)."""

    def __init__(self, stopping: Callable[[], bool]) -> None:
        self.stopping = stopping
        # Set while the last claim found less than it asked for: the thread only listens
        # for new work then (a busy worker claims again anyway).
        self.hungry = threading.Event()
        self.watching = False  # the thread is listening: an idle worker polls slowly
        self.precise = True  # its wake-ups mean new work (not any write)
        self.changed = False  # jobs were stored (a precise waiter: LISTEN, this process)
        self.written = False  # something was written (SQLite data_version): peek first
        self.ended: asyncio.Event | None = None  # set on the loop as the thread ends

    def start(self, store: Store, loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> None:
        """Start the thread: it listens on a clone of ``store`` and sets ``wake`` on
        ``loop`` when another process stores work."""
        self.ended = ended = asyncio.Event()
        threading.Thread(target=self._run, args=(store, loop, wake, ended),
                         name="conveyor-watch", daemon=True).start()

    async def end(self) -> None:
        """Wait (the worker stopping) for the thread to close its connections: a stopped
        worker, and the app closed after it, holds none. Told by the thread itself, not
        joined from the loop's default executor, which the worker's async jobs may fill."""
        self.hungry.set()
        if self.ended is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ended.wait(), 5.0)

    def _run(self, store: Store, loop: asyncio.AbstractEventLoop, wake: asyncio.Event,
             ended: asyncio.Event) -> None:
        try:
            self._watch(store, loop, wake)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing waits
                loop.call_soon_threadsafe(ended.set)

    def _watch(self, store: Store, loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> None:
        own = store
        try:
            own = store.clone()
            waiter = own.open_waiter()
        except Exception:  # the loop polls anyway
            log.exception("change notifications unavailable; polling only")
            _close_clone(own, store)
            return
        self.precise = getattr(waiter, "precise", True)  # a store's own may lack it
        try:
            # Jobs stored before it listened sent no wake-up it could hear: look once.
            self.watching = self.changed = True
            with contextlib.suppress(RuntimeError):  # the worker stopped meanwhile
                loop.call_soon_threadsafe(wake.set)
            rest: Callable[[], None] | None = getattr(waiter, "rest", None)  # (optional)
            while not self.stopping():
                hungry = self.hungry.wait(REST_AFTER)
                if self.stopping() or (not hungry and rest is None):
                    continue
                try:
                    if rest is not None and not hungry:  # busy a while: no wake-ups needed
                        rest()
                        continue
                    # Short spells: a stopping worker waits for this thread (end()).
                    changed = waiter.wait(WAIT_SPELL)
                    self.watching = getattr(waiter, "listening", True)
                except Exception:
                    self.watching = False
                    log.warning("change notifications interrupted; polling", exc_info=True)
                    time.sleep(1.0)
                    continue
                if changed and not self.stopping():
                    self.hungry.clear()
                    if self.precise:
                        self.changed = True
                    else:
                        self.written = True
                    loop.call_soon_threadsafe(wake.set)
        finally:
            self.watching = False
            with contextlib.suppress(Exception):
                waiter.close()
            _close_clone(own, store)


def _close_clone(own: Store, store: Store) -> None:
    """Close the thread's clone of the app's store (its own connections: SQLite opens them
    at once), unless the clone is the app's store itself."""
    if own is not store:
        close_quietly(own)
