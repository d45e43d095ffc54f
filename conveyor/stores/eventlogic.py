"""Durable steps and events: the part both SQL stores share.

Each function takes the store's open connection (sqlite3's and psycopg's both have
``execute(sql, params)`` returning an iterable cursor) and an :class:`EventSQL` written
with that store's parameter mark. Fencing, locking and clocks stay in the stores."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from conveyor.stores.base import FINISHED, EventRow, NewJob, StepRow

STEP_COLUMNS = (
    "job_id, seq, key, kind, state, input, output, error, attempts, history, wake_at, "
    "event_name, fingerprint, started_at, finished_at"
)
EVENT_COLUMNS = "id, name, payload, sent_at, deliver_at, delivered_at, source"


class Connection(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


def step_values(step: StepRow) -> tuple[Any, ...]:
    """The step's values in :data:`STEP_COLUMNS` order."""
    return (
        step.job_id, step.seq, step.key, step.kind, step.state, step.input, step.output,
        step.error, step.attempts, step.history, step.wake_at, step.event_name,
        step.fingerprint, step.started_at, step.finished_at,
    )


class EventSQL:
    """The shared statements, written with one store's parameter mark (``?`` or ``%s``).

    ``lock_waits`` ends the waiting-steps query (PostgreSQL locks the rows it wakes).
    ``sequence``: the column numbering events in the order they were stored (SQLite's
    rowid, kept by VACUUM: the table has an index; PostgreSQL's seq, migration 0022),
    which orders events sent at one instant."""

    def __init__(self, mark: str, lock_waits: str = "", sequence: str = "rowid") -> None:
        p = self.mark = mark
        self.sequence = sequence
        self.load_steps = (
            f"SELECT {STEP_COLUMNS} FROM conveyor_steps WHERE job_id = {p} ORDER BY seq"
        )
        self.delivered = f"UPDATE conveyor_events SET delivered_at = {p} WHERE id = {p}"
        self.waits = (
            "SELECT s.job_id, s.seq, s.input FROM conveyor_steps s JOIN conveyor_jobs j "
            f"ON j.id = s.job_id WHERE s.state = 'waiting' AND s.event_name = {p} "
            f"AND j.state = 'waiting' AND s.wake_at > {p}{lock_waits}"
        )
        self.complete_step = (
            f"UPDATE conveyor_steps SET state = 'completed', output = {p}, finished_at = {p} "
            f"WHERE job_id = {p} AND seq = {p}"
        )
        self.wake_job = (
            f"UPDATE conveyor_jobs SET run_at = {p} WHERE id = {p} AND state = 'waiting'"
        )
        self.event_runs = f"SELECT id FROM conveyor_jobs WHERE event_id = {p} ORDER BY id"
        self.by_id = f"WHERE id = {p}"
        self.by_name = f"WHERE name = {p}"
        self.newest_first = f"ORDER BY sent_at DESC, {sequence} DESC LIMIT {p} OFFSET {p}"
        # Kept: events not delivered yet, those that started an unfinished run, and those
        # that woke an unfinished run's io.wait_for_event (``deliver`` completes that step
        # at the event's delivered_at). Uncorrelated subqueries: each is read once.
        unfinished = f"j.state NOT IN ({', '.join(repr(s) for s in FINISHED)})"
        self.purge_events = (
            f"DELETE FROM conveyor_events WHERE delivered_at < {p} AND id NOT IN ("
            "SELECT j.event_id FROM conveyor_jobs j "
            f"WHERE j.event_id IS NOT NULL AND {unfinished}) "
            "AND (name, delivered_at) NOT IN (SELECT s.event_name, s.finished_at "
            "FROM conveyor_steps s JOIN conveyor_jobs j ON j.id = s.job_id "
            "WHERE s.kind = 'event' AND s.event_name IS NOT NULL "
            f"AND s.finished_at IS NOT NULL AND {unfinished})"
        )

    def runs_of(self, ids: list[str]) -> tuple[str, Sequence[Any]]:
        """The query for (event id, job id) of the given events' runs, by job id."""
        marks = ", ".join(self.mark for _ in ids)
        return (
            f"SELECT event_id, id FROM conveyor_jobs WHERE event_id IN ({marks}) ORDER BY id",
            ids,
        )


def deliver(
    conn: Connection,
    sql: EventSQL,
    event: EventRow,
    runs: Callable[[EventRow], Sequence[NewJob]],
    wakes: Callable[[EventRow, str | None], bool],
    insert: Callable[[NewJob], object],
    now: float,
) -> bool:
    """Mark ``event`` delivered at ``now``, ``insert`` its runs and complete the waiting
    event steps that ``wakes`` accepts (their runs are due at once); True if any woke."""
    conn.execute(sql.delivered, (now, event.id))
    event.delivered_at = now
    for job in runs(event):
        job.event_id = event.id
        insert(job)
    output = event.as_json()
    woken = [
        (job_id, seq)
        for job_id, seq, spec in conn.execute(sql.waits, (event.name, now)).fetchall()
        if wakes(event, spec)
    ]
    for job_id, seq in woken:
        conn.execute(sql.complete_step, (output, now, job_id, seq))
        conn.execute(sql.wake_job, (now, job_id))
    return bool(woken)


def event_runs(conn: Connection, sql: EventSQL, event_id: str) -> list[int]:
    """The ids of the runs an event started."""
    return [r[0] for r in conn.execute(sql.event_runs, (event_id,))]


def with_runs(conn: Connection, sql: EventSQL, rows: list[EventRow]) -> list[EventRow]:
    """Fill in ``runs`` of the given events (one query); returns ``rows``."""
    if rows:
        by_id = {e.id: e for e in rows}
        query, params = sql.runs_of(list(by_id))
        for event_id, job_id in conn.execute(query, params):
            by_id[event_id].runs.append(job_id)
    return rows
