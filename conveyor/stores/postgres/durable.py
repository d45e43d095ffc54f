"""PostgreSQL store methods for durable runs (steps) and events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.stores.base import EventRow, NewJob, StepRow
from conveyor.stores.postgres.queries import Q
from conveyor.stores.sqlite.durable import EVENT_COLUMNS, STEP_COLUMNS, step_values

if TYPE_CHECKING:
    import psycopg

    from conveyor.stores.postgres.connection import Database

_NOW = "extract(epoch from now())::float8"
_SET_STEP = ", ".join(
    f"{c} = excluded.{c}" for c in STEP_COLUMNS.split(", ") if c not in ("job_id", "seq")
)
# One statement: fence on the lease (row lock), optionally suspend the run, upsert the step.
_SAVE_STEP = f"""
WITH fence AS (
    SELECT id FROM conveyor_jobs
    WHERE id = %(job_id)s AND lease_token = %(token)s AND state = 'running' FOR UPDATE),
suspended AS (
    UPDATE conveyor_jobs AS j SET state = 'waiting', run_at = %(suspend)s::float8,
        attempts = j.attempts - 1, rescues = 0, version = coalesce(%(version)s, j.version),
        lease_token = NULL, lease_expires_at = NULL, worker_id = NULL
    FROM fence WHERE j.id = fence.id AND %(suspend)s::float8 IS NOT NULL)
INSERT INTO conveyor_steps ({STEP_COLUMNS})
SELECT {", ".join(f"%(v{i})s" for i in range(15))} FROM fence
ON CONFLICT (job_id, seq) DO UPDATE SET {_SET_STEP}
""".encode()
_WAITS = f"""
SELECT s.job_id, s.seq, s.input FROM conveyor_steps s JOIN conveyor_jobs j ON j.id = s.job_id
WHERE s.state = 'waiting' AND s.event_name = %s AND j.state = 'waiting' AND s.wake_at > {_NOW}
ORDER BY s.job_id FOR UPDATE OF s, j
""".encode()


class DurableMixin:
    """Steps and events for :class:`PostgresStore`."""

    db: Database

    def _insert_one(self, conn: psycopg.Connection[Any], j: NewJob) -> int:
        raise NotImplementedError  # provided by PostgresStore

    def load_steps(self, job_id: int) -> list[StepRow]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT {STEP_COLUMNS} FROM conveyor_steps WHERE job_id = %s ORDER BY seq",
                (job_id,),
            ).fetchall()
        return [StepRow(*r) for r in rows]

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        params: dict[str, Any] = {f"v{i}": v for i, v in enumerate(step_values(step))}
        params.update(job_id=step.job_id, token=token, suspend=suspend_until, version=version)
        with self.db.connection() as conn:
            return bool(conn.execute(_SAVE_STEP, params).rowcount)

    def deliver_event(
        self,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
    ) -> tuple[EventRow, bool]:
        with self.db.connection() as conn, conn.transaction():
            new = conn.execute(
                f"INSERT INTO conveyor_events ({EVENT_COLUMNS}) "
                f"VALUES (%s, %s, %s, {_NOW}, %s, NULL, %s) ON CONFLICT (id) DO NOTHING",
                (event.id, event.name, event.payload, event.deliver_at, event.source),
            ).rowcount == 1
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS}, {_NOW} FROM conveyor_events WHERE id = %s FOR UPDATE",
                (event.id,),
            ).fetchone()
            assert row is not None
            stored, now = EventRow(*row[:-1]), float(row[-1])
            if stored.delivered_at is None and stored.deliver_at <= now:
                self._deliver(conn, stored, runs, wakes, now)
            stored.runs = [r[0] for r in conn.execute(
                "SELECT id FROM conveyor_jobs WHERE event_id = %s ORDER BY id", (stored.id,)
            )]
        return stored, new

    def _deliver(
        self,
        conn: psycopg.Connection[Any],
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
        now: float,
    ) -> None:
        conn.execute(
            "UPDATE conveyor_events SET delivered_at = %s WHERE id = %s", (now, event.id)
        )
        event.delivered_at = now
        for job in runs(event):
            job.event_id = event.id
            self._insert_one(conn, job)
        output = event.as_json()
        woken = [
            (job_id, seq) for job_id, seq, spec in conn.execute(_WAITS, (event.name,))
            if wakes(event, spec)
        ]
        for job_id, seq in woken:
            conn.execute(
                "UPDATE conveyor_steps SET state = 'completed', output = %s, finished_at = %s "
                "WHERE job_id = %s AND seq = %s", (output, now, job_id, seq),
            )
            conn.execute(
                "UPDATE conveyor_jobs SET run_at = %s WHERE id = %s AND state = 'waiting'",
                (now, job_id),
            )
        if woken:
            conn.execute(Q["notify"])

    def due_events(self, limit: int) -> list[EventRow]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events WHERE delivered_at IS NULL "
                f"AND deliver_at <= {_NOW} ORDER BY deliver_at LIMIT %s", (limit,),
            ).fetchall()
        return [EventRow(*r) for r in rows]

    def get_event(self, event_id: str) -> EventRow | None:
        found = self._events("WHERE id = %s", (event_id,))
        return found[0] if found else None

    def list_events(self, name: str | None, limit: int, offset: int) -> list[EventRow]:
        where, params = ("WHERE name = %s", [name]) if name is not None else ("", [])
        return self._events(
            f"{where} ORDER BY sent_at DESC, id LIMIT %s OFFSET %s", (*params, limit, offset)
        )

    def _events(self, sql: str, params: Sequence[Any]) -> list[EventRow]:
        with self.db.connection() as conn:
            rows = [EventRow(*r) for r in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events {sql}".encode(), params
            )]
            by_id = {e.id: e for e in rows}
            if rows:
                for event_id, job_id in conn.execute(
                    "SELECT event_id, id FROM conveyor_jobs WHERE event_id = ANY(%s) "
                    "ORDER BY id", (list(by_id),),
                ):
                    by_id[event_id].runs.append(job_id)
        return rows

    def _after_purge(self, conn: psycopg.Connection[Any], ids: list[int]) -> None:
        conn.execute("DELETE FROM conveyor_steps WHERE job_id = ANY(%s)", (ids,))
        later = getattr(super(), "_after_purge", None)
        if later is not None:
            later(conn, ids)
