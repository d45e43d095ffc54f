"""PostgreSQL store methods for recurring schedules (the logic is shared with SQLite).

Row locks keep pausing and storing an occurrence apart: an occurrence is stored under a
FOR SHARE lock on its schedule, and a pause takes the row's write lock before it deletes
the unstarted occurrences, so a paused schedule is never left with one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from conveyor.stores.base import JobRow, NewJob
from conveyor.stores.postgres.filters import ROW_COLUMNS
from conveyor.stores.sqlite.schedules import ScheduleSQL

if TYPE_CHECKING:
    import psycopg

    from conveyor.stores.postgres.connection import Database


class SchedulesMixin(ScheduleSQL):
    """Schedules for :class:`conveyor.stores.postgres.PostgresStore`."""

    db: Database
    _LOCK = " FOR UPDATE"
    _SHARE = " FOR SHARE"

    def _insert_one(self, conn: psycopg.Connection[Any], j: NewJob) -> int:
        raise NotImplementedError  # provided by PostgresStore

    @contextmanager
    def _sched_write(self) -> Iterator[psycopg.Connection[Any]]:
        with self.db.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _sched_read(self) -> Iterator[psycopg.Connection[Any]]:
        with self.db.connection() as conn:
            yield conn

    def _sched_sql(self, sql: str) -> bytes:
        return sql.replace("?", "%s").encode()

    def _sched_insert(self, conn: psycopg.Connection[Any], job: NewJob) -> int:
        return self._insert_one(conn, job)

    def _sched_occurrences(
        self, conn: psycopg.Connection[Any], schedule_id: str, limit: int
    ) -> list[JobRow]:
        rows = conn.execute(
            f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE schedule_id = %s "
            "AND fire_at IS NOT NULL ORDER BY fire_at DESC LIMIT %s".encode(),
            (schedule_id, limit),
        ).fetchall()
        return [JobRow(*r) for r in rows]
