"""Recurring schedules and cleanup policies in SQL, for any dialect.

Exactly once per occurrence comes from the UNIQUE index on ``conveyor_jobs (schedule_id,
fire_at)``: inserting an occurrence that exists returns the existing id. Row locks (the
dialect's ``for_update`` / ``for_share``; SQLite's write transaction locks the whole file)
keep pausing and storing an occurrence apart: an occurrence is stored under the write lock
of its schedule's row, and a pause takes the same lock before it deletes the unstarted
occurrences, so a paused schedule is never left with one. The same lock keeps a schedule
to one unstarted occurrence: a worker storing the one after the occurrence it claimed and
the maintenance leader filling that gap compute it at two moments, which may straddle a
fire time (two different fire times, both allowed by the index); whichever stores second
finds the first one's and keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conveyor.stores.base import JobRow, NewJob, ScheduleGap, ScheduleRow
from conveyor.stores.core.dialect import Dialect


def schedule_row(r: Sequence[Any]) -> ScheduleRow:
    return ScheduleRow(
        id=r[0], job=r[1], definition=r[2], args=r[3], kwargs=r[4], options=r[5],
        paused=bool(r[6]), source=r[7], misfire=r[8], created_at=r[9], updated_at=r[10],
        revision=r[11], fingerprint=r[12],
    )


class SchedulesCore:
    """Schedule methods of a SQL store (its dialect ``d``, its ``_insert_in``)."""

    d: Dialect

    _insert_in: Callable[[Any, NewJob], int]  # InsertCore: one job, open transaction
    def _load(self, conn: Any, schedule_id: str, lock: str = "") -> ScheduleRow | None:
        r = conn.execute(self.d.q["schedule"] + lock, {"id": schedule_id}).fetchone()
        return schedule_row(r) if r else None

    def _gap(self, conn: Any, row: ScheduleRow) -> ScheduleGap:
        r = self.d.run(conn, "latest_occurrence", {"id": row.id}).fetchone()
        return ScheduleGap(row, float(r[1]) if r else None, int(r[0]) if r else None)

    def _cancel_unstarted(self, conn: Any, schedule_id: str, why: str) -> None:
        """Cancel the unstarted occurrences, keeping their records (their fire time is
        freed, so the schedule may store that time again)."""
        error = json.dumps({"type": "Cancelled", "message": why, "traceback": None})
        self.d.run(conn, "cancel_unstarted", self.d.params(id=schedule_id, error=error))

    def save_schedule(
        self, row: ScheduleRow, first: Callable[[ScheduleRow, ScheduleGap], NewJob | None],
    ) -> tuple[ScheduleRow, int | None]:
        d = self.d
        with d.writing() as conn:
            params = d.params(
                id=row.id, job=row.job, definition=row.definition, args=row.args,
                kwargs=row.kwargs, options=row.options, paused=row.paused, source=row.source,
                misfire=row.misfire, revision=row.revision, fingerprint=row.fingerprint,
            )
            row.created_at = row.updated_at = d.now(conn, params)
            params["at"] = row.created_at
            d.run(conn, "insert_schedule", params)
            stored = self._load(conn, row.id, d.for_update)
            assert stored is not None
            if stored.fingerprint != row.fingerprint:
                d.run(conn, "update_schedule", params)
                self._cancel_unstarted(conn, row.id, "replaced: its schedule was changed")
                stored = self._load(conn, row.id)
                assert stored is not None
            r = d.run(conn, "unstarted", {"id": row.id}).fetchone()
            found = int(r[0]) if r else None
            if found is None and not stored.paused:
                job = first(stored, self._gap(conn, stored))
                if job is not None:
                    found = self._insert_in(conn, job)
        d.inserted()
        return stored, found

    def add_occurrences(self, jobs: Sequence[tuple[NewJob, int]]) -> list[int | None]:
        ids: dict[int, int | None] = {}
        d = self.d
        with d.writing() as conn:  # schedule rows locked in one order: no deadlock
            for n in sorted(range(len(jobs)), key=lambda n: jobs[n][0].schedule_id or ""):
                job, revision = jobs[n]
                stored = self._load(conn, job.schedule_id or "", d.for_update)
                if stored is None or stored.paused or stored.revision != revision:
                    ids[n] = None
                elif r := d.run(conn, "pending_occurrence", {"id": stored.id}).fetchone():
                    ids[n] = int(r[0])
                else:
                    ids[n] = self._insert_in(conn, job)
        d.inserted()
        return [ids[n] for n in range(len(jobs))]

    def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        with self.d.reading() as conn:
            return self._load(conn, schedule_id)

    def list_schedules(self) -> list[ScheduleRow]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "schedules").fetchall()
        return [schedule_row(r) for r in rows]

    def pause_schedule(self, schedule_id: str, paused: bool) -> ScheduleRow | None:
        with self.d.writing() as conn:
            changed = self.d.run(conn, "pause_schedule", self.d.params(
                id=schedule_id, paused=paused)).rowcount
            if changed and paused:
                self.d.run(conn, "drop_unstarted", {"id": schedule_id})
            return self._load(conn, schedule_id) if changed else None

    def delete_schedules(self, ids: Sequence[str]) -> int:
        deleted = 0
        with self.d.writing() as conn:
            for schedule_id in ids:
                self._load(conn, schedule_id, self.d.for_update)  # the row first, as writers do
                self._cancel_unstarted(conn, schedule_id, "its schedule was removed")
                deleted += self.d.run(conn, "delete_schedule", {"id": schedule_id}).rowcount
        return deleted

    def schedule_gaps(self) -> list[ScheduleGap]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "schedule_gaps").fetchall()
            return [self._gap(conn, schedule_row(r)) for r in rows]

    def occurrences(self, schedule_id: str, limit: int) -> list[JobRow]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "occurrences", self.d.params(
                id=schedule_id, limit=limit)).fetchall()
        return [JobRow(*r) for r in rows]

    def expiring(self) -> bool:
        with self.d.reading() as conn:
            return self.d.run(conn, "expiring").fetchone() is not None

    def purge_due(self) -> bool:
        with self.d.reading() as conn:
            return self.d.run(conn, "purge_due", self.d.params()).fetchone() is not None

    # -- cleanup policies (``app.include`` a plugin's ``cleanup``) -----------------
    def save_cleanup(self, policies: Mapping[str, float]) -> None:
        """Store ``{job id: seconds to keep a finished job}`` (upsert per job); the
        expired purge applies them (ReadingCore._cleanup_condition)."""
        with self.d.writing() as conn:
            for job, seconds in sorted(policies.items()):
                self.d.run(conn, "save_cleanup", self.d.params(job=job, seconds=float(seconds)))

    def cleanup_policies(self) -> dict[str, float]:
        """The stored policies: ``{job id: seconds}``."""
        with self.d.reading() as conn:
            rows = self.d.run(conn, "cleanup_policies").fetchall()
        return {str(job): float(seconds) for job, seconds in rows}
