"""The PostgreSQL store: many workers on many hosts against one database.

Claims are one ``UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)``; outcomes
are one ``UPDATE ... FROM unnest(...)`` per flush; bulk inserts are one ``unnest`` INSERT.
Every due time, lease and rescue uses the database clock.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq

from conveyor.clock import Clock, epoch
from conveyor.errors import PayloadError, StoreError
from conveyor.stores.base import (
    Claimed,
    ClaimedJob,
    NewJob,
    Outcome,
    Waiter,
)
from conveyor.stores.core.durable import DurableCore
from conveyor.stores.core.flow import FlowCore
from conveyor.stores.core.leases import LeasesCore
from conveyor.stores.core.reading import ReadingCore
from conveyor.stores.core.retrying import RetryCore
from conveyor.stores.core.schedules import SchedulesCore
from conveyor.stores.core.workflows import WorkflowsCore
from conveyor.stores.core.writing import InsertCore, claimed
from conveyor.stores.flowlogic import SEP, Lookout
from conveyor.stores.group import GroupCommit
from conveyor.stores.postgres import migrations
from conveyor.stores.postgres.arrays import Float8s, Int8s, Texts
from conveyor.stores.postgres.asyncpool import AsyncMixin, AsyncPool
from conveyor.stores.postgres.connection import Database, Settings
from conveyor.stores.postgres.dialect import PostgresDialect, retry_conflicts
from conveyor.stores.postgres.flow import read_claim
from conveyor.stores.postgres.queries import NUL_IN_PAYLOAD, Q
from conveyor.stores.postgres.records import ListenWaiter
from conveyor.stores.postgres.upkeep import Upkeep
from conveyor.timeunits import FAR_FUTURE

log = logging.getLogger("conveyor.postgres")
OUTCOME_STATES = ("completed", "failed", "cancelled", "pending", "waiting")
# Outcomes stored by a data-modifying WITH, then the claim, in one statement: the rows
# they touch are disjoint (running with this worker's token / due), the commit is one.
# The last column counts the outcomes stored (a row of NULLs and the count: none claimed).
COMPLETE_AND_CLAIM = (b"WITH done AS (\n" + Q["complete"] + b"\nRETURNING j.id),\nc AS (\n"
                      + Q["claim"] + b"\n)\nSELECT c.*, d.n FROM (SELECT count(*) AS n FROM "
                      b"done) AS d LEFT JOIN c ON true")


def _claim_params(worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
                  ) -> dict[str, Any]:
    return {"token": secrets.randbits(62), "lease": lease, "worker": worker_id,
            "limit": limit, "queues": list(queues) if queues else None}


def _outcome_params(outcomes: Sequence[Outcome], synchronous: bool) -> dict[str, Any]:
    for o in outcomes:
        if o.state not in OUTCOME_STATES:
            raise ValueError(f"unknown outcome state {o.state!r}")
    ordered = sorted(outcomes, key=lambda o: o.id)  # lock rows in one order
    return {
        "ids": Int8s([o.id for o in ordered]), "tokens": Int8s([o.token for o in ordered]),
        "states": Texts([o.state for o in ordered]),
        "results": Texts([o.result for o in ordered]),
        "errors": Texts([o.error for o in ordered]),
        "run_ats": Float8s([None if o.run_at is None else float(o.run_at) for o in ordered]),
        "delays": Float8s([float(o.delay or 0.0) for o in ordered]),
        "versions": Texts([o.version for o in ordered]), "far_future": FAR_FUTURE,
        "commit": None if synchronous else "off",
    }


def _notify_if_due(conn: psycopg.Connection[Any], outcomes: Sequence[Outcome]) -> None:
    if any(o.state in ("pending", "waiting") for o in outcomes):
        conn.execute(Q["notify"])  # a retry or wake-up time: idle workers read it


_Insert = Callable[[Any, Any, Sequence[NewJob]], list[int]]


def _nul_refused(insert: _Insert) -> _Insert:
    """``insert``, with PostgreSQL's refusal of a NUL character in text as conveyor's
    PayloadError."""

    @functools.wraps(insert)
    def refusing(store: Any, conn: Any, jobs: Sequence[NewJob]) -> list[int]:
        try:
            return insert(store, conn, jobs)
        except pg_errors.UntranslatableCharacter:
            raise PayloadError(NUL_IN_PAYLOAD) from None

    return refusing


class PostgresStore(
    AsyncMixin, InsertCore, DurableCore, SchedulesCore, ReadingCore, LeasesCore, FlowCore,
    WorkflowsCore, RetryCore,
):
    """Store on PostgreSQL: ``PostgresStore("postgresql://user@host/db?schema=app1")``.

    Options: ``schema`` (all tables live there; default: the connection's search_path),
    ``pool_size`` (default 10), ``pool_timeout`` and ``connect_timeout`` (seconds),
    ``synchronous_commit`` (the session setting), ``synchronous_complete`` (default False:
    outcomes are committed without waiting for the WAL flush, so a database crash may
    lose the last instant of outcomes and those jobs run again after their lease; claims,
    heartbeats and inserts always wait). Each may be a keyword or in the URL's query.
    """

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.settings = Settings.parse(url, options)
        self.db = Database(self.settings)
        self.d = PostgresDialect(self.db, lambda: self.schema)
        self.upkeep = Upkeep(self.db)
        self.apool = AsyncPool(self.settings)  # async callers' (opened on first use)
        self.group = GroupCommit(self._store_plain)  # concurrent triggers share commits
        self.step_group = GroupCommit(self._store_steps)  # ... and durable step writes
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

    # -- the hot path -----------------------------------------------------------
    @_nul_refused
    def _insert_jobs(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        return super()._insert_jobs(conn, jobs)

    @_nul_refused
    def _insert_plain(self, conn: psycopg.Connection[Any], jobs: Sequence[NewJob]) -> list[int]:
        return super()._insert_plain(conn, jobs)

    @retry_conflicts
    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]:
        params = _claim_params(worker_id, queues, limit, lease)
        with self.db.connection() as conn:
            rows = self._claim_in(conn, params, queues)
        return claimed(rows, params["token"])

    @retry_conflicts
    def complete(self, outcomes: Sequence[Outcome]) -> int:
        if not outcomes:
            return 0
        params = _outcome_params(outcomes, self.settings.synchronous_complete)
        with self.db.connection() as conn:
            changed = conn.execute(Q["complete"], params).rowcount
            _notify_if_due(conn, outcomes)
        return int(changed)

    @retry_conflicts
    def complete_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Sequence[str] | None,
        limit: int, lease: float,
    ) -> list[ClaimedJob]:
        """Outcomes and the next claim in one transaction, committed once (waited for, as
        every claim's commit is). Without flow rules: one statement."""
        if not outcomes:
            return Claimed(self.claim(worker_id, queues, limit, lease), 0)
        if not limit:
            return Claimed((), self.complete(outcomes))
        params = _claim_params(worker_id, queues, limit, lease)
        both = {**params, **_outcome_params(outcomes, True)}
        with self.db.connection() as conn:
            if self._plain():
                rows = conn.execute(COMPLETE_AND_CLAIM, both).fetchall()
                stored = int(rows[0][-1])
                rows = [r for r in rows if r[0] is not None]
                rows = self._claim_in(conn, params, queues, rows, outcomes)
            else:
                # One transaction sent at once: BEGIN, outcomes, the limited claim, COMMIT.
                with conn.pipeline(), conn.transaction():
                    done = conn.execute(Q["complete"], both)
                    _notify_if_due(conn, outcomes)
                    cur = conn.execute(Q["flow_claim"], self._flow_params(params, queues))
                stored = done.rowcount
                rows = self._flow_claimed(cur.fetchall(), queues)
        return Claimed(claimed(rows, params["token"]), stored)

    def _plain(self) -> bool:
        """No flow rule was in force lately: the plain claim statement is tried first (it
        takes nothing while any rule is in force: its guard)."""
        return time.monotonic() - self._flow_seen > 2.0

    def _claim_in(self, conn: psycopg.Connection[Any], params: dict[str, Any],
                  queues: Sequence[str] | None, plain_rows: list[Any] | None = None,
                  outcomes: Sequence[Outcome] = ()) -> list[Any]:
        """Claim on ``conn``: the plain statement (``plain_rows``: its rows, if it ran,
        with ``outcomes``), then, short of the limit, the limited claim (a rule may be in
        force). Jobs a committed statement claimed are returned whatever fails after it:
        run again (``retry_conflicts``, the worker's retry), the call would claim others
        and leave those running, unheld, until their leases expire."""
        plain = plain_rows is not None or self._plain()
        rows: list[Any] = plain_rows if plain_rows is not None else (
            conn.execute(Q["claim"], params).fetchall() if plain else [])
        committed = bool(rows) and conn.info.transaction_status == pq.TransactionStatus.IDLE
        try:
            _notify_if_due(conn, outcomes)
            return self._top_up(conn, params, queues, rows)
        except Exception:
            if not committed:
                raise
            log.warning("claimed %d jobs; what followed their commit failed (they are kept)",
                        len(rows), exc_info=True)
            return rows

    def _top_up(self, conn: psycopg.Connection[Any], params: dict[str, Any],
                queues: Sequence[str] | None, rows: list[Any]) -> list[Any]:
        """``rows`` and, if the plain claim took none, the limited claim (a rule may be in
        force). A plain claim that took some saw no rule in force: it took every due job
        it could, and a second statement would only cost the claim a round trip."""
        if rows:
            return rows
        cur = conn.execute(Q["flow_claim"], self._flow_params(params, queues))
        return self._flow_claimed(cur.fetchall(), queues)

    def _flow_params(self, params: dict[str, Any], queues: Sequence[str] | None
                     ) -> dict[str, Any]:
        return {**params, "prefix": f"{self.schema}{SEP}flow{SEP}",
                "trusted": self.lookout.trusted(queues)}

    def _flow_claimed(self, rows: list[Any], queues: Sequence[str] | None) -> list[Any]:
        """The rows of ``conveyor_flow_claim``, noting whether any rule is in force."""
        rows, ruled = read_claim(rows, queues, self.lookout)
        self._flow_seen = time.monotonic() if ruled else 0.0
        return rows

    def rescue(self, only: Collection[int] | None = None) -> int:
        changed = super().rescue(only)
        self.upkeep.tick()  # every maintenance pass comes here
        return changed
