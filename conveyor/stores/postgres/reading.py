"""Reading and acting on stored jobs (queries, cancel, retry, purge) on PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.stores.base import FINISHED, JobFilter, JobRow, LogLine
from conveyor.stores.postgres.filters import NOW, ROW_COLUMNS, STATE_SQL, where
from conveyor.stores.postgres.queries import Q

if TYPE_CHECKING:
    import psycopg

    from conveyor.stores.postgres.connection import Database

_UNFINISHED = ("scheduled", "queued", "blocked", "waiting", "running")

# Unfinished rows through the due and running indexes; finished ones one state at a time
# through conveyor_jobs_finished_state (a plain count per range, cheaper than grouping).
_COUNTS_BY_STATE = (
    f"SELECT {STATE_SQL} AS s, count(*) FROM conveyor_jobs "
    "WHERE state IN ('pending', 'waiting') GROUP BY s "
    "UNION ALL SELECT 'running', count(*) FROM conveyor_jobs WHERE state = 'running'"
    " UNION ALL SELECT 'blocked', count(*) FROM conveyor_jobs WHERE state = 'blocked'"
    + "".join(
        f" UNION ALL SELECT '{state}', count(*) FROM conveyor_jobs "
        f"WHERE finished_at IS NOT NULL AND state = '{state}'" for state in FINISHED
    )
).encode()


class ReadingMixin:
    db: Database
    _cleanup_condition: Callable[..., str]  # CleanupMixin

    def get(self, job_id: int) -> JobRow | None:
        with self.db.connection() as conn:
            row = conn.execute(
                f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE id = %s".encode(), (job_id,)
            ).fetchone()
        return JobRow(*row) if row else None

    def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        with self.db.connection() as conn:
            row = conn.execute(
                f"SELECT {STATE_SQL}, result, error FROM conveyor_jobs WHERE id = %s".encode(),
                (job_id,),
            ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def list_jobs(
        self, flt: JobFilter, limit: int = 100, offset: int = 0, newest_first: bool = True
    ) -> list[JobRow]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        order = "DESC" if newest_first else "ASC"
        query = (
            f"SELECT {ROW_COLUMNS} FROM conveyor_jobs WHERE {where(flt, params)} "
            f"ORDER BY id {order} LIMIT %(limit)s OFFSET %(offset)s"
        )
        with self.db.connection() as conn:
            rows = conn.execute(query.encode(), params).fetchall()
        return [JobRow(*r) for r in rows]

    def count(self, flt: JobFilter) -> int:
        params: dict[str, Any] = {}
        query = f"SELECT count(*) FROM conveyor_jobs WHERE {where(flt, params)}"
        with self.db.connection() as conn:
            row = conn.execute(query.encode(), params).fetchone()
        return int(row[0]) if row else 0

    def counts_by_state(self) -> dict[str, int]:
        # Counts over partial indexes (due, running, finished; the last two index-only
        # once vacuumed) instead of a scan of every row: the dashboard asks on every page
        # load, and history only grows.
        with self.db.connection() as conn:
            rows = conn.execute(_COUNTS_BY_STATE).fetchall()
        return {r[0]: r[1] for r in rows if r[1]}

    def logs(self, job_id: int) -> list[LogLine]:
        with self.db.connection() as conn:
            rows = conn.execute(Q["logs"], {"id": job_id}).fetchall()
        return [LogLine(*r) for r in rows]

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        query = Q["next_due_queues" if queues else "next_due"]
        with self.db.connection() as conn:
            row = conn.execute(query, {"queues": list(queues or ())}).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def throughput(self, since: float, bucket: float) -> list[tuple[float, int, int]]:
        with self.db.connection() as conn:
            rows = conn.execute(Q["throughput"], {"since": since, "bucket": bucket}).fetchall()
        return [(since + b * bucket, int(c), int(f)) for b, c, f in rows]

    # -- acting on jobs -----------------------------------------------------------
    def cancel(self, flt: JobFilter) -> int:
        states = [s for s in (flt.states or _UNFINISHED) if s not in FINISHED]
        if not states:
            return 0
        params: dict[str, Any] = {}
        query = (
            "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = t.now, "
            "dedupe_key = NULL, purge_at = t.now + retention, lease_token = NULL, "
            f"lease_expires_at = NULL, worker_id = NULL FROM (SELECT {NOW} AS now) AS t "
            f"WHERE {where(dataclasses.replace(flt, states=states), params)}"
        )
        with self.db.connection() as conn:
            return conn.execute(query.encode(), params).rowcount

    def retry_job(self, job_id: int) -> bool:
        with self.db.connection() as conn, conn.transaction():
            changed = conn.execute(Q["retry_job"], {"id": job_id}).rowcount
            if changed:
                conn.execute(Q["notify"])
        return changed > 0

    def purge(self, flt: JobFilter | None, expired_only: bool) -> int:
        params: dict[str, Any] = {}
        if expired_only:
            cond = f"purge_at <= {NOW}"
            with self.db.connection() as conn:
                row = conn.execute(f"SELECT {NOW}".encode()).fetchone()
                assert row is not None
                cond += self._cleanup_condition(conn, float(row[0]), params, "%({})s")
        else:
            flt = flt or JobFilter()
            states = [s for s in (flt.states or FINISHED) if s in FINISHED]
            if not states:
                return 0
            cond = where(dataclasses.replace(flt, states=states), params)
        with self.db.connection() as conn, conn.transaction():
            ids = [r[0] for r in conn.execute(
                f"DELETE FROM conveyor_jobs WHERE {cond} RETURNING id".encode(), params
            )]
            if ids:
                conn.execute("DELETE FROM conveyor_logs WHERE job_id = ANY(%s)", (ids,))
                self._after_purge(conn, ids)
        return len(ids)

    def _after_purge(self, conn: psycopg.Connection[Any], ids: list[int]) -> None:
        """Delete rows that belong to purged jobs (extended by other tables)."""
