"""The SQLite dialect: ``:name`` parameters, the clock passed in as ``:now``, JSON lists
through ``json_each``, ``BEGIN IMMEDIATE`` write transactions on one locked connection."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from itertools import chain, compress
from operator import is_not
from typing import Any

from conveyor.clock import DUE_SQL, after_delay
from conveyor.errors import ConfigurationError
from conveyor.stores.base import NewJob
from conveyor.stores.core.batch import columns
from conveyor.stores.core.dialect import JOB_FIELDS, Dialect
from conveyor.stores.eventlogic import EventSQL
from conveyor.stores.graphlogic import GraphSQL
from conveyor.stores.rows import Alike
from conveyor.stores.sqlite.connection import LOWER, Locked

# The columns _values fills, in its order (state is always 'pending').
_INSERTED = (
    "job", "args", "kwargs", "payload", "priority", "queue", "key", "owner", "dedupe_key",
    "max_attempts", "retry", "timeout", "retention", "remove_delay", "run_at", "created_at",
    "version", "schedule_id", "fire_at", "rescheduled_from", "event_id", "concurrency_key",
    "trace_context", "owner_int",
)
_COLUMNS = (
    "job, args, kwargs, payload, priority, queue, key, owner, max_attempts, retry, timeout, "
    "retention, remove_delay, run_at, version, schedule_id, fire_at, rescheduled_from, "
    "event_id, concurrency_key, trace_context, owner_int, state, created_at"
)
# Statements of a bulk insert: at most this many rows, and SQLite's oldest default limit of
# parameters (999). Fewer, bigger statements bind faster than executemany row by row.
_MAX_ROWS, _MAX_PARAMS = 500, 999
# What _insert_sql leaves out when equal to it: None for a nullable column (its default is
# NULL); for a NOT NULL one a marker no value is, so a None there still fails as before.
_OMITTED = tuple(
    object() if name in ("job", "args", "kwargs", "payload", "priority", "queue",
                         "max_attempts", "run_at", "created_at") else None
    for name in _INSERTED
)
# Rows per statement of jobs that share every value (fewer statements store faster).
_CONSTANT_ROWS = 2000
# Up to this many jobs (a group commit's batch, usually) are bound row by row (all their
# values: 32 x 24 within _MAX_PARAMS).
_FEW = 32
# Up to this many jobs always fit one statement, whatever varies (then :now is shared).
_ONE_STATEMENT = (_MAX_PARAMS - 1) // len(JOB_FIELDS)


@functools.lru_cache(maxsize=64)
def _bulk_sql(shape: tuple[tuple[str, ...], tuple[str, ...]], rows: int) -> str:
    """INSERT of ``rows`` jobs of ``shape``: shared values bound once (?1...), then :now,
    then the varying ones of each row (a VALUES list; all shared: ``rows`` rows of a
    constant, which SQLite reads faster than it counts rows with a recursive CTE)."""
    shared, varying = shape
    mark = {name: f"?{i}" for i, name in enumerate(shared, 1)}
    now = f"?{len(shared) + 1}"
    mark.update((name, f"v.column{i}") for i, name in enumerate(varying, 1))
    fields = [n for n in JOB_FIELDS if n != "delay"]
    select = [f"coalesce({mark['run_at']}, {DUE_SQL.format(now=now, delay=mark['delay'])})"
              if n == "run_at"
              else mark[n] for n in fields]
    head = f"INSERT INTO conveyor_jobs ({_COLUMNS}) SELECT {', '.join(select)}, 'pending', {now}"
    if not varying:  # ``rows`` constant rows, of which the first ?last
        return f"{head} FROM (VALUES {', '.join(['(0)'] * rows)}) AS v LIMIT ?{len(shared) + 2}"
    first = len(shared) + 2
    width = len(varying)
    values = ", ".join(
        "(" + ", ".join(f"?{first + r * width + c}" for c in range(width)) + ")"
        for r in range(rows)
    )
    return f"{head} FROM (VALUES {values}) AS v"


@functools.lru_cache(maxsize=256)
def _insert_sql(present: tuple[bool, ...], rows: int = 1) -> str:
    """INSERT of ``rows`` jobs binding only their ``present`` values of ``_values`` (see
    ``_OMITTED``): a NULL column is left to its default, NULL, and costs nothing to bind."""
    names = [name for name, given in zip(_INSERTED, present, strict=True) if given]
    row = f"('pending', {', '.join('?' * len(names))})"
    return f"INSERT INTO conveyor_jobs (state, {', '.join(names)}) VALUES {', '.join([row] * rows)}"


def _few(jobs: Sequence[NewJob], now: float) -> tuple[str, list[Any]] | None:
    """A group commit's few jobs as one INSERT of their values, row by row, when every
    job binds the same columns (cheaper than splitting them into columns first); None
    when they do not."""
    first = _values(jobs[0], now)
    present = tuple(map(is_not, first, _OMITTED))
    params = list(compress(first, present))
    for job in jobs[1:]:
        values = _values(job, now)
        if tuple(map(is_not, values, _OMITTED)) != present:
            return None
        params += compress(values, present)
    return _insert_sql(present, len(jobs)), params


def _values(j: NewJob, now: float) -> tuple[Any, ...]:
    run_at = j.run_at if j.run_at is not None else after_delay(now, j.delay)
    return (
        j.job, j.args, j.kwargs, j.payload, j.priority, j.queue, j.key, j.owner, None,
        j.max_attempts, j.retry, j.timeout, j.retention, j.remove_delay, run_at, now,
        j.version, j.schedule_id, j.fire_at, j.rescheduled_from, j.event_id,
        j.concurrency_key, j.trace_context, j.owner_int,
    )


class SQLiteDialect(Dialect):
    now_sql = ":now"
    like_escape = " ESCAPE '\\'"
    job_tables = ("conveyor_logs", "conveyor_steps", "conveyor_deps")
    unfinished_hint = "state IN ('pending', 'waiting') AND "  # conveyor_jobs_due's
    # (a payload that is not JSON, written by hand, has no fields: it must not fail a query)
    json_field = "CASE WHEN json_valid(payload) THEN json_extract(payload, {}) END"
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

    @staticmethod
    def folded(text: str) -> tuple[str, str]:
        # LIKE folds the case of ASCII letters only; PostgreSQL's ILIKE folds É to é too
        if text.isascii():
            return "{}", text
        return f"{LOWER}({{}})", text.lower()

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

    def one(self) -> AbstractContextManager[Any]:
        # Autocommit: the statement is its own transaction, taking the write lock (or
        # waiting the busy timeout for it) as BEGIN IMMEDIATE would, without two more.
        return self.db.reading()

    def one_statement(self, jobs: int) -> bool:
        # The ids are read after the INSERT (last_insert_rowid: this connection's own,
        # under its lock), outside its transaction.
        return jobs <= _ONE_STATEMENT

    def notify(self, conn: Any) -> None:
        self.changed.set()  # workers in this process; others see PRAGMA data_version

    def inserted(self) -> None:
        if not self.changed.is_set():  # set() takes a lock even when it is set already
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
        """Plain jobs in order: a few row by row, more with each shared value bound once
        per statement (ids are consecutive: AUTOINCREMENT, one writer)."""
        now = self.clock()
        if len(jobs) == 1:
            values = _values(jobs[0], now)
            present = tuple(map(is_not, values, _OMITTED))
            sql = _insert_sql(present)
            return [int(conn.execute(sql, tuple(compress(values, present))).lastrowid)]
        if len(jobs) <= _FEW and not isinstance(jobs, Alike) and (few := _few(jobs, now)):
            last = int(conn.execute(*few).lastrowid)  # the last row's
            return list(range(last - len(jobs) + 1, last + 1))
        cols = columns(jobs)
        head = [*cols.shared.values(), now]
        if not cols.varying:
            sql = _bulk_sql(cols.shape, _CONSTANT_ROWS)
            for start in range(0, cols.size, _CONSTANT_ROWS):
                conn.execute(sql, [*head, min(_CONSTANT_ROWS, cols.size - start)])
        else:
            varying = list(cols.varying.values())
            per = min(_MAX_ROWS, (_MAX_PARAMS - len(head)) // len(varying))
            for start in range(0, cols.size, per):
                chunk = [column[start:start + per] for column in varying]
                rows = len(chunk[0])
                conn.execute(_bulk_sql(cols.shape, rows),
                             [*head, *chain.from_iterable(zip(*chunk, strict=True))])
        (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
        return list(range(last - len(jobs) + 1, last + 1))

    def cancelling(self) -> AbstractContextManager[Any]:
        return self.writing()  # two statements (cancel)

    def cancel(self, conn: Any, name: str, params: dict[str, Any], where: str = "") -> int:
        """Two steps: the matched jobs marked cancelled (``<name>_mark``), then finished
        (``cancel_finish``), so that the row trigger of one never cancels another matched
        one as its dependent (migration 0015)."""
        marked = self.q[f"{name}_mark"].replace("{where}", where)
        ids = [r[0] for r in conn.execute(marked, params)]
        if ids:
            conn.execute(self.q["cancel_finish"], {"ids": self.array(ids), "now": params["now"]})
        return len(ids)

    @staticmethod
    def missing_table(exc: BaseException) -> bool:
        return "no such table" in str(exc)

    def many(self, conn: Any, name: str, rows: Sequence[dict[str, Any]]) -> int:
        return int(conn.executemany(self.q[name], rows).rowcount)


SQLiteDialect.q = SQLiteDialect.load("conveyor.stores.sqlite", "queries.sql")
