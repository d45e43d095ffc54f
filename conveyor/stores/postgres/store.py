"""The PostgreSQL store: many workers on many hosts against one database.

Claims are one ``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)``; outcomes
are one ``UPDATE ... FROM unnest(...)`` per flush; bulk inserts are one ``unnest`` INSERT.
Every due time, lease and rescue uses the database clock.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg import errors as pg_errors

from conveyor.clock import Clock, epoch
from conveyor.errors import ConfigurationError, PayloadError, StoreError, StoreUnavailable
from conveyor.stores.base import (
    POISON_RESCUES,
    ClaimedJob,
    LogLine,
    NewJob,
    Outcome,
    Progress,
    Waiter,
)
from conveyor.stores.flowlogic import SEP, Lookout, Rules
from conveyor.stores.group import GroupCommit
from conveyor.stores.matching import FAR_FUTURE, POISON_ERROR, RESCUED_ERROR
from conveyor.stores.postgres import migrations
from conveyor.stores.postgres.asyncpool import AsyncMixin, AsyncPool
from conveyor.stores.postgres.connection import Database, Settings, pass_clock
from conveyor.stores.postgres.durable import DurableMixin
from conveyor.stores.postgres.flow import FlowMixin, claim_limited, read_rules
from conveyor.stores.postgres.queries import (
    MANY_COLUMNS,
    NUL_IN_PAYLOAD,
    Q,
    many_columns,
    many_values,
)
from conveyor.stores.postgres.reading import ReadingMixin
from conveyor.stores.postgres.records import ListenWaiter, RecordsMixin
from conveyor.stores.postgres.schedules import SchedulesMixin
from conveyor.stores.postgres.upkeep import Upkeep
from conveyor.stores.postgres.workflows import WorkflowsMixin
from conveyor.stores.sqlite.cleanup import CleanupMixin

P = ParamSpec("P")
T = TypeVar("T")
OUTCOME_STATES = ("completed", "failed", "cancelled", "pending", "waiting")
COPY_FROM = 100  # batches this large are streamed with COPY
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


def dedupe_key(job: NewJob) -> str:
    return f"{job.job}\x1f{job.key or ''}\x1f{job.owner or ''}"


class PostgresStore(
    AsyncMixin, DurableMixin, SchedulesMixin, CleanupMixin, ReadingMixin, RecordsMixin, FlowMixin,
    WorkflowsMixin,
):
    """Store on PostgreSQL: ``PostgresStore("postgresql://user@host/db?schema=app1")``.

    Options: ``schema`` (all tables live there; default: the connection's search_path),
    ``pool_size`` (default 10), ``pool_timeout`` and ``connect_timeout`` (seconds),
    ``synchronous_commit`` (the session setting), ``synchronous_complete`` (default False:
    outcomes are committed without waiting for the WAL flush, so a database crash may
    lose the last instant of outcomes and those jobs run again after their lease; claims,
    heartbeats and inserts always wait).
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.settings = Settings.parse(url, options)
        self.db = Database(self.settings)
        self.upkeep = Upkeep(self.db)
        self.apool = AsyncPool(self.settings)  # async callers' (opened on first use)
        self.group = GroupCommit(self._store_plain)  # concurrent triggers share commits
        self._schema = self.settings.schema
        self.clock: Clock | None = None  # None: the database clock
        self._flow_seen = 0.0  # when a claim last found flow rules in force
        self.lookout = Lookout()  # limited claims: recent looks past full groups

    # -- lifecycle ------------------------------------------------------------
    def use_clock(self, clock: Clock | None) -> None:
        """Decide in SQL on ``clock`` (passed as conveyor.now) instead of the database's."""
        self.clock = self.db.clock = self.apool.clock = clock

    def clone(self) -> PostgresStore:
        return self  # the pool is thread-safe: one pool per app

    def close(self) -> None:
        self.apool.close()
        self.db.close()

    @property
    def schema(self) -> str:
        """The schema holding this store's tables."""
        if self._schema is None:
            with self.db.connection() as conn:
                row = conn.execute("SELECT current_schema()").fetchone()
            if not row or not row[0]:
                raise StoreError("PostgreSQL has no current schema; give one: ?schema=name")
            self._schema = str(row[0])
        return self._schema

    def now(self) -> float:
        if self.clock is not None:
            return epoch(self.clock)
        with self.db.connection() as conn:
            row = conn.execute(Q["now"]).fetchone()
        return float(row[0]) if row else time.time()

    def schema_state(self) -> str:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT to_regclass(format('%%I.conveyor_migrations', %s::text))", (self.schema,)
            ).fetchone()
            if row is None or row[0] is None:
                return "missing"
            done = {r[0] for r in conn.execute("SELECT name FROM conveyor_migrations")}
        names = {name for name, _ in migrations.available()}
        return "current" if names <= done else "old"

    def migrate(self) -> list[str]:
        """Create or upgrade the schema under an advisory lock; returns applied names."""
        return self.migrate_to(None)

    def migrate_to(self, upto: int | None) -> list[str]:
        """Apply the first ``upto`` migrations only (None: all); for upgrade tests."""
        conn = self.db.connect()
        try:
            return migrations.apply(conn, self.settings.schema, upto)
        except psycopg.Error as exc:
            raise StoreError(f"cannot migrate PostgreSQL at {self.settings.where}: {exc}") from None
        finally:
            conn.close()

    def open_waiter(self) -> Waiter:
        return ListenWaiter(self.db, f"conveyor_{self.schema}")

    # -- writing jobs -----------------------------------------------------------
    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        """Store jobs in one transaction. With ``connection`` (a psycopg connection), the
        jobs are stored in that connection's current transaction: they exist if and only
        if the caller commits."""
        if connection is None:
            one = jobs[0] if len(jobs) == 1 else None
            if one and not one.dedupe and not one.schedule_id and not one.linked:
                return [self.group.insert(one)]
            with self.db.connection() as conn, conn.transaction():
                return self._insert(conn, jobs)
        if not isinstance(connection, psycopg.Connection):
            raise ConfigurationError(
                f"connection= must be a psycopg (3) Connection, not {type(connection).__name__}"
            )
        schema = self.schema
        with connection.transaction():
            row = connection.execute(
                "SELECT current_setting('search_path'), set_config('search_path', %s, true)",
                (schema,),
            ).fetchone()
            if self.clock is not None:
                pass_clock(connection, self.clock, local=True)
            try:
                ids = self._insert(connection, jobs)
            except pg_errors.UndefinedTable:
                raise ConfigurationError(
                    f"connection= reaches a database without conveyor's tables in schema "
                    f"{schema!r}; pass a connection to the app's own database"
                ) from None
            restore = row[0] if row else ""
            connection.execute("SELECT set_config('search_path', %s, true)", (restore,))
        return ids

    def _store_plain(self, jobs: Sequence[NewJob]) -> list[int]:
        """Plain jobs (no dedupe, schedule or links) in one transaction, ids in order."""
        with self.db.connection() as conn:
            if len(jobs) == 1:
                return self._insert(conn, jobs)  # one statement: its own transaction
            with conn.transaction():
                return self._insert(conn, jobs)

    def _insert(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        ids = self._insert_rows(conn, jobs)
        if any(j.linked for j in jobs):
            self._link(conn, jobs, ids)
        return ids

    def _insert_rows(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        try:
            if len(jobs) > 1 and not any(j.dedupe or j.schedule_id for j in jobs):
                if len(jobs) >= COPY_FROM:
                    return self._copy(conn, jobs)
                return sorted(r[0] for r in conn.execute(Q["insert_many"], many_columns(jobs)))
            return [self._insert_one(conn, j) for j in jobs]
        except pg_errors.UntranslatableCharacter:
            raise PayloadError(NUL_IN_PAYLOAD) from None

    def _copy(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        """Stream many plain jobs with COPY: the server stores rows while Python formats
        the next ones (both cores busy), unlike one big INSERT built up front."""
        reserved = conn.execute(Q["reserve_ids"], {"n": len(jobs)}).fetchall()
        now = reserved[0][0]
        with conn.cursor().copy(Q["copy_jobs"]) as copy:
            for (_, job_id), job in zip(reserved, jobs, strict=True):
                v = many_values(job)
                run_at = v[13] if v[13] is not None else now + v[14]
                copy.write_row((job_id, *v[:13], run_at, *v[15:], "pending", now))
        return [r[1] for r in reserved]

    def _insert_one(self, conn: psycopg.Connection[Any], j: NewJob) -> int:
        params = {name: getattr(j, name) for name in MANY_COLUMNS}
        params["dedupe_key"] = None
        occurrence = j.schedule_id is not None and j.fire_at is not None
        if occurrence and (found := self._existing(conn, params)):
            return found
        if j.dedupe:
            # Serialise dedupe decisions for this job id and owner across processes.
            lock = f"{self.schema}\x1f{j.job}\x1f{j.owner or ''}"
            conn.execute(Q["dedupe_lock"], {"lock": lock})
            matches = [r[0] for r in conn.execute(
                Q["match_pending"], {"job": j.job, "owner": j.owner, "key": j.key}
            )]
            if matches and j.dedupe == "unique":
                return int(matches[0])
            if matches:
                conn.execute(Q["cancel_ids"], {"ids": matches})
            params["dedupe_key"] = dedupe_key(j)
        row = conn.execute(Q["insert_one"], params).fetchone()
        if row:
            return int(row[0])
        found = self._existing(conn, params)  # a racing process stored it first
        if found is None:
            raise StoreError(f"could not store job {j.job!r}: it conflicts with another job")
        return found

    def _existing(self, conn: psycopg.Connection[Any], params: dict[str, Any]) -> int | None:
        row = conn.execute(Q["find_existing"], params).fetchone()
        return int(row[0]) if row else None

    @retry_conflicts
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        token = secrets.randbits(62)
        params: dict[str, Any] = {
            "token": token, "lease": lease, "worker": worker_id,
            "limit": limit, "queues": list(queues) if queues else None,
        }
        with self.db.connection() as conn:
            # The plain claim takes nothing while any flow rule is in force (its guard).
            plain = time.monotonic() - self._flow_seen > 2.0  # no rules lately
            rows = conn.execute(Q["claim"], params).fetchall() if plain else []
            if len(rows) < limit and (not plain or read_rules(conn)):
                with conn.transaction():
                    rules = Rules.of(read_rules(conn))
                    if rules:
                        self._flow_seen = time.monotonic()
                        prefix = f"{self.schema}{SEP}flow{SEP}"
                        rows += claim_limited(conn, rules, prefix,
                                              {**params, "limit": limit - len(rows)},
                                              queues, limit - len(rows), self.lookout)
                    elif not plain:
                        self._flow_seen = 0.0
                        rows = conn.execute(Q["claim"], params).fetchall()
        rows.sort(key=lambda r: (-r[15], r[8], r[0]))
        return [
            ClaimedJob(
                id=r[0], job=r[1], args=r[2], kwargs=r[3], attempt=r[4], token=token,
                max_attempts=r[5], retry=r[6], timeout=r[7], run_at=r[8], started_at=r[16],
                owner=r[9], key=r[10], queue=r[11], version=r[12], schedule_id=r[13],
                event_id=r[14], trace_context=r[18],
            )
            for r in rows
        ]

    @retry_conflicts
    def complete(self, outcomes: Sequence[Outcome]) -> int:
        if not outcomes:
            return 0
        for o in outcomes:
            if o.state not in OUTCOME_STATES:
                raise ValueError(f"unknown outcome state {o.state!r}")
        ordered = sorted(outcomes, key=lambda o: o.id)  # lock rows in one order
        params = {
            "ids": [o.id for o in ordered], "tokens": [o.token for o in ordered],
            "states": [o.state for o in ordered], "results": [o.result for o in ordered],
            "errors": [o.error for o in ordered], "run_ats": [o.run_at for o in ordered],
            "delays": [o.delay or 0.0 for o in ordered],
            "versions": [o.version for o in ordered], "far_future": FAR_FUTURE,
            "commit": None if self.settings.synchronous_complete else "off",
        }
        with self.db.connection() as conn:
            return conn.execute(Q["complete"], params).rowcount

    @retry_conflicts
    def heartbeat(self, worker_id: str, held: dict[int, int], lease: float) -> set[int]:
        ids = sorted(held)
        params = {"worker": worker_id, "lease": lease, "ids": ids,
                  "tokens": [held[i] for i in ids]}
        with self.db.connection() as conn:
            renewed = {r[0] for r in conn.execute(Q["heartbeat"], params)}
        return set(held) - renewed

    @retry_conflicts
    def release(self, held: dict[int, int]) -> int:
        ids = sorted(held)
        with self.db.connection() as conn, conn.transaction():
            changed = conn.execute(
                Q["release"], {"ids": ids, "tokens": [held[i] for i in ids]}
            ).rowcount
            if changed:
                conn.execute(Q["notify"])
        return changed

    @retry_conflicts
    def rescue(self) -> int:
        params = {"max": POISON_RESCUES, "error": RESCUED_ERROR, "poison": POISON_ERROR}
        with self.db.connection() as conn, conn.transaction():
            changed = conn.execute(Q["rescue"], params).rowcount
            if changed:
                conn.execute(Q["notify"])
        self.upkeep.tick()  # every maintenance pass comes here
        return changed

    @retry_conflicts
    def write_progress(self, items: Sequence[Progress], logs: Sequence[LogLine]) -> None:
        with self.db.connection() as conn, conn.transaction():
            if items:
                conn.execute(Q["progress"], {
                    "ids": [p.job_id for p in items], "tokens": [p.token for p in items],
                    "fractions": [p.fraction for p in items],
                    "messages": [p.message for p in items],
                })
            if logs:
                conn.execute(Q["add_logs"], {
                    "ids": [g.job_id for g in logs], "attempts": [g.attempt for g in logs],
                    "ats": [g.at for g in logs], "levels": [g.level for g in logs],
                    "messages": [g.message for g in logs],
                })
