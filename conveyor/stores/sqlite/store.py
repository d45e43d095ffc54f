"""The embedded SQLite store (also backs ``memory://`` with an in-memory database)."""

from __future__ import annotations

import functools
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from itertools import chain
from typing import Any

from conveyor.clock import Clock, after_delay, epoch
from conveyor.stores.base import Claimed, ClaimedJob, Outcome, Waiter
from conveyor.stores.core.durable import DurableCore
from conveyor.stores.core.flow import FlowCore
from conveyor.stores.core.leases import LeasesCore
from conveyor.stores.core.reading import ReadingCore
from conveyor.stores.core.retrying import RetryCore
from conveyor.stores.core.schedules import SchedulesCore
from conveyor.stores.core.workflows import WorkflowsCore
from conveyor.stores.core.writing import InsertCore, claimed
from conveyor.stores.flowlogic import Lookout, Rules
from conveyor.stores.group import GroupCommit
from conveyor.stores.sqlite import connection
from conveyor.stores.sqlite.dialect import SQLiteDialect
from conveyor.stores.sqlite.flow import (
    claim_filter,
    claim_limited,
    pick_due,
    read_rules,
    take_picked,
)
from conveyor.stores.sqlite.records import DataVersionWaiter
from conveyor.stores.sqlite.schema import available
from conveyor.timeunits import FAR_FUTURE

Q = SQLiteDialect.q
OUTCOME_QUERIES = ("complete_done", "complete_failed", "complete_retry", "complete_wait")
_MAX_PARAMS = 999  # SQLite's oldest default limit of parameters in one statement


class SQLiteStore(
    InsertCore, ReadingCore, LeasesCore, DurableCore, SchedulesCore, FlowCore,
    WorkflowsCore, RetryCore,
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
        self.d = SQLiteDialect(self.db, path, lambda: epoch(self.clock), self._changed)
        self.group = GroupCommit(self._store_plain)  # concurrent triggers share commits
        self.step_group = GroupCommit(self._store_steps)  # ... and durable step writes

    # -- lifecycle ------------------------------------------------------------
    def use_clock(self, clock: Clock | None) -> None:
        self.clock = clock

    def clone(self) -> SQLiteStore:
        self.db._check_open()  # a closed app's store opens no more connections
        store = SQLiteStore(self.url, self.path, changed=self._changed)
        store.clock = self.clock
        return store

    def open_waiter(self) -> Waiter:
        return DataVersionWaiter(connection.Locked(connection.connect(self.path)), self._changed)

    def close(self) -> None:
        self.db.close()

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
            self.db._check_open()
            self.db.be_patient()
            return connection.migrate(self.db.conn, self.path, upto)

    # -- the hot path -----------------------------------------------------------
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        return self.complete_and_claim((), worker_id, queues, limit, lease)

    def complete(self, outcomes: Sequence[Outcome]) -> int:
        statements, due = self._outcome_rows(outcomes)
        with self.db.transaction() as conn:
            changed, woke = self._complete_in(conn, statements)
        if woke or due:  # or a retry or wake-up time: idle workers read it
            self._changed.set()
        return changed

    def complete_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Sequence[str] | None,
        limit: int, lease: float,
    ) -> list[ClaimedJob]:
        """Outcomes and the next claim in one write transaction: one lock hold and one
        commit where two were (the rows and index pages both touch are written once)."""
        statements, due = self._outcome_rows(outcomes)
        token = secrets.randbits(62)
        stored, woke = 0, False
        with self.db.transaction() as conn:
            if outcomes:
                stored, woke = self._complete_in(conn, statements)
            rows = self._claim_in(conn, token, worker_id, queues, limit, lease) if limit else []
        if woke or due:
            self._changed.set()
        return Claimed(claimed(rows, token), stored)

    def _claim_in(self, conn: sqlite3.Connection, token: int, worker_id: str,
                  queues: Sequence[str] | None, limit: int, lease: float) -> list[Any]:
        params: dict[str, Any] = {
            "now": epoch(self.clock), "token": token, "lease": lease,
            "worker": worker_id, "limit": limit,
        }
        filter_sql = claim_filter(params, queues)
        ruled, picked = pick_due(conn, Q, params, filter_sql)
        if ruled:
            rules = Rules.of(read_rules(conn))
            return claim_limited(conn, rules, Q, params, queues, limit, self.lookout)
        return take_picked(conn, Q, params, picked, filter_sql)

    def _outcome_rows(self, outcomes: Sequence[Outcome]
                      ) -> tuple[list[tuple[str, list[Any]]], bool]:
        """The outcome statements (SQL, parameters: built before the write lock is taken)
        and whether a retry or wait stores a due time."""
        done: list[Any] = []
        failed: list[Any] = []
        retried: list[Any] = []
        waiting: list[Any] = []
        now = epoch(self.clock)
        for o in outcomes:
            at = o.finished_at
            if o.state == "completed":
                done.append((o.id, o.token, o.result, at, o.version))
            elif o.state in ("failed", "cancelled"):
                failed.append((o.id, o.token, o.state, o.error, at))
            elif o.state == "pending":
                run_at = o.run_at if o.run_at is not None else after_delay(now, o.delay or 0.0)
                retried.append((o.id, o.token, o.error, run_at, at))
            elif o.state == "waiting":
                run_at = o.run_at if o.run_at is not None else FAR_FUTURE  # until an event
                waiting.append((o.id, o.token, run_at, o.version))
            else:
                raise ValueError(f"unknown outcome state {o.state!r}")
        # In id order: a dependent of two jobs failing here names the lower one on every
        # store (SQLite's row trigger cascades as each row fails, before the next).
        failed.sort(key=lambda row: row[0])
        statements = []
        for name, rows in zip(OUTCOME_QUERIES, (done, failed, retried, waiting), strict=True):
            if rows:
                per = _MAX_PARAMS // len(rows[0])
                for start in range(0, len(rows), per):
                    chunk = rows[start:start + per]
                    statements.append((_outcome_sql(name, len(chunk), len(chunk[0])),
                                       list(chain.from_iterable(chunk))))
        return statements, bool(retried or waiting)

    @staticmethod
    def _complete_in(conn: sqlite3.Connection, statements: list[tuple[str, list[Any]]]
                     ) -> tuple[int, bool]:
        """Rows changed, and whether triggers changed more (dependents were freed)."""
        changed = 0
        before = conn.total_changes
        for sql, params in statements:
            changed += conn.execute(sql, params).rowcount
        return changed, conn.total_changes - before > changed


@functools.lru_cache(maxsize=256)
def _outcome_sql(name: str, rows: int, width: int) -> str:
    """An outcome statement for ``rows`` outcomes of ``width`` values each."""
    row = "(" + ", ".join("?" * width) + ")"
    return Q[name].format(values=", ".join([row] * rows))
