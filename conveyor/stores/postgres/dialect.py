"""The PostgreSQL dialect: psycopg's ``%(name)s`` parameters, the database clock
(``conveyor_now()``), arrays for lists, ``jsonb``, row locks and NOTIFY wake-ups."""

from __future__ import annotations

import functools
import operator
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import compress
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg import errors as pg_errors

from conveyor.errors import ConfigurationError, StoreUnavailable
from conveyor.stores.base import NewJob
from conveyor.stores.core.batch import columns
from conveyor.stores.core.dialect import JOB_FIELDS, Dialect, pyformat
from conveyor.stores.eventlogic import STEP_COLUMNS, EventSQL
from conveyor.stores.graphlogic import GraphSQL
from conveyor.stores.postgres.arrays import Float8s, Int8s, Texts
from conveyor.stores.postgres.connection import Database, pass_clock
from conveyor.stores.postgres.copying import copy_jobs
from conveyor.stores.postgres.single import (
    FLOAT8_COLUMNS,
    INT8_COLUMNS,
    INT8_RANGE,
    NOW,
    OMITTED,
    insert_many,
    insert_one,
    insert_sql,
    many_statement,
)

STEP_KEYS = ("token", *STEP_COLUMNS.split(", "))  # save_steps' arrays
COPY_FROM = 100  # batches this large are stored with COPY (copying.py)
many_values = operator.attrgetter(*JOB_FIELDS)
NUL_IN_PAYLOAD = "the payload contains the character \\u0000, which PostgreSQL cannot store"


def many_columns(jobs: Sequence[NewJob]) -> dict[str, list[Any]]:
    """insert_many's parameters: one list per column (enqueue_many's batch of one job
    read as the columns it holds, not as job objects), packed at once where its values
    are of the column's type (arrays.py; psycopg's list dumper costs ~10 µs a column)."""
    cols = columns(jobs)
    return {name: _packed(name, list(cols.varying[name]) if name in cols.varying
                          else [cols.shared[name]] * cols.size) for name in JOB_FIELDS}


# insert_many's columns by the array type that packs them (owner_int: psycopg's own).
_PACKED: dict[str, tuple[type[list[Any]], tuple[type, ...]]] = {
    name: (Int8s, (int, type(None))) if name in INT8_COLUMNS
    else (Float8s, (float, int, type(None))) if name in FLOAT8_COLUMNS
    else (Texts, (str, type(None)))
    for name in JOB_FIELDS if name != "owner_int"
}


def _packed(name: str, values: list[Any]) -> list[Any]:
    """``values`` as the array type packing them when every one is of its types (not a
    bool, nor an int beyond bigint; seconds may mix ints and floats, which psycopg's
    list dumper refuses); else as they are, for psycopg and the database to decide."""
    kind, types = _PACKED.get(name, (list, ()))
    if kind is list or not all(type(v) in types for v in values):
        return values
    if int in types and not all(v in INT8_RANGE for v in values if type(v) is int):
        return values
    return kind(values)


P = ParamSpec("P")
T = TypeVar("T")


def retry_conflicts(fn: Callable[P, T]) -> Callable[P, T]:
    """Re-run a whole operation the database aborted to break a deadlock (nothing of it
    was committed, so running it again is safe)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(5):
            try:
                return fn(*args, **kwargs)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                time.sleep(0.005 * (attempt + 1) + secrets.randbelow(10) / 1000)
        try:
            return fn(*args, **kwargs)
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
            raise StoreUnavailable(f"PostgreSQL kept aborting the operation: {exc}") from exc

    return wrapper


class _EventSQL(EventSQL):
    def runs_of(self, ids: list[str]) -> tuple[str, Sequence[Any]]:
        return (
            "SELECT event_id, id FROM conveyor_jobs WHERE event_id = ANY(%s) ORDER BY id",
            (ids,),
        )


class PostgresDialect(Dialect):
    now_sql = NOW
    like = "ILIKE"
    same = "IS NOT DISTINCT FROM"
    json_contains = "payload @> {}::jsonb"
    for_update = " FOR UPDATE"
    for_share = " FOR SHARE"
    job_tables = ("conveyor_logs", "conveyor_steps", "conveyor_deps", "conveyor_waits")
    # The waiting steps an event wakes are locked in job order (no deadlock between senders).
    graph = GraphSQL("%s")
    events = _EventSQL("%s", lock_waits=" ORDER BY s.job_id FOR UPDATE OF s, j",
                       sequence="coalesce(seq, 0)")  # (NULL: stored before 0022)

    def __init__(self, db: Database, schema: Callable[[], str]) -> None:
        self.db = db
        self.schema = schema

    @staticmethod
    def translate(sql: str) -> str:
        return pyformat(sql, NOW)

    @staticmethod
    def mark(name: str, cast: str = "") -> str:
        return f"%({name})s::{cast}" if cast else f"%({name})s"

    @classmethod
    def any_of(cls, column: str, name: str, values: Sequence[Any], cast: str,
               params: dict[str, Any]) -> str:
        params[name] = cls.array(values)
        return f"{column} = ANY(%({name})s::{cast}[])"

    @staticmethod
    def array(values: Sequence[Any]) -> Any:
        return list(values)

    @staticmethod
    def json_text(column: str) -> str:
        return f"{column}::text"

    def now(self, conn: Any, params: dict[str, Any] | None = None) -> float:
        row = conn.execute(f"SELECT {NOW}").fetchone()
        return float(row[0])

    def reading(self) -> Any:
        return self.db.connection()

    def one(self) -> Any:
        return self.db.connection()  # autocommit: one statement is one transaction

    def one_statement(self, jobs: int) -> bool:
        return jobs < COPY_FROM  # one INSERT ... unnest (COPY takes a transaction)

    @contextmanager
    def writing(self) -> Iterator[Any]:
        with self.db.connection() as conn, conn.transaction():
            yield conn

    def notify(self, conn: Any) -> None:
        conn.execute(self.q["notify"])

    @contextmanager
    def adopt(self, conn: Any) -> Iterator[Any]:
        """The caller's psycopg connection: its transaction (a savepoint if one is open),
        with this store's schema and clock for the statements run in it."""
        if not isinstance(conn, psycopg.Connection):
            raise ConfigurationError(
                f"connection= must be a psycopg (3) Connection, not {type(conn).__name__}"
            )
        schema = self.schema()
        with conn.transaction():
            row = conn.execute(
                "SELECT current_setting('search_path'), set_config('search_path', %s, true)",
                (schema,),
            ).fetchone()
            if self.db.clock is not None:
                pass_clock(conn, self.db.clock, local=True)
            try:
                yield conn
            except pg_errors.UndefinedTable:
                raise ConfigurationError(
                    f"connection= reaches a database without conveyor's tables in schema "
                    f"{schema!r}; pass a connection to the app's own database"
                ) from None
            conn.execute("SELECT set_config('search_path', %s, true)", (row[0] if row else "",))

    def insert_plain(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        """One INSERT (of unnest arrays for many); from COPY_FROM jobs, COPY."""
        if len(jobs) == 1:
            values = many_values(jobs[0])
            present = tuple(map(operator.is_not, values, OMITTED))
            bound = tuple(compress(values, present))
            job_id = insert_one(conn, jobs[0].job, present, bound)  # a pooled connection's
            if job_id is not None:
                return [job_id]
            return [int(conn.execute(insert_sql(present), bound).fetchone()[0])]
        if len(jobs) >= COPY_FROM:
            return copy_jobs(conn, self.q, jobs)
        params = many_columns(jobs)
        ids = insert_many(conn, _MANY, params)  # a pooled connection's
        if ids is not None:
            return ids
        return sorted(r[0] for r in conn.execute(self.q["insert_many"], params))

    def attempt(self, fn: Callable[[], T]) -> T:
        return retry_conflicts(fn)()

    def batched(self, conn: Any) -> Any:
        return conn.pipeline()

    @staticmethod
    def missing_table(exc: BaseException) -> bool:
        return isinstance(exc, pg_errors.UndefinedTable) or isinstance(
            exc.__cause__, pg_errors.UndefinedTable)  # classified: StoreError

    def save_steps(self, conn: Any, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """One statement over arrays for the steps that do not suspend their run."""
        plain = [row for row in rows if row["suspend"] is None]
        if len(plain) < 2:
            return super().save_steps(conn, rows)
        columns = {key: [row[key] for row in plain] for key in STEP_KEYS}
        stored = {(r[0], r[1]) for r in conn.execute(self.q["save_steps"], columns)}
        return [(row["job_id"], row["seq"]) in stored if row["suspend"] is None
                else self.save_step(conn, row) for row in rows]

    def many(self, conn: Any, name: str, rows: Sequence[dict[str, Any]]) -> int:
        """One statement over arrays: each parameter is the list of the rows' values."""
        if not rows:
            return 0
        columns = {key: [row[key] for row in rows] for key in rows[0]}
        return int(conn.execute(self.q[name], columns).rowcount)


PostgresDialect.q = PostgresDialect.load("conveyor.stores.postgres", "queries.sql", "flow.sql")
_MANY = many_statement(PostgresDialect.q["insert_many"])
# The variant for workers that serve some queues only.
PostgresDialect.q["next_due_queues"] = PostgresDialect.q["next_due"].replace(
    "/*queues*/", "AND j.queue = ANY(%(queues)s::text[])"
)
