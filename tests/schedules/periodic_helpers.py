"""Helpers for the stored-schedule tests (tests/schedules/test_periodic_*.py).

``fire_due`` does what a worker does with claimed schedule occurrences (claim, the
schedule hook, complete) without an event loop, so fake-clock tests behave the same on
every store: on PostgreSQL the database clock (not faked) decides what is due, so the
tests only fire after travelling past the stored fire time, when every store agrees.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from conveyor import Conveyor
from conveyor.records import JobRecord
from conveyor.stores.base import Outcome


def fire_due(app: Conveyor) -> list[int]:
    """Claim the due jobs, let the schedule hook store successors, complete the rest.
    Returns the ids that ran (misfires the hook skipped are not among them)."""
    store = app.store
    claimed = store.claim("test-worker", None, 100, app.lease)
    run = app.periodic.claimed(app, store, claimed)
    store.complete([Outcome(j.id, j.token, "completed", time.time(), result="null")
                    for j in run])
    return [j.id for j in run]


def occurrences(app: Conveyor, schedule_id: str) -> list[JobRecord]:
    """The schedule's stored occurrences, oldest first."""
    return app.jobs_list(schedule_id=schedule_id, newest_first=False, limit=1000)


def pending(app: Conveyor, schedule_id: str) -> list[JobRecord]:
    return [r for r in occurrences(app, schedule_id) if r.state in ("scheduled", "queued")]


def next_fire(app: Conveyor, schedule_id: str) -> datetime:
    """The fire time of the schedule's one stored unstarted occurrence."""
    waiting = pending(app, schedule_id)
    assert len(waiting) == 1, [(r.id, r.state, r.run_at) for r in waiting]
    return waiting[0].run_at


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
