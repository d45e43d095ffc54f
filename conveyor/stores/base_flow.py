"""Flow control in the Store protocol: declared limits, pauses, per-queue counts.

A :class:`FlowRule` is one row of ``conveyor_flow``: the limits and pause flag of a job
(``kind="job"``) or a queue (``kind="queue"``). Claims read the rules in their own
transaction, so every worker on every host enforces the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FlowRule:
    kind: str  # "job" | "queue"
    name: str
    concurrency: int | None = None
    rate_limit: int | None = None  # at most this many starts ...
    rate_period: float | None = None  # ... per this many seconds (sliding window)
    paused: bool = False

    @property
    def limited(self) -> bool:
        return self.concurrency is not None or self.rate_limit is not None


class FlowStore(Protocol):
    def sync_limits(self, rules: Sequence[FlowRule]) -> None:
        """Store the limits of each rule (its ``paused`` flag is left as stored)."""
        ...

    def set_paused(self, kind: str, name: str, paused: bool) -> None:
        """Pause or resume a job or queue (persisted; workers see it on their next claim)."""
        ...

    def flow_rules(self) -> list[FlowRule]:
        """Every stored rule with a limit or a pause."""
        ...

    def queue_counts(self) -> dict[str, dict[str, int]]:
        """{queue: {public state: number}} over unfinished and finished jobs."""
        ...

    def prune_flow(self) -> int:
        """Delete rate buckets past their window; returns how many."""
        ...

    def flow_usage(self, groups: Sequence[str]) -> dict[str, tuple[int, int, float | None]]:
        """{group: (running, starts in the rate window, when the oldest counted start
        leaves the window)} for limit groups (see :mod:`conveyor.stores.flowlogic`)."""
        ...
