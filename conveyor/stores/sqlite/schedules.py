"""Recurring schedules in SQL: the schedule rows and their occurrences (jobs).

:class:`ScheduleSQL` holds the logic both SQL stores share (their SQL differs only in
placeholders and row locks); :class:`SchedulesMixin` is the SQLite side. Exactly once
per occurrence comes from the UNIQUE index on ``conveyor_jobs (schedule_id, fire_at)``:
inserting an occurrence that exists returns the existing id.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock, epoch
from conveyor.stores.base import JobRow, NewJob, ScheduleGap, ScheduleRow
from conveyor.stores.sqlite.filters import ROW_COLUMNS, to_row

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked

SCHEDULE_COLUMNS = (
    "id, job, definition, args, kwargs, options, paused, source, misfire, created_at, "
    "updated_at, revision, fingerprint"
)
# The next-occurrence placeholder(s): never started (a retry waiting is not one).
UNSTARTED = "schedule_id = ? AND state = 'pending' AND attempts = 0"
_UPDATE = (
    "UPDATE conveyor_schedules SET job = ?, definition = ?, args = ?, kwargs = ?, "
    "options = ?, misfire = ?, updated_at = ?, revision = revision + 1, fingerprint = ? "
    "WHERE id = ?"
)
_INSERT = (
    f"INSERT INTO conveyor_schedules ({SCHEDULE_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)
_LATEST = (
    "SELECT id, fire_at FROM conveyor_jobs WHERE schedule_id = ? AND fire_at IS NOT NULL "
    "ORDER BY fire_at DESC LIMIT 1"
)
_GAPS = (
    f"SELECT {SCHEDULE_COLUMNS} FROM conveyor_schedules AS s WHERE NOT s.paused AND NOT EXISTS "
    "(SELECT 1 FROM conveyor_jobs WHERE schedule_id = s.id AND state = 'pending' "
    "AND attempts = 0) ORDER BY s.id"
)


def schedule_row(r: Sequence[Any]) -> ScheduleRow:
    return ScheduleRow(
        id=r[0], job=r[1], definition=r[2], args=r[3], kwargs=r[4], options=r[5],
        paused=bool(r[6]), source=r[7], misfire=r[8], created_at=r[9], updated_at=r[10],
        revision=r[11], fingerprint=r[12],
    )


def schedule_values(row: ScheduleRow) -> tuple[Any, ...]:
    return (
        row.id, row.job, row.definition, row.args, row.kwargs, row.options, row.paused,
        row.source, row.misfire, row.created_at, row.updated_at, row.revision, row.fingerprint,
    )


class ScheduleSQL:
    """Schedule methods shared by the SQL stores; each store supplies the hooks below."""

    clock: Clock | None
    _LOCK = ""  # row lock for a schedule read inside a write (PostgreSQL: FOR UPDATE)
    _SHARE = ""  # ... and a shared one while storing an occurrence (FOR SHARE)

    def _sched_write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sched_read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _sched_sql(self, sql: str) -> Any:
        return sql

    def _sched_insert(self, conn: Any, job: NewJob) -> int:
        raise NotImplementedError

    def _sched_occurrences(self, conn: Any, schedule_id: str, limit: int) -> list[JobRow]:
        raise NotImplementedError

    def _sched_done(self) -> None:
        """Called after a write that may have stored work."""

    def _q(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._sched_sql(sql), tuple(params))

    def _load(self, conn: Any, schedule_id: str, lock: str = "") -> ScheduleRow | None:
        r = self._q(conn, f"SELECT {SCHEDULE_COLUMNS} FROM conveyor_schedules WHERE id = ?"
                    + lock, (schedule_id,)).fetchone()
        return schedule_row(r) if r else None

    def _gap(self, conn: Any, row: ScheduleRow) -> ScheduleGap:
        r = self._q(conn, _LATEST, (row.id,)).fetchone()
        return ScheduleGap(row, float(r[1]) if r else None, int(r[0]) if r else None)

    def _unstarted(self, conn: Any, schedule_id: str) -> int | None:
        r = self._q(conn, f"SELECT id FROM conveyor_jobs WHERE {UNSTARTED} ORDER BY run_at "
                    "LIMIT 1", (schedule_id,)).fetchone()
        return int(r[0]) if r else None

    def _drop_unstarted(self, conn: Any, schedule_id: str) -> None:
        self._q(conn, f"DELETE FROM conveyor_jobs WHERE {UNSTARTED}", (schedule_id,))

    def _cancel_unstarted(self, conn: Any, schedule_id: str, why: str) -> None:
        """Cancel the unstarted occurrences, keeping their records (their fire time is
        freed, so the schedule may store that time again)."""
        now = epoch(self.clock)
        error = json.dumps({"type": "Cancelled", "message": why, "traceback": None})
        self._q(conn, "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = ?, "
                "fire_at = NULL, error = ?, purge_at = CASE WHEN retention IS NOT NULL "
                f"THEN ? + retention END WHERE {UNSTARTED}", (now, error, now, schedule_id))

    def save_schedule(
        self, row: ScheduleRow, first: Callable[[ScheduleRow, ScheduleGap], NewJob | None],
    ) -> tuple[ScheduleRow, int | None]:
        now = epoch(self.clock)
        with self._sched_write() as conn:
            row.created_at = row.updated_at = now
            self._q(conn, _INSERT, schedule_values(row))
            stored = self._load(conn, row.id, self._LOCK)
            assert stored is not None
            if stored.fingerprint != row.fingerprint:
                self._q(conn, _UPDATE, (
                    row.job, row.definition, row.args, row.kwargs, row.options, row.misfire,
                    now, row.fingerprint, row.id,
                ))
                self._cancel_unstarted(conn, row.id, "replaced: its schedule was changed")
                stored = self._load(conn, row.id)
                assert stored is not None
            found = self._unstarted(conn, row.id)
            if found is None and not stored.paused:
                job = first(stored, self._gap(conn, stored))
                if job is not None:
                    found = self._sched_insert(conn, job)
        self._sched_done()
        return stored, found

    def add_occurrences(self, jobs: Sequence[tuple[NewJob, int]]) -> list[int | None]:
        ids: list[int | None] = []
        with self._sched_write() as conn:
            for job, revision in jobs:
                stored = self._load(conn, job.schedule_id or "", self._SHARE)
                ok = stored is not None and not stored.paused and stored.revision == revision
                ids.append(self._sched_insert(conn, job) if ok else None)
        self._sched_done()
        return ids

    def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        with self._sched_read() as conn:
            return self._load(conn, schedule_id)

    def list_schedules(self) -> list[ScheduleRow]:
        with self._sched_read() as conn:
            rows = self._q(
                conn, f"SELECT {SCHEDULE_COLUMNS} FROM conveyor_schedules ORDER BY id"
            ).fetchall()
        return [schedule_row(r) for r in rows]

    def pause_schedule(self, schedule_id: str, paused: bool) -> ScheduleRow | None:
        with self._sched_write() as conn:
            changed = self._q(
                conn, "UPDATE conveyor_schedules SET paused = ?, updated_at = ? WHERE id = ?",
                (paused, epoch(self.clock), schedule_id),
            ).rowcount
            if changed and paused:
                self._drop_unstarted(conn, schedule_id)
            return self._load(conn, schedule_id) if changed else None

    def delete_schedules(self, ids: Sequence[str]) -> int:
        deleted = 0
        with self._sched_write() as conn:
            for schedule_id in ids:
                self._load(conn, schedule_id, self._LOCK)  # the row first, as writers do
                self._cancel_unstarted(conn, schedule_id, "its schedule was removed")
                deleted += self._q(
                    conn, "DELETE FROM conveyor_schedules WHERE id = ?", (schedule_id,)
                ).rowcount
        return deleted

    def schedule_gaps(self) -> list[ScheduleGap]:
        with self._sched_read() as conn:
            return [self._gap(conn, schedule_row(r)) for r in self._q(conn, _GAPS).fetchall()]

    def occurrences(self, schedule_id: str, limit: int) -> list[JobRow]:
        with self._sched_read() as conn:
            return self._sched_occurrences(conn, schedule_id, limit)

    def expiring(self) -> bool:
        with self._sched_read() as conn:
            return self._q(
                conn, "SELECT 1 FROM conveyor_jobs WHERE purge_at IS NOT NULL UNION ALL "
                "SELECT 1 FROM conveyor_cleanup LIMIT 1"
            ).fetchone() is not None


class SchedulesMixin(ScheduleSQL):
    """Schedules for :class:`conveyor.stores.sqlite.SQLiteStore`."""

    db: Locked

    def _insert_one(self, conn: sqlite3.Connection, j: NewJob, now: float) -> int:
        raise NotImplementedError  # provided by SQLiteStore

    def _sched_write(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.db.transaction()

    def _sched_read(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.db.reading()

    def _sched_insert(self, conn: sqlite3.Connection, job: NewJob) -> int:
        return self._insert_one(conn, job, epoch(self.clock))

    def _sched_occurrences(
        self, conn: sqlite3.Connection, schedule_id: str, limit: int
    ) -> list[JobRow]:
        now = epoch(self.clock)
        rows = conn.execute(
            f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE schedule_id = ? "
            "AND fire_at IS NOT NULL ORDER BY fire_at DESC LIMIT ?", (schedule_id, limit),
        ).fetchall()
        return [to_row(r, now) for r in rows]

    def _sched_done(self) -> None:
        changed = getattr(self, "_changed", None)
        if changed is not None:
            changed.set()
