"""What a SQL store must say about its database (see CONTRIBUTING.md, "Adding a store").

Named queries come from ``core/queries.sql`` (shared: written with ``:name`` parameters
and ``:now`` for the store's clock) and the dialect's own ``queries.sql`` (native, which
override shared ones of the same name). Both drivers' connections have
``execute(sql, params)`` returning a cursor (``fetchone``, ``fetchall``, ``rowcount``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from conveyor.stores.base import NewJob
from conveyor.stores.eventlogic import EventSQL
from conveyor.stores.graphlogic import GraphSQL

P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

# NewJob fields stored as they are (insert_one's parameters, with dedupe_key).
JOB_FIELDS = (
    "job", "args", "kwargs", "payload", "priority", "queue", "key", "owner", "max_attempts",
    "retry", "timeout", "retention", "remove_delay", "run_at", "delay", "version",
    "schedule_id", "fire_at", "rescheduled_from", "event_id", "concurrency_key",
    "trace_context", "owner_int",
)
_NAME = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class Connection(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...


def read_queries(package: str, *files: str) -> dict[str, str]:
    """{name: SQL} for every ``-- name: <name>`` block of the files (comments dropped)."""
    folder = resources.files(package)
    text = "\n".join((folder / name).read_text("utf-8") for name in files)
    queries: dict[str, str] = {}
    for block in re.split(r"^-- name: ", text, flags=re.MULTILINE)[1:]:
        name, _, body = block.partition("\n")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        queries[name.strip()] = "\n".join(lines).strip().rstrip(";")
    return queries


def pyformat(sql: str, now: str) -> str:
    """Shared SQL in psycopg's style: ``:name`` -> ``%(name)s``, ``:now`` -> ``now``."""
    assert "%" not in sql, sql
    return _NAME.sub(lambda m: now if m[1] == "now" else f"%({m[1]})s", sql)


class Dialect:
    """One SQL database as the core uses it. Subclasses set the attributes and implement
    the methods that raise NotImplementedError."""

    q: dict[str, str]  # named queries
    now_sql: str  # the store's clock in SQL (":now" or "conveyor_now()")
    like: str = "LIKE"  # case-insensitive substring match ("ILIKE" on PostgreSQL)
    like_escape: str = ""  # the ESCAPE clause LIKE needs for backslashes
    same: str = "IS"  # NULL-safe equality
    # A payload subset condition with {} for the JSON parameter; None: the core matches
    # the payload in Python (stores.matching.contains).
    json_contains: str | None = None
    # Without it: a payload field read by a JSON path ({} for the path parameter), which
    # narrows the rows to match in Python by a subset's top-level text and integer fields.
    json_field: str | None = None
    for_update: str = ""  # row lock for a read inside a write (" FOR UPDATE")
    for_share: str = ""  # ... a shared one (" FOR SHARE")
    job_tables: tuple[str, ...] = ()  # tables whose rows (job_id) go with a purged job
    # Prefixed to filters on unfinished states: SQLite uses a partial index only when the
    # query repeats its WHERE term ("state = 'pending'" alone reads every row).
    unfinished_hint: str = ""
    events: EventSQL  # the event statements in the dialect's positional style
    graph: GraphSQL  # ... and the workflow ones

    @classmethod
    def load(cls, package: str, *files: str) -> dict[str, str]:
        """The shared queries (``translate``d) overridden by the dialect's own files;
        ``{job_columns}`` and ``{state}`` in either expand to the dialect's SQL."""
        def expand(sql: str) -> str:
            return sql.replace("{job_columns}", row_columns(cls)).replace(
                "{state}", state_sql(cls)).replace("{event_seq}", cls.events.sequence)

        shared = read_queries("conveyor.stores.core", "queries.sql")
        own = read_queries(package, *files)
        return {k: cls.translate(expand(v)) for k, v in shared.items()} | {
            k: expand(v) for k, v in own.items()
        }

    @staticmethod
    def translate(sql: str) -> str:
        """Shared SQL (``:name`` parameters, ``:now``) in the dialect's style."""
        return sql

    @staticmethod
    def mark(name: str, cast: str = "") -> str:
        """The placeholder of the named parameter ``name`` (``cast``: its SQL type)."""
        raise NotImplementedError

    @classmethod
    def any_of(cls, column: str, name: str, values: Sequence[Any], cast: str,
               params: dict[str, Any]) -> str:
        """``column`` is one of ``values`` (one parameter, filled into ``params``)."""
        raise NotImplementedError

    @staticmethod
    def array(values: Sequence[Any]) -> Any:
        """``values`` as the one parameter ``any_of`` and list queries take."""
        raise NotImplementedError

    @staticmethod
    def json_text(column: str) -> str:
        """A JSON column read back as text."""
        return column

    @staticmethod
    def folded(text: str) -> tuple[str, str]:
        """How ``like`` compares ``text`` without regard to case: a wrapper of the
        searched column (``{}``) and the text to look for."""
        return "{}", text

    def params(self, **values: Any) -> dict[str, Any]:
        """``values`` and what the dialect's clock needs (SQLite: ``now``)."""
        return values

    def now(self, conn: Connection, params: dict[str, Any] | None = None) -> float:
        """The store's clock: ``params``' own ``now`` if it has one, else read (on
        ``conn`` when it is the database's)."""
        raise NotImplementedError

    def reading(self) -> AbstractContextManager[Any]:
        """A connection for reads (no transaction needed)."""
        raise NotImplementedError

    def writing(self) -> AbstractContextManager[Any]:
        """A connection in a write transaction (committed on exit, rolled back on error)."""
        raise NotImplementedError

    def one(self) -> AbstractContextManager[Any]:
        """A connection for one write statement (atomic by itself where the database
        allows: no BEGIN/COMMIT round trips)."""
        return self.writing()

    def one_statement(self, jobs: int) -> bool:
        """Whether ``insert_plain`` stores this many jobs with one write statement (so
        :meth:`one` may hold it)."""
        return jobs == 1

    def notify(self, conn: Any) -> None:
        """Wake idle workers (in the write transaction that made jobs due)."""

    def inserted(self) -> None:
        """Jobs were stored (after the commit; PostgreSQL's insert trigger notifies)."""

    def run(self, conn: Any, name: str, params: Any = None) -> Any:
        """Execute the named query."""
        return conn.execute(self.q[name], params if params is not None else {})

    def cancelling(self) -> AbstractContextManager[Any]:
        """A connection for one :meth:`cancel`: :meth:`one` where it is one statement."""
        return self.one()

    def cancel(self, conn: Any, name: str, params: dict[str, Any], where: str = "") -> int:
        """Run the named cancel statement (``{where}``: a filter's conditions, for one that
        takes them); how many jobs it cancelled. Every job it matches is cancelled by the
        caller, not by the cascade of another it matches (PostgreSQL: its triggers run
        after the statement)."""
        return int(conn.execute(self.q[name].replace("{where}", where), params).rowcount)

    def maybe(self, conn: Any, name: str, params: Any = None) -> None:
        """Execute the named query if the dialect has one (a step only some need)."""
        if name in self.q:
            self.run(conn, name, params)

    def many(self, conn: Any, name: str, rows: Sequence[dict[str, Any]]) -> int:
        """The named query once per row (PostgreSQL: once, over arrays); rows changed."""
        raise NotImplementedError

    def save_step(self, conn: Any, params: dict[str, Any]) -> bool:
        """Store a step (``step_params``) if its run is still held, and suspend the run
        if asked, in the open transaction on ``conn``; whether it was stored."""
        saved = bool(self.run(conn, "save_step", params).rowcount)
        if saved and params["suspend"] is not None:
            self.maybe(conn, "suspend", params)  # where save_step does not do it too
        return saved

    def save_steps(self, conn: Any, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """:meth:`save_step` for each row (of different runs, in job id order)."""
        return [self.save_step(conn, row) for row in rows]

    def adopt(self, conn: Any) -> AbstractContextManager[Any]:
        """The caller's own connection (``insert(connection=...)``), checked, for writes
        in its open transaction."""
        raise NotImplementedError

    def insert_plain(self, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        """Store plain jobs (no dedupe, schedule or links) fast; their ids in order."""
        raise NotImplementedError

    @staticmethod
    def missing_table(exc: BaseException) -> bool:
        """``exc`` says a table does not exist (a store with an older schema)."""
        raise NotImplementedError

    def attempt(self, fn: Callable[[], T]) -> T:
        """Run a whole operation, again if the database aborted it to break a deadlock."""
        return fn()

    def batched(self, conn: Any) -> AbstractContextManager[Any]:
        """Statements run on ``conn`` inside are sent together where the database can
        (their cursors are read after it ends): PostgreSQL's pipeline."""
        return nullcontext()


def retried(fn: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """A store method run through its dialect's :meth:`Dialect.attempt`."""

    @functools.wraps(fn)
    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        dialect: Dialect = self.d  # type: ignore[attr-defined]
        return dialect.attempt(functools.partial(fn, self, *args, **kwargs))

    return wrapper


D = Dialect | type[Dialect]  # SQL fragments need only class-level parts of a dialect


def state_sql(d: D) -> str:
    """Public state for a row: pending splits into scheduled (due later) and queued (due)."""
    return (
        f"CASE WHEN state = 'pending' THEN (CASE WHEN run_at <= {d.now_sql} THEN 'queued' "
        "ELSE 'scheduled' END) ELSE state END"
    )


def row_columns(d: D) -> str:
    """The columns of a :class:`~conveyor.stores.base.JobRow`, in order."""
    return (
        f"id, job, args, kwargs, {d.json_text('payload')}, {state_sql(d)}, priority, queue, "
        "key, owner, attempts, max_attempts, run_at, created_at, started_at, finished_at, "
        "result, error, progress, progress_message, version, rescheduled_from, schedule_id, "
        f"event_id, {d.json_text('history')}, retry, timeout, lease_expires_at, worker_id, "
        "concurrency_key, parent_id, owner_int"
    )
