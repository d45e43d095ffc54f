"""PostgreSQL store methods for durable runs (steps) and events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

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
from conveyor.stores.postgres.queries import Q

if TYPE_CHECKING:
    import psycopg

    from conveyor.stores.postgres.connection import Database

_NOW = "conveyor_now()"
_SET_STEP = ", ".join(
    f"{c} = excluded.{c}" for c in STEP_COLUMNS.split(", ") if c not in ("job_id", "seq")
)
# One statement: fence on the lease (row lock), optionally suspend the run, upsert the step.
SAVE_STEP = f"""
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


class _EventSQL(EventSQL):
    def runs_of(self, ids: list[str]) -> tuple[str, Sequence[Any]]:
        return (
            "SELECT event_id, id FROM conveyor_jobs WHERE event_id = ANY(%s) ORDER BY id",
            (ids,),
        )


# The waiting steps an event wakes are locked in job order (no deadlock between senders).
_SQL = _EventSQL("%s", lock_waits=" ORDER BY s.job_id FOR UPDATE OF s, j")


class DurableMixin(EventReads):
    """Steps and events for :class:`PostgresStore`."""

    _event_sql = _SQL
    db: Database

    def _insert_one(self, conn: psycopg.Connection[Any], j: NewJob) -> int:
        raise NotImplementedError  # provided by PostgresStore

    def load_steps(self, job_id: int) -> list[StepRow]:
        with self.db.connection() as conn:
            rows = conn.execute(_SQL.load_steps, (job_id,)).fetchall()
        return [StepRow(*r) for r in rows]

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        params: dict[str, Any] = {f"v{i}": v for i, v in enumerate(step_values(step))}
        params.update(job_id=step.job_id, token=token, suspend=suspend_until, version=version)
        with self.db.connection() as conn:
            return bool(conn.execute(SAVE_STEP, params).rowcount)

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
            if stored.delivered_at is None and stored.deliver_at <= now and deliver(
                conn, _SQL, stored, runs, wakes, lambda job: self._insert_one(conn, job), now
            ):
                conn.execute(Q["notify"])
            stored.runs = event_runs(conn, _SQL, stored.id)
        return stored, new

    def due_events(self, limit: int) -> list[EventRow]:
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events WHERE delivered_at IS NULL "
                f"AND deliver_at <= {_NOW} ORDER BY deliver_at LIMIT %s", (limit,),
            ).fetchall()
        return [EventRow(*r) for r in rows]

    def _events(self, sql: str, params: Sequence[Any]) -> list[EventRow]:
        with self.db.connection() as conn:
            return with_runs(conn, _SQL, [EventRow(*r) for r in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events {sql}".encode(), params
            )])

    def purge_events(self, older_than: float) -> int:
        with self.db.connection() as conn:
            deleted: int = conn.execute(_SQL.purge_events, (older_than,)).rowcount
        return deleted

    def _after_purge(self, conn: psycopg.Connection[Any], ids: list[int]) -> None:
        conn.execute("DELETE FROM conveyor_steps WHERE job_id = ANY(%s)", (ids,))
        later = getattr(super(), "_after_purge", None)
        if later is not None:
            later(conn, ids)
