"""The worker's change watcher: a thread that wakes the loop when work may have arrived
(PostgreSQL LISTEN, SQLite data_version), listening only while the worker is hungry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.host import Host

log = logging.getLogger("conveyor.worker")


class WatchMixin:
    """The ``conveyor-watch`` thread of :class:`~conveyor.worker.loop.Worker`."""

    app: Host
    stopping: bool
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event
    hungry: threading.Event
    _changed: bool  # jobs were stored (a precise waiter: LISTEN, this process)
    _written: bool  # something was written (SQLite data_version): peek before claiming
    watching = False  # the watcher is listening: an idle worker polls slowly
    precise_watch = True  # its wake-ups mean new work (not any write)

    def _watch(self) -> None:
        """Thread: wake the loop when another process stores work."""
        try:
            waiter = self.app.store.clone().open_waiter()
        except Exception:  # the loop polls anyway
            log.exception("change notifications unavailable; polling only")
            return
        self.precise_watch = getattr(waiter, "precise", True)  # a store's own may lack it
        try:
            # Jobs stored before it listened sent no wake-up it could hear: look once.
            self.watching = self._changed = True
            with contextlib.suppress(RuntimeError):  # the worker stopped meanwhile
                self.loop.call_soon_threadsafe(self.wake.set)
            while not self.stopping:
                if not self.hungry.wait(0.5):
                    continue
                try:
                    changed = waiter.wait(0.5)
                    self.watching = getattr(waiter, "listening", True)
                except Exception:
                    self.watching = False
                    log.warning("change notifications interrupted; polling", exc_info=True)
                    time.sleep(1.0)
                    continue
                if changed and not self.stopping:
                    self.hungry.clear()
                    if self.precise_watch:
                        self._changed = True
                    else:
                        self._written = True
                    self.loop.call_soon_threadsafe(self.wake.set)
        finally:
            self.watching = False
            with contextlib.suppress(Exception):
                waiter.close()
