"""SQLite store methods that read jobs (single jobs, lists, counts, logs, charts)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock, epoch
from conveyor.stores.base import JobFilter, JobRow, LogLine
from conveyor.stores.matching import contains
from conveyor.stores.sqlite.filters import ROW_COLUMNS, STATE_SQL, to_row, where

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked


class ReadingMixin:
    """Queries of :class:`SQLiteStore` (on its reading connection)."""

    db: Locked
    clock: Clock | None

    def get(self, job_id: int) -> JobRow | None:
        now = epoch(self.clock)
        with self.db.reading() as conn:
            r = conn.execute(
                f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return to_row(r, now) if r else None

    def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        with self.db.reading() as conn:
            r = conn.execute(
                f"SELECT {STATE_SQL}, result, error FROM conveyor_jobs WHERE id = :id",
                {"now": epoch(self.clock), "id": job_id},
            ).fetchone()
        return (r[0], r[1], r[2]) if r else None

    def _select_ids(self, conn: sqlite3.Connection, flt: JobFilter, extra: str) -> list[int]:
        params: dict[str, Any] = {"now": epoch(self.clock)}
        sql = f"SELECT id, payload FROM conveyor_jobs WHERE {where(flt, params)} {extra}"
        rows = conn.execute(sql, params).fetchall()
        if flt.data is None:
            return [r[0] for r in rows]
        return [r[0] for r in rows if contains(json.loads(r[1]), flt.data)]

    def list_jobs(
        self, flt: JobFilter, limit: int = 100, offset: int = 0, newest_first: bool = True
    ) -> list[JobRow]:
        params: dict[str, Any] = {"now": epoch(self.clock), "limit": limit, "offset": offset}
        order = "DESC" if newest_first else "ASC"
        with self.db.reading() as conn:
            if flt.data is not None:
                ids = self._select_ids(conn, flt, "")
                flt = JobFilter(ids=ids)
            sql = (
                f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE {where(flt, params)} "
                f"ORDER BY id {order} LIMIT :limit OFFSET :offset"
            )
            rows = conn.execute(sql, params).fetchall()
        return [to_row(r, params["now"]) for r in rows]

    def count(self, flt: JobFilter) -> int:
        params: dict[str, Any] = {"now": epoch(self.clock)}
        with self.db.reading() as conn:
            if flt.data is not None:
                return len(self._select_ids(conn, flt, ""))
            sql = f"SELECT count(*) FROM conveyor_jobs WHERE {where(flt, params)}"
            return int(conn.execute(sql, params).fetchone()[0])

    def counts_by_state(self) -> dict[str, int]:
        # Three index-only counts (the due, lease and finished indexes) instead of a
        # scan of every row: the dashboard asks on every page load.
        with self.db.reading() as conn:
            rows = conn.execute(
                f"SELECT {STATE_SQL} AS s, count(*) FROM conveyor_jobs "
                "WHERE state IN ('pending', 'waiting') GROUP BY s", {"now": epoch(self.clock)},
            ).fetchall()
            rows += conn.execute(
                "SELECT 'running', count(*) FROM conveyor_jobs WHERE state = 'running'"
            ).fetchall()
            rows += conn.execute(
                "SELECT 'blocked', count(*) FROM conveyor_jobs WHERE state = 'blocked'"
            ).fetchall()
            rows += conn.execute(
                "SELECT state, count(*) FROM conveyor_jobs WHERE finished_at IS NOT NULL "
                "AND state IN ('completed', 'failed', 'cancelled') GROUP BY state"
            ).fetchall()
        return {r[0]: r[1] for r in rows if r[1]}

    def logs(self, job_id: int) -> list[LogLine]:
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT job_id, attempt, at, level, message FROM conveyor_logs "
                "WHERE job_id = ? ORDER BY at, rowid", (job_id,),
            ).fetchall()
        return [LogLine(*r) for r in rows]

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        params: list[Any] = []
        sql = "SELECT min(run_at) FROM conveyor_jobs WHERE state IN ('pending', 'waiting')"
        if queues:
            sql += f" AND queue IN ({', '.join('?' for _ in queues)})"
            params.extend(queues)
        with self.db.reading() as conn:
            value = conn.execute(sql, params).fetchone()[0]
        return float(value) if value is not None else None

    def throughput(self, since: float, bucket: float) -> list[tuple[float, int, int]]:
        with self.db.reading() as conn:
            rows = conn.execute(
                "SELECT CAST((finished_at - :since) / :bucket AS INTEGER) AS b, "
                "sum(state = 'completed'), sum(state = 'failed') FROM conveyor_jobs "
                "WHERE finished_at >= :since GROUP BY b ORDER BY b",
                {"since": since, "bucket": bucket},
            ).fetchall()
        return [(since + b * bucket, int(c), int(f)) for b, c, f in rows]
