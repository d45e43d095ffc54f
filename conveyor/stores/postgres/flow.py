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
    pass


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


__all__ = ["claim_limited", "read_rules"]
