"""The embedded SQLite store (also backs ``memory://`` with an in-memory database)."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from conveyor.clock import Clock, epoch
from conveyor.errors import ConfigurationError
from conveyor.stores.base import (
    FINISHED,
    ClaimedJob,
    JobFilter,
    NewJob,
    Outcome,
    Waiter,
)
from conveyor.stores.flowlogic import Lookout, Rules
from conveyor.stores.group import GroupCommit
from conveyor.stores.matching import FAR_FUTURE
from conveyor.stores.sqlite import connection
from conveyor.stores.sqlite.cleanup import CleanupMixin
from conveyor.stores.sqlite.durable import DurableMixin
from conveyor.stores.sqlite.filters import where
from conveyor.stores.sqlite.flow import FlowMixin, claim_limited, read_rules
from conveyor.stores.sqlite.leases import CLEAR_LEASE as _CLEAR_LEASE
from conveyor.stores.sqlite.leases import FENCE as _FENCE
from conveyor.stores.sqlite.leases import LeasesMixin
from conveyor.stores.sqlite.reading import ReadingMixin
from conveyor.stores.sqlite.records import DataVersionWaiter, RecordsMixin
from conveyor.stores.sqlite.schedules import SchedulesMixin
from conveyor.stores.sqlite.schema import available
from conveyor.stores.sqlite.workflows import WorkflowsMixin

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
_CLAIM_SET = (
    "UPDATE conveyor_jobs SET state = 'running', attempts = attempts + 1, started_at = :now, "
    "lease_token = :token, lease_expires_at = :now + :lease, worker_id = :worker, "
    "dedupe_key = NULL WHERE "
)
_CLAIMED = (
    " RETURNING id, job, args, kwargs, attempts, max_attempts, retry, timeout, run_at, "
    "owner, key, queue, version, schedule_id, event_id, priority, concurrency_key, "
    "trace_context"
)
_CLAIM = _CLAIM_SET + (
    "id IN (SELECT id FROM conveyor_jobs "
    "WHERE state IN ('pending', 'waiting') AND run_at <= :now {queues} "
    "ORDER BY priority DESC, run_at, id LIMIT :limit)"
) + _CLAIMED
# Under flow rules: the ids flowlogic picked (still due: the transaction holds the lock).
_TAKE = _CLAIM_SET + "id IN ({ids}) AND state IN ('pending', 'waiting')" + _CLAIMED
_PURGE_AT = (
    "CASE WHEN ? = 'completed' AND remove_delay IS NOT NULL THEN ? + remove_delay "
    "WHEN retention IS NOT NULL THEN ? + retention END"
)
_HISTORY_APPEND = (
    "json_insert(coalesce(history, '[]'), '$[#]', json_object('number', attempts, "
    "'started_at', started_at, 'finished_at', ?, 'error', json(?)))"
)
_MATCH_PENDING = (
    "(state = 'pending' OR (state = 'running' AND lease_expires_at < ?)) AND job = ? "
    "AND owner IS ?"
)


def dedupe_key(job: NewJob) -> str:
    return f"{job.job}\x1f{job.key or ''}\x1f{job.owner or ''}"


class SQLiteStore(
    ReadingMixin, LeasesMixin, DurableMixin, SchedulesMixin, CleanupMixin, RecordsMixin,
    FlowMixin, WorkflowsMixin,
):
    """Store on one SQLite file: WAL, one BEGIN IMMEDIATE transaction per batch."""

    def __init__(
        self,
        url: str,
        path: str,
        *,
        shared: connection.Locked | None = None,
        changed: threading.Event | None = None,
    ) -> None:
        self.url = url
        self.path = path
        self.db = shared or connection.Locked(connection.connect(path))
        # Set on every local write so workers in this process wake without polling.
        self._changed = changed or threading.Event()
        self.clock: Clock | None = None  # None: this host's clock (SQLite's own)
        self.lookout = Lookout()  # limited claims: recent looks past full groups

    # -- lifecycle ------------------------------------------------------------
    def use_clock(self, clock: Clock | None) -> None:
        self.clock = clock
        self.group = GroupCommit(self._store_plain)  # concurrent triggers share commits

    def clone(self) -> SQLiteStore:
        store = SQLiteStore(self.url, self.path, changed=self._changed)
        store.clock = self.clock
        return store

    def open_waiter(self) -> Waiter:
        return DataVersionWaiter(connection.Locked(connection.connect(self.path)), self._changed)

    def close(self) -> None:
        with self.db.lock:
            self.db.conn.close()

    def now(self) -> float:
        return epoch(self.clock)

    def schema_state(self) -> str:
        with self.db.reading() as conn:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        files = available()
        return "missing" if not version else "current" if version >= files[-1][0] else "old"

    def migrate(self) -> list[str]:
        return self.migrate_to(None)

    def migrate_to(self, upto: int | None) -> list[str]:
        """Apply the first ``upto`` migrations only (None: all); for upgrade tests."""
        with self.db.lock:
            return connection.migrate(self.db.conn, self.path, upto)

    # -- writing jobs -----------------------------------------------------------
    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        now = epoch(self.clock)
        if connection is not None:
            return self._insert_on(connection, jobs, now)
        one = jobs[0] if len(jobs) == 1 else None
        if one and not one.dedupe and not one.schedule_id and not one.linked:
            return [self.group.insert(one)]
        with self.db.transaction() as conn:
            ids = self._insert_rows(conn, jobs, now)
            if any(j.linked for j in jobs):
                self._link(conn, jobs, ids, now)
        self._changed.set()
        return ids

    def _store_plain(self, jobs: Sequence[NewJob]) -> list[int]:
        """Plain jobs (no dedupe, schedule or links) in one transaction, ids in order."""
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            ids = self._insert_rows(conn, jobs, now)
        self._changed.set()
        return ids

    def _insert_on(
        self, conn: Any, jobs: Sequence[NewJob], now: float
    ) -> list[int]:
        """Insert in the caller's open transaction on their own sqlite3 connection to
        this file (it commits or rolls back)."""
        if not isinstance(conn, sqlite3.Connection):
            raise ConfigurationError(
                f"connection= must be a sqlite3.Connection to {self.path}, "
                f"not {type(conn).__name__}"
            )
        try:
            ids = [self._insert_one(conn, j, now) for j in jobs]
            if any(j.linked for j in jobs):
                self._link(conn, jobs, ids, now)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            raise ConfigurationError(
                f"connection= reaches a database without conveyor's tables; pass a "
                f"connection to {self.path}"
            ) from None
        self._changed.set()
        return ids

    def _insert_rows(self, conn: sqlite3.Connection, jobs: Sequence[NewJob], now: float
                     ) -> list[int]:
        if len(jobs) > 1 and not any(j.dedupe or j.schedule_id for j in jobs):
            self._insert_bulk(conn, [self._values(j, now) for j in jobs])
            (last,) = conn.execute("SELECT last_insert_rowid()").fetchone()
            return list(range(last - len(jobs) + 1, last + 1))
        return [self._insert_one(conn, j, now) for j in jobs]

    @staticmethod
    def _insert_bulk(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows in order (their ids are consecutive: AUTOINCREMENT, one writer)."""
        whole = len(rows) - len(rows) % _ROWS_PER_STATEMENT
        for start in range(0, whole, _ROWS_PER_STATEMENT):
            chunk = rows[start:start + _ROWS_PER_STATEMENT]
            conn.execute(_INSERT_MANY, [value for row in chunk for value in row])
        if whole < len(rows):
            conn.executemany(_INSERT, rows[whole:])

    def _values(self, j: NewJob, now: float, dedupe: str | None = None) -> tuple[Any, ...]:
        run_at = j.run_at if j.run_at is not None else now + j.delay
        return (
            j.job, j.args, j.kwargs, j.payload, j.priority, j.queue, j.key, j.owner, dedupe,
            j.max_attempts, j.retry, j.timeout, j.retention, j.remove_delay, run_at, now,
            j.version, j.schedule_id, j.fire_at, j.rescheduled_from, j.event_id,
            j.concurrency_key, j.trace_context,
        )

    def _insert_one(self, conn: sqlite3.Connection, j: NewJob, now: float) -> int:
        if j.schedule_id is not None and j.fire_at is not None:
            found = conn.execute(
                "SELECT id FROM conveyor_jobs WHERE schedule_id = ? AND fire_at = ?",
                (j.schedule_id, j.fire_at),
            ).fetchone()
            if found:
                return int(found[0])
        if j.dedupe:
            sql = f"SELECT id FROM conveyor_jobs WHERE {_MATCH_PENDING}"
            params: list[Any] = [now, j.job, j.owner]
            if j.key is not None:
                sql += " AND key = ?"
                params.append(j.key)
            matches = [r[0] for r in conn.execute(sql + " ORDER BY id", params)]
            if matches and j.dedupe == "unique":
                return int(matches[0])
            if matches:
                conn.executemany(
                    "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = ?, "
                    f"dedupe_key = NULL, purge_at = {_PURGE_AT}, {_CLEAR_LEASE} WHERE id = ?",
                    [(now, "cancelled", now, now, i) for i in matches],
                )
        cur = conn.execute(
            _INSERT, self._values(j, now, dedupe_key(j) if j.dedupe else None)
        )
        return int(cur.lastrowid or 0)

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        now = epoch(self.clock)
        params: dict[str, Any] = {
            "now": now, "token": secrets.randbits(62), "lease": lease,
            "worker": worker_id, "limit": limit,
        }
        queue_sql = ""
        if queues:
            names = []
            for i, q in enumerate(queues):
                params[f"q{i}"] = q
                names.append(f":q{i}")
            queue_sql = f"AND queue IN ({', '.join(names)})"
        with self.db.transaction() as conn:
            rules = Rules.of(read_rules(conn))
            if rules:
                params["now"] = epoch(self.clock)  # the write lock may have been waited for
                rows, now = claim_limited(conn, rules, _TAKE, params, queues, limit,
                                           self.lookout)
            else:
                rows = conn.execute(_CLAIM.format(queues=queue_sql), params).fetchall()
        rows.sort(key=lambda r: (-r[15], r[8], r[0]))
        token = params["token"]
        return [
            ClaimedJob(
                id=r[0], job=r[1], args=r[2], kwargs=r[3], attempt=r[4], token=token,
                max_attempts=r[5], retry=r[6], timeout=r[7], run_at=r[8], started_at=now,
                owner=r[9], key=r[10], queue=r[11], version=r[12], schedule_id=r[13],
                event_id=r[14], trace_context=r[17],
            )
            for r in rows
        ]

    def complete(self, outcomes: Sequence[Outcome]) -> int:
        done, failed, retried, waiting = [], [], [], []
        now = epoch(self.clock)
        for o in outcomes:
            at = o.finished_at
            if o.state == "completed":
                done.append((o.result, at, o.version, o.state, at, at, o.id, o.token))
            elif o.state in ("failed", "cancelled"):
                failed.append((o.state, o.error, at, at, o.error, o.state, at, at, o.id, o.token))
            elif o.state == "pending":
                run_at = o.run_at if o.run_at is not None else now + (o.delay or 0.0)
                retried.append((o.error, run_at, at, o.error, o.id, o.token))
            elif o.state == "waiting":
                run_at = o.run_at if o.run_at is not None else FAR_FUTURE  # until an event
                waiting.append((run_at, o.version, o.id, o.token))
            else:
                raise ValueError(f"unknown outcome state {o.state!r}")
        changed = 0
        with self.db.transaction() as conn:
            before = conn.total_changes
            if done:
                changed += conn.executemany(
                    "UPDATE conveyor_jobs SET state = 'completed', result = ?, error = NULL, "
                    "finished_at = ?, progress = 1.0, rescues = 0, "
                    f"version = coalesce(?, version), purge_at = {_PURGE_AT}, {_CLEAR_LEASE} "
                    + _FENCE, done,
                ).rowcount
            if failed:
                changed += conn.executemany(
                    "UPDATE conveyor_jobs SET state = ?, error = ?, finished_at = ?, rescues = 0, "
                    f"history = {_HISTORY_APPEND}, purge_at = {_PURGE_AT}, {_CLEAR_LEASE} "
                    + _FENCE, failed,
                ).rowcount
            if retried:
                changed += conn.executemany(
                    "UPDATE conveyor_jobs SET state = 'pending', error = ?, run_at = ?, "
                    f"rescues = 0, history = {_HISTORY_APPEND}, {_CLEAR_LEASE} " + _FENCE,
                    retried,
                ).rowcount
            if waiting:
                changed += conn.executemany(
                    "UPDATE conveyor_jobs SET state = 'waiting', run_at = ?, rescues = 0, "
                    f"attempts = attempts - 1, version = coalesce(?, version), {_CLEAR_LEASE} "
                    + _FENCE, waiting,
                ).rowcount
            woke = conn.total_changes - before > changed  # triggers freed dependents
        if woke:
            self._changed.set()
        return changed

    # -- acting on jobs -----------------------------------------------------------
    def cancel(self, flt: JobFilter) -> int:
        now = epoch(self.clock)
        if not flt.states:
            flt.states = ["scheduled", "queued", "blocked", "waiting", "running"]
        flt.states = [s for s in flt.states if s not in FINISHED]
        if not flt.states:
            return 0
        with self.db.transaction() as conn:
            ids = self._select_ids(conn, flt, "")
            conn.executemany(
                "UPDATE conveyor_jobs SET state = 'cancelled', finished_at = ?, "
                f"dedupe_key = NULL, purge_at = {_PURGE_AT}, {_CLEAR_LEASE} WHERE id = ?",
                [(now, "cancelled", now, now, i) for i in ids],
            )
        return len(ids)

    def retry_job(self, job_id: int) -> bool:
        with self.db.transaction() as conn:
            changed: int = conn.execute(
                "UPDATE conveyor_jobs SET state = 'pending', run_at = ?, finished_at = NULL, "
                "purge_at = NULL, result = NULL, rescues = 0, "
                "max_attempts = max(max_attempts, attempts + 1), "
                # keep the finished attempt in the history (completed ones are not in it yet)
                "history = CASE WHEN started_at IS NOT NULL AND attempts > "
                "json_array_length(coalesce(history, '[]')) THEN json_insert(coalesce(history, "
                "'[]'), '$[#]', json_object('number', attempts, 'started_at', started_at, "
                "'finished_at', finished_at, 'error', CASE WHEN state = 'completed' THEN NULL "
                "ELSE json(error) END)) ELSE history END "
                "WHERE id = ? AND state IN ('failed', 'cancelled', 'completed')",
                (epoch(self.clock), job_id),
            ).rowcount
        self._changed.set()
        return changed > 0

    def purge(self, flt: JobFilter | None, expired_only: bool) -> int:
        params: dict[str, Any] = {"now": epoch(self.clock)}
        if not expired_only:
            flt = flt or JobFilter()
            flt.states = [s for s in (flt.states or FINISHED) if s in FINISHED]
            cond = where(flt, params) if flt.states else "0"
        with self.db.transaction() as conn:
            if expired_only:
                cond = "purge_at <= :now" + self._cleanup_condition(
                    conn, params["now"], params, ":{}")
            ids = [r[0] for r in conn.execute(
                f"DELETE FROM conveyor_jobs WHERE {cond} RETURNING id", params
            )]
            conn.executemany("DELETE FROM conveyor_logs WHERE job_id = ?", [(i,) for i in ids])
            self._after_purge(conn, ids)
        return len(ids)

    def _after_purge(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        """Delete rows that belong to purged jobs (extended by other tables)."""
        self._purge_steps(conn, ids)
        self._purge_links(conn, ids)
