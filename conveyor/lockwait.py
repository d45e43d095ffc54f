"""Waiting out another process's write lock (SQLite): StoreBusy means nothing was
written, so a caller that can wait tries again, a bounded number of busy timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from conveyor.errors import StoreBusy

T = TypeVar("T")
# How many busy timeouts a caller waits in all (6 × SQLite's 5 s: the 30 s a write used
# to wait in one go, when the busy timeout equalled the default lease).
PATIENCE = 6


def patiently(store: Callable[[], T], on_wait: Callable[[StoreBusy], None] | None = None) -> T:
    """``store()``, tried again while another process holds the store's write lock, until
    ``PATIENCE`` busy timeouts have passed; then StoreBusy saying so. ``on_wait`` is
    called once, at the first lock wait (to log it)."""
    started, pause = time.monotonic(), 0.01
    while True:
        try:
            return store()
        except StoreBusy as exc:
            waited = time.monotonic() - started
            if waited + pause >= PATIENCE * exc.timeout:
                raise StoreBusy(f"{exc} (still locked after {waited:.1f} s of retries; "
                                "nothing was written)", exc.waiting, exc.timeout) from None
            if on_wait is not None:
                on_wait(exc)
                on_wait = None
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
