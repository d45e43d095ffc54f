"""SQLite store methods for durable runs (steps) and events."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.stores.base import EventRow, NewJob, StepRow

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked

STEP_COLUMNS = (
    "job_id, seq, key, kind, state, input, output, error, attempts, history, wake_at, "
    "event_name, fingerprint, started_at, finished_at"
)
EVENT_COLUMNS = "id, name, payload, sent_at, deliver_at, delivered_at, source"
_SAVE_STEP = (
    f"INSERT OR REPLACE INTO conveyor_steps ({STEP_COLUMNS}) "
    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM "
    "conveyor_jobs WHERE id = ? AND lease_token = ? AND state = 'running')"
)
_SUSPEND = (
    "UPDATE conveyor_jobs SET state = 'waiting', run_at = ?, attempts = attempts - 1, "
    "rescues = 0, version = coalesce(?, version), lease_token = NULL, "
    "lease_expires_at = NULL, worker_id = NULL "
    "WHERE id = ? AND lease_token = ? AND state = 'running'"
)
_WAITS = (
    "SELECT s.job_id, s.seq, s.input FROM conveyor_steps s JOIN conveyor_jobs j "
    "ON j.id = s.job_id WHERE s.state = 'waiting' AND s.event_name = ? "
    "AND j.state = 'waiting' AND s.wake_at > ?"
)


def step_values(step: StepRow) -> tuple[Any, ...]:
    return (
        step.job_id, step.seq, step.key, step.kind, step.state, step.input, step.output,
        step.error, step.attempts, step.history, step.wake_at, step.event_name,
        step.fingerprint, step.started_at, step.finished_at,
    )


class DurableMixin:
    """Steps and events for :class:`SQLiteStore` (same connection and transactions)."""

    db: Locked
    _changed: threading.Event

    def _insert_one(self, conn: sqlite3.Connection, j: NewJob, now: float) -> int:
        raise NotImplementedError  # provided by SQLiteStore

    def load_steps(self, job_id: int) -> list[StepRow]:
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT {STEP_COLUMNS} FROM conveyor_steps WHERE job_id = ? ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [StepRow(*r) for r in rows]

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        with self.db.transaction() as conn:
            saved = conn.execute(_SAVE_STEP, (*step_values(step), step.job_id, token)).rowcount
            if saved and suspend_until is not None:
                conn.execute(_SUSPEND, (suspend_until, version, step.job_id, token))
        return bool(saved)

    def deliver_event(
        self,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
    ) -> tuple[EventRow, bool]:
        now = time.time()
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
                self._deliver(conn, stored, runs, wakes, now)
            stored.runs = [r[0] for r in conn.execute(
                "SELECT id FROM conveyor_jobs WHERE event_id = ? ORDER BY id", (stored.id,)
            )]
        self._changed.set()
        return stored, new

    def _deliver(
        self,
        conn: sqlite3.Connection,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
        now: float,
    ) -> None:
        conn.execute(
            "UPDATE conveyor_events SET delivered_at = ? WHERE id = ?", (now, event.id)
        )
        event.delivered_at = now
        for job in runs(event):
            job.event_id = event.id
            self._insert_one(conn, job, now)
        output = event.as_json()
        for job_id, seq, spec in conn.execute(_WAITS, (event.name, now)).fetchall():
            if wakes(event, spec):
                conn.execute(
                    "UPDATE conveyor_steps SET state = 'completed', output = ?, "
                    "finished_at = ? WHERE job_id = ? AND seq = ?", (output, now, job_id, seq),
                )
                conn.execute(
                    "UPDATE conveyor_jobs SET run_at = ? WHERE id = ? AND state = 'waiting'",
                    (now, job_id),
                )

    def due_events(self, limit: int) -> list[EventRow]:
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events WHERE delivered_at IS NULL "
                "AND deliver_at <= ? ORDER BY deliver_at LIMIT ?", (time.time(), limit),
            ).fetchall()
        return [EventRow(*r) for r in rows]

    def get_event(self, event_id: str) -> EventRow | None:
        found = self._events("WHERE id = ?", (event_id,))
        return found[0] if found else None

    def list_events(self, name: str | None, limit: int, offset: int) -> list[EventRow]:
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        return self._events(
            f"{where} ORDER BY sent_at DESC, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )

    def _events(self, sql: str, params: Sequence[Any]) -> list[EventRow]:
        with self.db.reading() as conn:
            rows = [EventRow(*r) for r in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events {sql}", params
            )]
            if rows:
                marks = ", ".join("?" for _ in rows)
                by_id = {e.id: e for e in rows}
                for event_id, job_id in conn.execute(
                    f"SELECT event_id, id FROM conveyor_jobs WHERE event_id IN ({marks}) "
                    "ORDER BY id", [e.id for e in rows],
                ):
                    by_id[event_id].runs.append(job_id)
        return rows

    def _purge_steps(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        conn.executemany("DELETE FROM conveyor_steps WHERE job_id = ?", [(i,) for i in ids])
