"""Flow control outside the claim (limits, pauses, counts, usage): the store methods,
once. The limited claim itself is each store's (``sqlite/flow.py``, ``postgres/flow.py``,
over :mod:`conveyor.stores.flowlogic`)."""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.stores.base_flow import FlowRule
from conveyor.stores.core.dialect import Dialect
from conveyor.stores.flowlogic import parse_group


class FlowCore:
    d: Dialect

    def sync_limits(self, rules: Sequence[FlowRule]) -> None:
        d = self.d
        with d.writing() as conn:
            d.many(conn, "flow_sync", [d.params(
                kind=r.kind, name=r.name, concurrency=r.concurrency, rate_limit=r.rate_limit,
                rate_period=r.rate_period) for r in rules])
            d.maybe(conn, "flow_sync_prune", d.params())

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        with self.d.writing() as conn:
            self.d.run(conn, "flow_pause", self.d.params(kind=kind, name=name, paused=paused))
            self.d.notify(conn)  # workers claim again at once

    def flow_rules(self) -> list[FlowRule]:
        try:
            with self.d.reading() as conn:
                rows = self.d.run(conn, "flow_rules").fetchall()
        except Exception as exc:
            if self.d.missing_table(exc):  # a read-only look at an older schema
                return []
            raise
        return [FlowRule(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def prune_flow(self) -> int:
        with self.d.one() as conn:
            return int(self.d.run(conn, "flow_prune", self.d.params()).rowcount)

    def queue_counts(self) -> dict[str, dict[str, int]]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "queue_counts", self.d.params()).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for queue, state, n in rows:
            counts.setdefault(queue, {})[state] = int(n)
        return counts

    def flow_usage(self, groups: Sequence[str]) -> dict[str, tuple[int, int, float | None]]:
        d = self.d
        usage: dict[str, tuple[int, int, float | None]] = {}
        with d.reading() as conn:
            for group in groups:
                kind, name, key = parse_group(group)
                row = d.run(conn, "flow_group_running", {
                    "kind": kind, "name": name, "key": key or ""}).fetchone()
                rate = d.run(conn, "flow_group_rate", d.params(group=group)).fetchone()
                usage[group] = (int(row[0]) if row else 0, int(rate[0]) if rate else 0,
                                rate[1] if rate else None)
        return usage
