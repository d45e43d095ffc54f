"""Flow control on PostgreSQL: rules, pauses, per-queue counts and the limited claim.

A claim under flow rules locks only the limit groups of the jobs it looks at (advisory
transaction locks, taken in sorted order on the first look and with ``try`` after that,
so claims of unrelated jobs never wait on each other and never deadlock), counts what
those groups hold under the locks, and takes the jobs that fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from conveyor.stores import flowlogic
from conveyor.stores.base_flow import FlowRule
from conveyor.stores.flowlogic import Candidate, Exclusions, Lookout, Rules
from conveyor.stores.postgres.queries import Q

if TYPE_CHECKING:
    from conveyor.stores.postgres.connection import Database


def read_rules(conn: psycopg.Connection[Any]) -> list[FlowRule]:
    return [FlowRule(r[0], r[1], r[2], r[3], r[4], bool(r[5]))
            for r in conn.execute(Q["flow_rules"])]


class PostgresFlow:
    """:class:`conveyor.stores.flowlogic.FlowConnection` inside one transaction."""

    def __init__(self, conn: psycopg.Connection[Any], prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix
        self.clock: float | None = None
        self.locked: list[str] = []

    def now(self) -> float:
        if self.clock is None:  # read once the group locks are held (flow_lock reads it)
            row = self.conn.execute(Q["flow_clock"]).fetchone()
            self.clock = float(row[0]) if row else 0.0
        return self.clock

    def peek(self, queues: Sequence[str] | None, skip: Exclusions, limit: int
             ) -> list[Candidate]:
        rows = self.conn.execute(Q["flow_peek"], {
            "limit": limit, "now": self.clock,  # None: the SQL reads the clock
            "queues": list(queues) if queues else None, "skip_jobs": skip.jobs,
            "skip_queues": skip.queues, "skip_keys": skip.job_keys,
        }).fetchall()
        return [Candidate(*r) for r in rows]

    def lock(self, groups: Sequence[str], wait: bool) -> set[str]:
        if not groups:
            return set()
        params = {"prefix": self.prefix, "groups": sorted(groups)}
        if wait:
            row = self.conn.execute(Q["flow_lock"], params).fetchone()
            if self.clock is None and row:
                self.clock = float(row[0])
            got = set(groups)
        else:
            got = {r[0] for r in self.conn.execute(Q["flow_try_lock"], params)}
        self.locked.extend(sorted(got))
        return got

    def running(self, jobs: Sequence[str], queues: Sequence[str]
                ) -> list[tuple[str, str, str | None]]:
        rows = self.conn.execute(Q["flow_running"], {"jobs": list(jobs), "queues": list(queues)})
        return [(r[0], r[1], r[2]) for r in rows]

    def rate_used(self, groups: Sequence[str], now: float) -> dict[str, int]:
        rows = self.conn.execute(Q["flow_rate_used"], {"groups": list(groups), "now": now})
        return {r[0]: int(r[1]) for r in rows}

    def record_starts(self, rows: Sequence[tuple[str, float, int, float]]) -> None:
        if rows:
            self.conn.execute(Q["flow_record_starts"], {
                "groups": [r[0] for r in rows], "buckets": [r[1] for r in rows],
                "counts": [r[2] for r in rows], "expiries": [r[3] for r in rows],
                "now": self.now(),
            })


def claim_limited(conn: psycopg.Connection[Any], rules: Rules, prefix: str,
                  params: dict[str, Any], queues: Sequence[str] | None, limit: int,
                  lookout: Lookout | None = None) -> list[Any]:
    """Claim under flow rules in one transaction (the caller's)."""
    flow = PostgresFlow(conn, prefix)
    ids, now = flowlogic.pick(flow, rules, queues, limit, lookout)
    if not ids:
        return []
    rows = conn.execute(Q["flow_take"], {**params, "ids": ids, "now": now}).fetchall()
    flow.record_starts(flowlogic.starts_of(rules, [(r[1], r[11], r[17]) for r in rows], now))
    return rows


class FlowMixin:
    """Flow-control methods of :class:`PostgresStore`."""

    db: Database

    def sync_limits(self, rules: Sequence[FlowRule]) -> None:
        if not rules:
            return
        with self.db.connection() as conn:
            conn.execute(Q["flow_sync"], {
                "kinds": [r.kind for r in rules], "names": [r.name for r in rules],
                "concurrencies": [r.concurrency for r in rules],
                "rate_limits": [r.rate_limit for r in rules],
                "rate_periods": [r.rate_period for r in rules],
            })

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        with self.db.connection() as conn, conn.transaction():
            conn.execute(Q["flow_pause"], {"kind": kind, "name": name, "paused": paused})
            conn.execute(Q["notify"])  # workers claim again at once

    def flow_rules(self) -> list[FlowRule]:
        with self.db.connection() as conn:
            try:
                return read_rules(conn)
            except psycopg.errors.UndefinedTable:  # a read-only look at an older schema
                return []

    def prune_flow(self) -> int:
        with self.db.connection() as conn:
            return conn.execute(Q["flow_prune"]).rowcount

    def queue_counts(self) -> dict[str, dict[str, int]]:
        with self.db.connection() as conn:
            rows = conn.execute(Q["queue_counts"]).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for queue, state, n in rows:
            counts.setdefault(queue, {})[state] = int(n)
        return counts

    def flow_usage(self, groups: Sequence[str]) -> dict[str, tuple[int, int, float | None]]:
        usage: dict[str, tuple[int, int, float | None]] = {}
        with self.db.connection() as conn:
            for group in groups:
                kind, name, key = flowlogic.parse_group(group)
                row = conn.execute(Q["flow_group_running"],
                                   {"kind": kind, "name": name, "key": key or ""}).fetchone()
                rate = conn.execute(Q["flow_group_rate"], {"group": group}).fetchone()
                usage[group] = (int(row[0]) if row else 0, int(rate[0]) if rate else 0,
                                rate[1] if rate else None)
        return usage


__all__ = ["FlowMixin", "claim_limited", "read_rules"]
