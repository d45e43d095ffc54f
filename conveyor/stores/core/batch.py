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

_values = attrgetter(*JOB_FIELDS)


@dataclass(frozen=True, slots=True)
class Columns:
    """``shared`` field -> the value of every job; ``varying`` field -> one per job (in
    order); both in ``JOB_FIELDS`` order. ``size`` jobs."""

    size: int
    shared: dict[str, Any]
    varying: dict[str, tuple[Any, ...]]

    @property
    def shape(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Which fields are shared and which vary (what a statement's text depends on)."""
        return tuple(self.shared), tuple(self.varying)


def columns(jobs: Sequence[NewJob]) -> Columns:
    """``jobs`` (at least one) split into shared and varying columns."""
    size = len(jobs)
    shared: dict[str, Any] = {}
    varying: dict[str, tuple[Any, ...]] = {}
    for name, column in zip(JOB_FIELDS, zip(*map(_values, jobs), strict=True), strict=True):
        first = column[0]
        # count() compares by identity first: the one "[]" or None of every job is cheap.
        if column.count(first) == size and _same_type(column, first):
            shared[name] = first
        else:
            varying[name] = column
    return Columns(size, shared, varying)


def _same_type(column: tuple[Any, ...], first: Any) -> bool:
    """Equal values of one type (1 == 1.0 == True, yet a column keeps each as given)."""
    kind = type(first)
    return kind is str or first is None or all(type(v) is kind for v in column)
