"""A batch of plain jobs as columns: the values every job of the batch shares, once, and
the ones that vary, per job. Bulk inserts bind (SQLite) or format (PostgreSQL's COPY) a
shared value once instead of once per job: most batches are many calls of one job with
the same options, differing in their arguments only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from conveyor.stores.base import NewJob
from conveyor.stores.core.dialect import JOB_FIELDS
from conveyor.stores.rows import Alike


@dataclass(frozen=True, slots=True)
class Columns:
    """``shared`` field -> the value of every job; ``varying`` field -> one per job (in
    order); both in ``JOB_FIELDS`` order. ``size`` jobs."""

    size: int
    shared: dict[str, Any]
    varying: dict[str, Sequence[Any]]

    def part(self, start: int, stop: int) -> Columns:
        """Jobs ``start`` to ``stop`` (exclusive)."""
        varying = {name: column[start:stop] for name, column in self.varying.items()}
        return Columns(len(range(start, min(stop, self.size))), self.shared, varying)

    @property
    def shape(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Which fields are shared and which vary (what a statement's text depends on)."""
        return tuple(self.shared), tuple(self.varying)


def columns(jobs: Sequence[NewJob]) -> Columns:
    """``jobs`` (at least one) split into shared and varying columns."""
    size = len(jobs)
    given = jobs.columnar() if isinstance(jobs, Alike) else None
    if given is not None:  # enqueue_many's columns: no job object to read
        first, candidates = given
    else:
        first = jobs[0]
        names = [n for n in JOB_FIELDS if n in Alike.varying] if isinstance(jobs, Alike) else []
        if len(names) < 2:  # read every field of every job
            names = list(JOB_FIELDS)
        candidates = dict(zip(names, zip(*map(attrgetter(*names), jobs), strict=True),
                              strict=True))
    found: dict[str, Any] = {}
    varying: dict[str, Sequence[Any]] = {}
    for name, column in candidates.items():
        head = column[0]
        # count() compares by identity first: the one "[]" or None of every job is cheap.
        if column.count(head) == size and _same_type(column, head):
            found[name] = head
        else:
            varying[name] = column
    shared = {n: found[n] if n in found else getattr(first, n)
              for n in JOB_FIELDS if n not in varying}
    varying = {n: varying[n] for n in JOB_FIELDS if n in varying}
    return Columns(size, shared, varying)


def _same_type(column: Sequence[Any], first: Any) -> bool:
    """Equal values of one type (1 == 1.0 == True, yet a column keeps each as given)."""
    kind = type(first)
    return kind is str or first is None or all(type(v) is kind for v in column)
