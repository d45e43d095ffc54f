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

    def __init__(self, db: Locked, local: threading.Event, interval: float = 0.001) -> None:
        self.db = db
        self.local = local
        self.interval = interval
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
            if version != self.version:
                self.version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.local.wait(min(self.interval, left))

    def close(self) -> None:
        self.db.close()
