"""The workflows part of the Store protocol: durable child runs, dependencies, cascades
(re-exported by :mod:`conveyor.stores.base`).

How it holds together (both SQL stores, see :mod:`conveyor.stores.graphlogic`):

* ``conveyor_jobs.blockers`` counts what a job still waits for: unfinished dependencies
  of a ``blocked`` job, unfinished children of a durable run ``waiting`` on them.
* ``conveyor_deps`` holds one row per dependency edge (job, position, dependency).
* Database triggers fire when a job reaches a finished state, in the transaction that
  finishes it: a completed dependency counts down its dependents and makes those at zero
  due (handing results on for chains); a failed or cancelled one cancels every unfinished
  dependent transitively; a finished child counts down its parent and wakes it at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conveyor.stores.base_durable import StepRow
    from conveyor.stores.rows import NewJob

# (child index, child id, public state, result JSON, error JSON), in index order.
ChildOutcome = tuple[int, int, str, "str | None", "str | None"]


class WorkflowStore(Protocol):
    def start_children(
        self, parent_id: int, token: int, seq: int, jobs: Sequence[NewJob]
    ) -> bool:
        """Store the children of step ``seq`` of run ``parent_id`` (fenced by the run's
        lease ``token``), skipping those stored before (unique per run, seq and index).
        Returns False when the run's lease is gone."""
        ...

    def await_children(
        self, token: int, step: StepRow, version: str | None
    ) -> float | None:
        """Save ``step`` and put its run ``waiting`` until the step's children have all
        finished (due at once if they have). Returns the run's due time, or None when the
        lease is gone."""
        ...

    def children_outcomes(self, parent_id: int, seq: int) -> list[ChildOutcome]:
        """The children of step ``seq`` of a run, in index order."""
        ...

    def relations(
        self, ids: Sequence[int]
    ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """({job: its dependencies in order}, {job: its children in order}) of ``ids``."""
        ...

    def dependents_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """{job: the jobs that depend on it, by id} of ``ids`` (those with any)."""
        ...

    def cancel_each(self, ids: Sequence[int], cascade: bool) -> list[int]:
        """Cancel each unfinished job of ``ids`` in turn (with ``cascade``, its unfinished
        children at any depth too), one statement each, all in one transaction;
        dependents follow by the dependency rules. Returns the ids it cancelled."""
        ...
