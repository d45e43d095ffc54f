"""SQLite store methods for durable runs (steps) and events."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock, epoch
from conveyor.stores.base import EventRow, NewJob, StepRow
from conveyor.stores.eventlogic import (
    EVENT_COLUMNS,
    STEP_COLUMNS,
    EventReads,
    EventSQL,
    deliver,
    event_runs,
    step_values,
    with_runs,
)

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked

SAVE_STEP = (
    f"INSERT OR REPLACE INTO conveyor_steps ({STEP_COLUMNS}) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM "
    "conveyor_jobs WHERE id = ? AND lease_token = ? AND state = 'running')"
)
SUSPEND = (
    "UPDATE conveyor_jobs SET state = 'waiting', run_at = ?, attempts = attempts - 1, "
    "rescues = 0, version = coalesce(?, version), lease_token = NULL, "
    "lease_expires_at = NULL, worker_id = NULL "
    "WHERE id = ? AND lease_token = ? AND state = 'running'"
)
_SQL = EventSQL("?")


class DurableMixin(EventReads):
    """Steps and events for :class:`SQLiteStore` (same connection and transactions)."""

    _event_sql = _SQL
    db: Locked
    clock: Clock | None
    _changed: threading.Event

    def _insert_one(self, conn: sqlite3.Connection, j: NewJob, now: float) -> int:
        raise NotImplementedError  # provided by SQLiteStore

    def load_steps(self, job_id: int) -> list[StepRow]:
        with self.db.reading() as conn:
            rows = conn.execute(_SQL.load_steps, (job_id,)).fetchall()
        return [StepRow(*r) for r in rows]

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        with self.db.transaction() as conn:
            saved = conn.execute(SAVE_STEP, (*step_values(step), step.job_id, token)).rowcount
            if saved and suspend_until is not None:
                conn.execute(SUSPEND, (suspend_until, version, step.job_id, token))
        return bool(saved)

    def deliver_event(
        self,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
    ) -> tuple[EventRow, bool]:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            new = conn.execute(
                f"INSERT OR IGNORE INTO conveyor_events ({EVENT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?)",
                (event.id, event.name, event.payload, now, event.deliver_at, event.source),
            ).rowcount == 1
            stored = EventRow(*conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events WHERE id = ?", (event.id,)
            ).fetchone())
            if stored.delivered_at is None and stored.deliver_at <= now:
                deliver(
                    conn, _SQL, stored, runs, wakes,
                    lambda job: self._insert_one(conn, job, now), now,
                )
            stored.runs = event_runs(conn, _SQL, stored.id)
        self._changed.set()
        return stored, new

    def due_events(self, limit: int) -> list[EventRow]:
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events WHERE delivered_at IS NULL "
                "AND deliver_at <= ? ORDER BY deliver_at LIMIT ?", (epoch(self.clock), limit),
            ).fetchall()
        return [EventRow(*r) for r in rows]

    def _events(self, sql: str, params: Sequence[Any]) -> list[EventRow]:
        with self.db.reading() as conn:
            return with_runs(conn, _SQL, [EventRow(*r) for r in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events {sql}", params
            )])

    def purge_events(self, older_than: float) -> int:
        with self.db.transaction() as conn:
            deleted: int = conn.execute(_SQL.purge_events, (older_than,)).rowcount
        return deleted

    def _purge_steps(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        conn.executemany("DELETE FROM conveyor_steps WHERE job_id = ?", [(i,) for i in ids])
