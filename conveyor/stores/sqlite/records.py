"""Change notification for the SQLite store (workers wake without polling the table)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked


class DataVersionWaiter:
    """Wakes when another connection commits, by polling ``PRAGMA data_version``.

    The pragma is answered from memory, so a tight poll costs microseconds; it is how
    an idle worker on a SQLite file notices new jobs within a millisecond or two.
    """

    precise = False  # any commit changes data_version

    def __init__(self, db: Locked, local: threading.Event, interval: float = 0.001,
                 busy_interval: float = 0.0002, busy_for: float = 0.25) -> None:
        self.db = db
        self.local = local
        self.interval = interval
        # For ``busy_for`` seconds after a change, poll every ``busy_interval``: work
        # arrives in spells, and the next job is noticed sooner; a quiet file is polled
        # at ``interval`` (idle CPU stays as low as before).
        self.busy_interval = busy_interval
        self.busy_for = busy_for
        self.changed_at = float("-inf")
        self.version = self._read()

    def _read(self) -> int:
        with self.db.reading() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self.local.is_set():
                self.local.clear()
                return True
            version = self._read()
            now = time.monotonic()
            if version != self.version:
                self.version = version
                self.changed_at = now
                return True
            left = deadline - now
            if left <= 0:
                return False
            busy = now - self.changed_at < self.busy_for
            self.local.wait(min(self.busy_interval if busy else self.interval, left))

    def close(self) -> None:
        self.db.close()
