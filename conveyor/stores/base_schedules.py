"""The recurring-schedules part of the Store protocol, and its rows
(re-exported by :mod:`conveyor.stores.base`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conveyor.stores.rows import JobRow, NewJob


@dataclass(slots=True)
class ScheduleRow:
    """A recurring schedule (conveyor.schedules). Its occurrences are jobs built from
    ``job``, ``args``, ``kwargs`` and ``options`` with ``schedule_id`` = ``id``."""

    id: str
    job: str
    definition: str  # Schedule.to_json() as JSON text
    args: str = "[]"
    kwargs: str = "{}"
    options: str = "{}"  # the occurrence's NewJob fields (queue, priority, owner, key, retry...)
    paused: bool = False
    source: str = "code"  # "code" (declared on a definition), "runtime" or "system"
    misfire: float | None = None  # skip an occurrence started later than this after its time
    created_at: float = 0.0
    updated_at: float = 0.0
    revision: int = 1  # + 1 each time the stored definition changes
    fingerprint: str = ""  # what the definition was built from; equal = unchanged


@dataclass(slots=True)
class ScheduleGap:
    """An unpaused schedule with no unstarted occurrence stored (maintenance fills it)."""

    schedule: ScheduleRow
    latest_fire_at: float | None  # the newest occurrence's fire time, if any
    latest_id: int | None  # ... and its job id


class ScheduleStore(Protocol):
    """What conveyor.schedules asks of a store."""

    # -- recurring schedules (conveyor.schedules) ------------------------------
    # A schedule is a row; each occurrence is a job keyed by (schedule_id, fire_at),
    # which the database keeps UNIQUE, so any number of processes store it (and so run
    # it) once. "Unstarted" occurrence = a job of the schedule still pending with
    # attempts = 0: the placeholder for its next fire time.
    def save_schedule(
        self, row: ScheduleRow,
        first: Callable[[ScheduleRow, ScheduleGap], NewJob | None],
    ) -> tuple[ScheduleRow, int | None]:
        """Upsert by id in one transaction: insert ``row``; or, when the stored row's
        fingerprint differs, replace its definition (revision + 1; ``paused``,
        ``source`` and ``created_at`` kept) and cancel its unstarted occurrences (records
        kept, ``fire_at`` cleared); an equal
        fingerprint keeps the stored row. Then, unless it is paused or an unstarted
        occurrence exists, insert ``first(stored row, gap)``. Returns the stored row and
        the id of its unstarted occurrence (None when there is none)."""
        ...

    def add_occurrences(self, jobs: Sequence[tuple[NewJob, int]]) -> list[int | None]:
        """Insert (occurrence, revision) pairs, each only while its schedule exists, is
        not paused and is at that revision; returns each id (the existing one for an
        occurrence stored already) or None where refused."""
        ...

    def get_schedule(self, schedule_id: str) -> ScheduleRow | None: ...

    def list_schedules(self) -> list[ScheduleRow]:
        """Every schedule, by id."""
        ...

    def pause_schedule(self, schedule_id: str, paused: bool) -> ScheduleRow | None:
        """Set ``paused`` (pausing deletes the unstarted occurrences); None if unknown."""
        ...

    def delete_schedules(self, ids: Sequence[str]) -> int:
        """Delete schedules and cancel their unstarted occurrences (records kept,
        ``fire_at`` cleared); returns how many schedules were deleted."""
        ...

    def schedule_gaps(self) -> list[ScheduleGap]:
        """Unpaused schedules that have no unstarted occurrence."""
        ...

    def occurrences(self, schedule_id: str, limit: int) -> list[JobRow]:
        """A schedule's newest occurrences, latest fire time first."""
        ...
