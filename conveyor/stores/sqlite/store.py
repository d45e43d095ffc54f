"""The embedded SQLite store (also backs ``memory://`` with an in-memory database)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from typing import Any

from conveyor.clock import Clock, epoch
from conveyor.stores.base import ClaimedJob, Outcome, Waiter
from conveyor.stores.core.durable import DurableCore
from conveyor.stores.core.flow import FlowCore
from conveyor.stores.core.leases import LeasesCore
from conveyor.stores.core.reading import ReadingCore
from conveyor.stores.core.schedules import SchedulesCore
from conveyor.stores.core.workflows import WorkflowsCore
from conveyor.stores.core.writing import InsertCore, claimed
from conveyor.stores.flowlogic import Lookout, Rules
from conveyor.stores.group import GroupCommit
from conveyor.stores.matching import FAR_FUTURE
from conveyor.stores.sqlite import connection
from conveyor.stores.sqlite.dialect import SQLiteDialect
from conveyor.stores.sqlite.flow import claim_limited, read_rules
from conveyor.stores.sqlite.records import DataVersionWaiter
from conveyor.stores.sqlite.schema import available

Q = SQLiteDialect.q


class SQLiteStore(
    InsertCore, ReadingCore, LeasesCore, DurableCore, SchedulesCore, FlowCore,
    WorkflowsCore,
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

    # -- the hot path -----------------------------------------------------------
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
                rows, _ = claim_limited(conn, rules, Q["take"], params, queues, limit,
                                        self.lookout)
            else:
                rows = conn.execute(Q["claim"].format(queues=queue_sql), params).fetchall()
        return claimed(rows, params["token"])

    def complete(self, outcomes: Sequence[Outcome]) -> int:
        done, failed, retried, waiting = [], [], [], []
        now = epoch(self.clock)
        for o in outcomes:
            at = o.finished_at
            if o.state == "completed":
                done.append((o.result, at, o.version, at, at, o.id, o.token))
            elif o.state in ("failed", "cancelled"):
                failed.append((o.state, o.error, at, at, o.error, at, o.id, o.token))
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
            for name, rows in (("complete_done", done), ("complete_failed", failed),
                               ("complete_retry", retried), ("complete_wait", waiting)):
                if rows:
                    changed += conn.executemany(Q[name], rows).rowcount
            woke = conn.total_changes - before > changed  # triggers freed dependents
        if woke or retried or waiting:  # or a retry or wake-up time: idle workers read it
            self._changed.set()
        return changed
