"""The SQLite dialect: ``:name`` parameters, the clock passed in as ``:now``, JSON lists
through ``json_each``, ``BEGIN IMMEDIATE`` write transactions on one locked connection."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.stores.base import NewJob
from conveyor.stores.core.dialect import Dialect
from conveyor.stores.eventlogic import EventSQL
from conveyor.stores.graphlogic import GraphSQL
from conveyor.stores.sqlite.connection import Locked

_INSERT = (
    "INSERT INTO conveyor_jobs (job, args, kwargs, payload, state, priority, queue, key, owner, "
    "dedupe_key, max_attempts, retry, timeout, retention, remove_delay, run_at, created_at, "
    "version, schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, "
    "trace_context) VALUES "
    "(?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Bulk inserts go in multi-row statements: ~50% faster than executemany row by row.
_ROWS_PER_STATEMENT = 40
_INSERT_MANY = _INSERT + (", " + _INSERT.split(" VALUES ", 1)[1]) * (_ROWS_PER_STATEMENT - 1)


def _values(j: NewJob, now: float) -> tuple[Any, ...]:
    run_at = j.run_at if j.run_at is not None else now + j.delay
    return (
        j.job, j.args, j.kwargs, j.payload, j.priority, j.queue, j.key, j.owner, None,
        j.max_attempts, j.retry, j.timeout, j.retention, j.remove_delay, run_at, now,
        j.version, j.schedule_id, j.fire_at, j.rescheduled_from, j.event_id,
        j.concurrency_key, j.trace_context,
    )


class SQLiteDialect(Dialect):
    now_sql = ":now"
    like_escape = " ESCAPE '\\'"
    job_tables = ("conveyor_logs", "conveyor_steps", "conveyor_deps")
    events = EventSQL("?")
    graph = GraphSQL("?")

    def __init__(self, db: Locked, path: str, clock: Callable[[], float],
                 changed: threading.Event) -> None:
        self.db = db
        self.path = path
        self.clock = clock
        self.changed = changed

    @staticmethod
    def mark(name: str, cast: str = "") -> str:
        return f":{name}"

    @classmethod
    def any_of(cls, column: str, name: str, values: Sequence[Any], cast: str,
               params: dict[str, Any]) -> str:
        params[name] = cls.array(values)
        return f"{column} IN (SELECT value FROM json_each(:{name}))"

    @staticmethod
    def array(values: Sequence[Any]) -> Any:
        return json.dumps(list(values))

    def params(self, **values: Any) -> dict[str, Any]:
        values["now"] = self.clock()
        return values

    def now(self, conn: Any, params: dict[str, Any] | None = None) -> float:
        return float(params["now"]) if params and "now" in params else self.clock()

    def reading(self) -> AbstractContextManager[Any]:
        return self.db.reading()

    def writing(self) -> AbstractContextManager[Any]:
        return self.db.transaction()

    def notify(self, conn: Any) -> None:
        self.changed.set()  # workers in this process; others see PRAGMA data_version

    def inserted(self) -> None:
        self.changed.set()

    @contextmanager
    def adopt(self, conn: Any) -> Iterator[Any]:
        """The caller's sqlite3 connection to this file (they commit or roll back)."""
        if not isinstance(conn, sqlite3.Connection):
            raise ConfigurationError(
                f"connection= must be a sqlite3.Connection to {self.path}, "
                f"not {type(conn).__name__}"
            )
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            raise ConfigurationError(
                f"connection= reaches a database without conveyor's tables; pass a "
                f"connection to {self.path}"
            ) from None

    def insert_plain(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        """Multi-row INSERTs in order (ids are consecutive: AUTOINCREMENT, one writer)."""
        now = self.clock()
        if len(jobs) == 1:
            return [int(conn.execute(_INSERT, _values(jobs[0], now)).lastrowid)]
        rows = [_values(j, now) for j in jobs]
        whole = len(rows) - len(rows) % _ROWS_PER_STATEMENT
        for start in range(0, whole, _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            conn.execute(_INSERT_MANY, [value for row in chunk for value in row])
        if whole < len(rows):
            conn.executemany(_INSERT, rows[whole:])
        (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        return list(range(last - len(jobs) + 1, last + 1))

    @staticmethod
    def missing_table(exc: BaseException) -> bool:
        return "no such table" in str(exc)

    def many(self, conn: Any, name: str, rows: Sequence[dict[str, Any]]) -> int:
        return int(conn.executemany(self.q[name], rows).rowcount)


SQLiteDialect.q = SQLiteDialect.load("conveyor.stores.sqlite", "queries.sql")
