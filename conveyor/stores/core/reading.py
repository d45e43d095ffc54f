"""Reading and acting on stored jobs by filter (get, lists, counts, cancel, retry, purge),
workers and leadership: the algorithm once, the SQL from the store's dialect."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from conveyor.serialization import read_stored
from conveyor.stores.base import FINISHED, JobFilter, JobRow, LogLine, WorkerInfo
from conveyor.stores.core.dialect import Dialect, retried, row_columns
from conveyor.stores.core.filters import data_narrowing, where
from conveyor.stores.matching import contains

UNFINISHED = ("scheduled", "queued", "blocked", "waiting", "running")


class ReadingCore:
    """Queries of a SQL store; ``d`` is its dialect."""

    d: Dialect

    def _where(self, conn: Any, flt: JobFilter, params: dict[str, Any]) -> str:
        """``where`` for ``flt``; a data subset the dialect cannot test in SQL is matched
        here first (on ``conn``), becoming a filter on the ids found. The rest of ``flt``
        still applies: outside a transaction, a row found may have changed (a worker
        claimed it) before the statement using this condition runs."""
        if flt.data is not None and not self.d.json_contains:
            flt = dataclasses.replace(flt, data=None, ids=self._matching_ids(conn, flt))
        return where(self.d, flt, params)

    def _matching_ids(self, conn: Any, flt: JobFilter) -> list[int]:
        params = self.d.params()
        sql = (f"SELECT id, payload FROM conveyor_jobs WHERE {where(self.d, flt, params)}"
               f"{data_narrowing(self.d, flt.data, params)}")
        rows = conn.execute(sql, params).fetchall()
        return [r[0] for r in rows if contains(read_stored(r[1]), flt.data)]

    def get(self, job_id: int) -> JobRow | None:
        with self.d.reading() as conn:
            r = self.d.run(conn, "get", self.d.params(id=job_id)).fetchone()
        return JobRow(*r) if r else None

    def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        with self.d.reading() as conn:
            r = self.d.run(conn, "state_of", self.d.params(id=job_id)).fetchone()
        return (r[0], r[1], r[2]) if r else None

    def list_jobs(
        self, flt: JobFilter, limit: int = 100, offset: int = 0, newest_first: bool = True
    ) -> list[JobRow]:
        d = self.d
        params = d.params(limit=limit, offset=offset)
        with d.reading() as conn:
            sql = (
                f"SELECT {row_columns(d)} FROM conveyor_jobs WHERE {self._where(conn, flt, params)}"
                f" ORDER BY id {'DESC' if newest_first else 'ASC'} "
                f"LIMIT {d.mark('limit')} OFFSET {d.mark('offset')}"
            )
            rows = conn.execute(sql, params).fetchall()
        return [JobRow(*r) for r in rows]

    def count(self, flt: JobFilter) -> int:
        params = self.d.params()
        with self.d.reading() as conn:
            sql = f"SELECT count(*) FROM conveyor_jobs WHERE {self._where(conn, flt, params)}"
            row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    def unstarted_schedules(self, flt: JobFilter) -> list[str]:
        params = self.d.params()
        with self.d.reading() as conn:
            sql = (f"SELECT DISTINCT schedule_id FROM conveyor_jobs WHERE "
                   f"{self._where(conn, flt, params)} AND schedule_id IS NOT NULL "
                   "AND attempts = 0")
            return sorted(r[0] for r in conn.execute(sql, params))

    def counts_by_state(self) -> dict[str, int]:
        # Counts over the due, running and finished indexes instead of a scan of every
        # row: the dashboard asks on every page load, and history only grows.
        with self.d.reading() as conn:
            rows = self.d.run(conn, "counts_by_state", self.d.params()).fetchall()
        return {r[0]: r[1] for r in rows if r[1]}

    def logs(self, job_id: int) -> list[LogLine]:
        return self.logs_of([job_id]).get(job_id, [])

    def logs_of(self, ids: Sequence[int]) -> dict[int, list[LogLine]]:
        found: dict[int, list[LogLine]] = {}
        with self.d.reading() as conn:
            for r in self.d.run(conn, "logs_of", {"ids": self.d.array(ids)}):
                found.setdefault(r[0], []).append(LogLine(*r))
        return found

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        query = "next_due_queues" if queues else "next_due"
        with self.d.reading() as conn:
            row = self.d.run(conn, query, {"queues": self.d.array(queues or ())}).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def throughput(self, since: float, bucket: float) -> list[tuple[float, int, int]]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "throughput", {"since": since, "bucket": bucket}).fetchall()
        return [(since + b * bucket, int(c), int(f)) for b, c, f in rows]

    # -- acting on jobs -----------------------------------------------------------
    @retried
    def cancel(self, flt: JobFilter) -> int:
        states = [s for s in (flt.states or UNFINISHED) if s not in FINISHED]
        if not states:
            return 0
        d = self.d
        params = d.params()
        with d.cancelling() as conn:
            cond = self._where(conn, dataclasses.replace(flt, states=states), params)
            changed = d.cancel(conn, "cancel", params, cond)
            if changed:  # a waiting parent of a cancelled child is due now
                d.notify(conn)
            return changed

    @retried
    def purge(self, flt: JobFilter | None, expired_only: bool) -> int:
        d = self.d
        params = d.params()
        if not expired_only:
            flt = flt or JobFilter()
            states = [s for s in (flt.states or FINISHED) if s in FINISHED]
            if not states:
                return 0
            flt = dataclasses.replace(flt, states=states)
        with d.writing() as conn:
            if flt is None or expired_only:
                cond = f"purge_at <= {d.now_sql}" + self._cleanup_condition(
                    conn, d.now(conn, params), params)
            else:
                cond = self._where(conn, flt, params)
            sql = f"DELETE FROM conveyor_jobs WHERE {cond} RETURNING id"
            ids = [r[0] for r in conn.execute(sql, params)]
            if ids:
                self._after_purge(conn, ids)
        return len(ids)

    def _after_purge(self, conn: Any, ids: list[int]) -> None:
        """Delete the rows that belong to purged jobs (logs, steps, edges, ...)."""
        params: dict[str, Any] = {}
        match = self.d.any_of("job_id", "ids", ids, "bigint", params)
        for table in self.d.job_tables:
            conn.execute(f"DELETE FROM {table} WHERE {match}", params)

    def _cleanup_condition(self, conn: Any, now: float, params: dict[str, Any]) -> str:
        """SQL OR-ed to the expired-purge condition: finished jobs past their type's
        cleanup policy (see :mod:`conveyor.stores.core.cleanup`)."""
        parts = []
        for i, (job, seconds) in enumerate(self.d.run(conn, "cleanup_policies").fetchall()):
            params[f"cj{i}"], params[f"cb{i}"] = job, now - float(seconds)
            parts.append(f"(job = {self.d.mark(f'cj{i}')} AND finished_at IS NOT NULL "
                         f"AND finished_at <= {self.d.mark(f'cb{i}')})")
        return "".join(f" OR {p}" for p in parts)

    # -- workers and leadership ---------------------------------------------------
    def register_worker(self, info: WorkerInfo) -> None:
        with self.d.one() as conn:
            self.d.run(conn, "register_worker", self.d.params(
                id=info.id, host=info.host, pid=info.pid, queues=info.queues,
                concurrency=info.concurrency,
            ))

    def unregister_worker(self, worker_id: str) -> None:
        with self.d.writing() as conn:
            self.d.run(conn, "stop_worker", self.d.params(id=worker_id))
            self.d.run(conn, "drop_leader", {"id": worker_id})

    def workers(self, alive_within: float) -> list[WorkerInfo]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "workers", self.d.params(within=alive_within)).fetchall()
        return [WorkerInfo(*r) for r in rows]

    def try_lead(self, name: str, holder: str, ttl: float) -> bool:
        with self.d.one() as conn:
            row = self.d.run(conn, "try_lead", self.d.params(
                name=name, holder=holder, ttl=ttl)).fetchone()
        return bool(row and row[0] == holder)
