"""``memory://``: an in-process store for tests and examples.

It is the SQLite store on a private in-memory database, so it has exactly the
semantics of the file store (one engine, one set of queries) and nothing persists.
"""

from __future__ import annotations

import threading

from conveyor.stores.base import Waiter
from conveyor.stores.sqlite.connection import Locked, connect
from conveyor.stores.sqlite.store import SQLiteStore


class LocalWaiter:
    """Wakes on writes made by this process (the only writers a memory store has)."""

    precise = True  # set by job writes only

    def __init__(self, changed: threading.Event) -> None:
        self.changed = changed

    def wait(self, timeout: float) -> bool:
        if self.changed.wait(timeout):
            self.changed.clear()
            return True
        return False

    def close(self) -> None:
        self.changed.set()


class MemoryStore(SQLiteStore):
    def __init__(self, url: str = "memory://") -> None:
        super().__init__(url, ":memory:", shared=Locked(connect(":memory:"), "memory"))

    def clone(self) -> MemoryStore:
        return self  # one shared connection; its lock serialises threads

    def close(self) -> None:
        """Drop the data: the store refuses every call from now on, as the others do
        (a worker's clone is this store, and a worker never closes the app's)."""
        self.db.close()

    def open_waiter(self) -> Waiter:
        return LocalWaiter(self._changed)
