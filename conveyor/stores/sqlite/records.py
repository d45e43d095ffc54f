"""Worker registry, leadership and change notification for the SQLite store."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from conveyor.clock import Clock, epoch
from conveyor.stores.base import WorkerInfo

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked


class DataVersionWaiter:
    """Wakes when another connection commits, by polling ``PRAGMA data_version``.

    The pragma is answered from memory, so a tight poll costs microseconds; it is how
    an idle worker on a SQLite file notices new jobs within a millisecond or two.
    """

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
        self.db.conn.close()


class RecordsMixin:
    db: Locked
    clock: Clock | None

    def register_worker(self, info: WorkerInfo) -> None:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO conveyor_workers (id, host, pid, queues, concurrency, "
                "started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (info.id, info.host, info.pid, info.queues, info.concurrency, now, now),
            )

    def unregister_worker(self, worker_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE conveyor_workers SET stopped_at = ? WHERE id = ?",
                (epoch(self.clock), worker_id),
            )
            conn.execute(
                "DELETE FROM conveyor_leaders WHERE holder = ?", (worker_id,)
            )

    def workers(self, alive_within: float) -> list[WorkerInfo]:
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT id, host, pid, queues, concurrency, started_at, heartbeat_at, stopped_at "
                "FROM conveyor_workers WHERE stopped_at IS NULL AND heartbeat_at >= ? "
                "ORDER BY started_at",
                (epoch(self.clock) - alive_within,),
            ).fetchall()
        return [WorkerInfo(*r) for r in rows]

    def try_lead(self, name: str, holder: str, ttl: float) -> bool:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO conveyor_leaders (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE conveyor_leaders.holder = excluded.holder "
                "OR conveyor_leaders.expires_at < ?",
                (name, holder, now + ttl, now),
            )
            row = conn.execute(
                "SELECT holder FROM conveyor_leaders WHERE name = ?", (name,)
            ).fetchone()
        return bool(row and row[0] == holder)
