"""Storing and running recurring schedules: the always-on ``Periodic`` app extension.

* A schedule is a store row (definition JSON, the occurrence's arguments and options).
  Its next occurrence is always stored as a ``scheduled`` job keyed by (schedule id,
  fire time); the store keeps that pair UNIQUE, so however many processes store an
  occurrence it exists, and runs, once.
* When a worker claims an occurrence (first attempt) it stores the following one at
  once, linked by ``rescheduled_from``; the maintenance leader fills any gap left (a
  worker that died, a schedule resumed or created elsewhere).
* The following occurrence is the first fire time after both the claimed one and now,
  so after downtime a missed occurrence runs once, not once per miss. With ``misfire``
  set, an occurrence claimed later than that after its fire time is skipped (cancelled,
  saying why) instead of run.
* Fire times are computed on this host's clock; the database clock still decides when a
  stored occurrence is due. Hosts whose clocks differ agree on the fire times themselves
  (they come from the stored definition), so skew cannot duplicate an occurrence.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch
from conveyor.errors import ScheduleError
from conveyor.host import BaseExtension
from conveyor.jobs import PURGE_JOB
from conveyor.options import JobOptions
from conveyor.schedules.schedule import Schedule, parse_schedule
from conveyor.serialization import read_stored
from conveyor.stores.base import (
    ClaimedJob,
    NewJob,
    Outcome,
    ScheduleGap,
    ScheduleRow,
    ScheduleStore,
    Store,
)
from conveyor.text import clean

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.jobs import JobDefinition

log = logging.getLogger("conveyor.schedules")

PURGE_SCHEDULE = "every hour"
_NONE = type(None)
# The occurrence fields a schedule row keeps (its ``options`` JSON), and what each
# holds when conveyor wrote it.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "payload": (str,), "queue": (str,), "priority": (int,), "key": (str, _NONE),
    "owner": (str, _NONE), "max_attempts": (int,), "retry": (str, _NONE),
    "timeout": (int, float, _NONE), "retention": (int, float, _NONE),
    "remove_delay": (int, float, _NONE), "version": (str, _NONE), "owner_int": (bool,),
}
TEMPLATE_FIELDS = tuple(name for name in _FIELD_TYPES if name != "owner_int")


def template(job: NewJob) -> str:
    """The ``options`` JSON of a schedule whose occurrences look like ``job`` (an int
    owner's mark only when set: the JSON of other schedules stays as it was)."""
    fields = {name: getattr(job, name) for name in TEMPLATE_FIELDS}
    if job.owner_int:
        fields["owner_int"] = True
    return json.dumps(fields, sort_keys=True)


def occurrence(row: ScheduleRow, fire_at: float, previous: int | None) -> NewJob:
    """The job that is ``row``'s occurrence at ``fire_at``."""
    return NewJob(
        row.job, row.args, row.kwargs, run_at=fire_at, schedule_id=row.id, fire_at=fire_at,
        rescheduled_from=previous, **template_of(row),
    )


def template_of(row: ScheduleRow) -> dict[str, Any]:
    """The occurrence fields ``row`` keeps. Options that are not a JSON object, or a
    field of a type conveyor never stores there (a row written by other software), are
    a ScheduleError naming it, so that one schedule cannot spoil a batch of occurrences."""
    options = read_stored(row.options)
    if not isinstance(options, dict):
        raise ScheduleError(f"schedule {row.id!r}: its stored options are not a JSON "
                            f"object: {clean(row.options, 200)!r}")
    fields = {k: v for k, v in options.items() if k in _FIELD_TYPES}
    for name, value in fields.items():
        if not isinstance(value, _FIELD_TYPES[name]) or (
                isinstance(value, int) and not -(2**31) <= value < 2**31):
            raise ScheduleError(f"schedule {row.id!r}: its stored {name} {value!r} is not "
                                "one an occurrence can hold")
    return fields


def make_row(
    schedule_id: str, schedule: Schedule, job: NewJob, misfire: float | None, source: str
) -> ScheduleRow:
    """A schedule row; its fingerprint covers everything but the parse time (anchor)."""
    definition = schedule.to_json()
    options = template(job)
    basis = [job.job, schedule.text, schedule.tz, definition["version"], job.args, job.kwargs,
             options, misfire]
    return ScheduleRow(
        id=schedule_id, job=job.job, definition=json.dumps(definition), args=job.args,
        kwargs=job.kwargs, options=options, source=source, misfire=misfire,
        fingerprint=hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:32],
    )


def misfire_error(row: ScheduleRow, late: float) -> str:
    return json.dumps({
        "type": "Misfire",
        "message": f"skipped: this occurrence of schedule {row.id!r} started {late:.0f} s "
        f"after its fire time, later than its misfire grace of {row.misfire:g} s",
        "traceback": None,
    })


class Periodic(BaseExtension):
    """Per-app schedule state: code schedules to upsert, parsed definitions, system jobs."""

    slow = True  # gaps and the retention check: on the leader's full passes

    def __init__(self, app: Host) -> None:
        self._app = app  # its clock decides what is due
        self.code: dict[str, ScheduleRow] = {}  # declared on definitions, by schedule id
        self.system: dict[str, JobDefinition] = {PURGE_JOB: purge_definition(app)}
        self._synced: Store | None = None  # the store the code schedules were saved to
        self._unsaved: set[str] = set()
        self._parsed: dict[tuple[str, str], Schedule] = {}
        self._reported: set[tuple[str, str, str]] = set()  # unreadable rows, logged once
        self._rows: dict[str, ScheduleRow] = {}  # cache for the claim hook
        self._purge_in: Store | None = None  # the store the purge schedule was saved to

    # -- computing occurrences ----------------------------------------------------------
    def schedule_of(self, row: ScheduleRow) -> Schedule:
        key = (row.id, row.definition)
        found = self._parsed.get(key)
        if found is None:
            if len(self._parsed) > 1000:
                self._parsed.clear()
            try:
                found = Schedule.from_json(json.loads(row.definition))
            except Exception as exc:  # written by other software, or a newer version
                raise ScheduleError(f"schedule {row.id!r}: its stored definition cannot be "
                                    f"read ({exc})") from exc
            self._parsed[key] = found
        return found

    def created_now(self, definition: dict[str, Any]) -> str:
        """``definition`` (a schedule's JSON) counted from now on the app's clock: a
        schedule is created when it is first stored, not when its text was read (at
        import, on Python's clock), so ``every 90 minutes`` and ``in 5 minutes`` count
        from then."""
        now = datetime.fromtimestamp(epoch(self._app.clock), UTC)
        return json.dumps(parse_schedule(definition["text"], definition["tz"],
                                         anchor=now).to_json())

    def unreadable(self, row: ScheduleRow) -> None:
        """Log that ``row``'s next occurrence cannot be computed (call in an ``except``):
        with its traceback the first time, then at debug level (each pass meets it)."""
        seen = (row.id, row.definition, row.options)
        if seen in self._reported:
            log.debug("schedule %r: still cannot compute its next occurrence", row.id,
                      exc_info=True)
            return
        if len(self._reported) > 1000:
            self._reported.clear()
        self._reported.add(seen)
        log.exception("schedule %r: cannot compute its next occurrence; its other "
                      "schedules go on", row.id)

    def next_job(self, row: ScheduleRow, after: float, previous: int | None) -> NewJob | None:
        """``row``'s first occurrence strictly after ``after`` (None once it has ended)."""
        moment = datetime.fromtimestamp(after, UTC)
        found = self.schedule_of(row).next(after=moment, count=1)
        return occurrence(row, found[0].timestamp(), previous) if found else None

    def first(self, row: ScheduleRow, gap: ScheduleGap) -> NewJob | None:
        """The occurrence to store for a schedule that has none: the first after now and
        after its latest stored one (so one skipped or still running is not repeated)."""
        after = max(epoch(self._app.clock), gap.latest_fire_at or 0.0)
        return self.next_job(row, after, gap.latest_id)

    def save(self, store: Store, row: ScheduleRow) -> tuple[ScheduleRow, int | None]:
        """Upsert ``row`` (keeping a stored definition of the same text and zone, so an
        interval keeps counting from when it was first created) and store its next
        occurrence if it has none."""
        stored = store.get_schedule(row.id)
        if stored is None or stored.fingerprint != row.fingerprint:
            old = read_stored(stored.definition) if stored is not None else None
            new = json.loads(row.definition)
            same = ("version", "text", "tz")
            if isinstance(old, dict) and all(old.get(k) == new[k] for k in same):
                assert stored is not None
                row.definition = stored.definition
            else:
                row.definition = self.created_now(new)
        saved, found = store.save_schedule(row, self.first)
        self._rows[saved.id] = saved
        return saved, found

    # -- code schedules -----------------------------------------------------------------
    def declare(self, app: Host, row: ScheduleRow) -> None:
        """A schedule declared on a definition. Importing the app writes nothing: workers
        save it when they start (and to any store the app switches to), as do
        ``app.sync_schedules()`` and ``conveyor schedules sync``."""
        self.code[row.id] = row
        self._unsaved.add(row.id)

    def sync(self, app: Host) -> None:
        """Upsert the code schedules (and cleanup policies) not yet saved to the app's
        current store."""
        app.cleanup.sync(app.store)
        if self._synced is not app.store:
            self._synced = app.store
            self._unsaved = set(self.code)
            self._rows.clear()
        for schedule_id in sorted(self._unsaved):
            self.save(app.store, self.code[schedule_id])
            self._unsaved.discard(schedule_id)

    # -- hooks the app and its workers call ----------------------------------------------
    def claimed(self, app: Host, store: Store, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        """Right after a claim: store each claimed occurrence's successor; skip misfires.
        Returns the jobs to run."""
        try:
            return self._claimed(store, jobs)
        except Exception:  # never lose the claimed jobs; maintenance stores what is missing
            log.exception("could not store the next occurrences of claimed schedule jobs")
            return jobs

    def _claimed(self, store: Store, jobs: list[ClaimedJob]) -> list[ClaimedJob]:
        now = epoch(self._app.clock)
        run: list[ClaimedJob] = []
        skipped: list[Outcome] = []
        following: list[tuple[NewJob, int]] = []
        for job in jobs:
            row = self._row(store, job.schedule_id) if job.attempt == 1 else None
            if row is None:
                run.append(job)
                continue
            try:
                successor = self.next_job(row, max(now, job.run_at), job.id)
            except Exception:  # this schedule's row only: the claimed job still runs
                self.unreadable(row)
                run.append(job)
                continue
            if successor is not None:
                following.append((successor, row.revision))
            late = now - job.run_at
            if row.misfire is not None and late > row.misfire:
                skipped.append(Outcome(job.id, job.token, "cancelled", now,
                                       error=misfire_error(row, late)))
            else:
                run.append(job)
        if following:
            self._add(store, following)
        if skipped:
            store.complete(skipped)
        return run

    def _row(self, store: Store, schedule_id: str | None) -> ScheduleRow | None:
        if schedule_id is None:
            return None
        row = self._rows.get(schedule_id)
        if row is None:
            row = store.get_schedule(schedule_id)
            if row is not None:
                self._rows[schedule_id] = row
        return row

    def _add(self, store: Store, items: Sequence[tuple[NewJob, int]]) -> None:
        """Store occurrences; those refused because the schedule changed since it was
        cached are computed again from the stored schedule, once."""
        refused = [job for (job, _), got in zip(items, store.add_occurrences(items), strict=True)
                   if got is None]
        again: list[tuple[NewJob, int]] = []
        for job in refused:
            sid = job.schedule_id or ""
            self._rows.pop(sid, None)
            row = self._row(store, sid)
            if row is not None and not row.paused:
                successor = self.next_job(row, epoch(self._app.clock), job.rescheduled_from)
                if successor is not None:
                    again.append((successor, row.revision))
        if again:
            store.add_occurrences(again)

    def cancelled(self, store: ScheduleStore) -> None:
        """A cancelled occurrence skips that occurrence only: store the next one at once
        (not at the next maintenance pass), so the schedule always shows when it runs."""
        try:
            self.fill_gaps(store)
        except Exception:  # the cancel is done; maintenance stores what is missing
            log.exception("could not store the next occurrences after a cancel")

    def fill_gaps(self, store: ScheduleStore) -> None:
        """Store the next occurrence of every active schedule that has none."""
        wanted: list[tuple[NewJob, int]] = []
        for gap in store.schedule_gaps():
            try:
                job = self.first(gap.schedule, gap)
            except Exception:  # one unreadable schedule must not stop the others
                self.unreadable(gap.schedule)
                continue
            if job is not None:
                wanted.append((job, gap.schedule.revision))
        if wanted:
            store.add_occurrences(wanted)

    def maintain(self, app: Host, store: Store, leader: bool) -> None:
        """Each maintenance pass: save code schedules; the leader stores missing
        occurrences, purges finished jobs whose retention or remove delay has passed
        (not only on the hourly cleanup run: a delay of minutes is kept to within a
        pass) and sets up the retention cleanup schedule once it has work (purging
        what is due then)."""
        self.sync(app)
        self._rows.clear()  # the claim hook re-reads schedules changed by other processes
        if not leader:
            return
        self.fill_gaps(store)
        first = self._purge_in is not app.store and (store.expiring() or (
            app.event_retention is not None and store.list_events(None, 1, 0)
        ))
        if first:
            self.save(store, purge_row(app, self.system[PURGE_JOB]))
            self._purge_in = app.store
        # On its first pass with work, the leader purges at once: jobs past a cleanup
        # policy (days, checked by the hourly run only) may have waited since before it.
        if first or store.purge_due():
            store.purge(None, expired_only=True)


def purge_definition(app: Host) -> JobDefinition:
    """The built-in ``conveyor.purge`` job (not listed in ``app.jobs``)."""
    from conveyor.jobs import JobDefinition

    def purge() -> dict[str, int]:
        """Delete finished jobs past their retention or remove delay, and delivered
        events older than ``app.event_retention``."""
        store = app.store
        events = 0
        if app.event_retention is not None:
            events = store.purge_events(store.now() - app.event_retention)
        return {"purged": store.purge(None, expired_only=True), "events": events}

    return JobDefinition(app=app, id=PURGE_JOB, fn=purge, name="Retention cleanup",
                         options=JobOptions(retention=86400.0))


def purge_row(app: Host, definition: JobDefinition) -> ScheduleRow:
    """The system schedule that runs ``conveyor.purge`` (``definition``)."""
    job = app.triggering.new_job(definition(), None, 0.0, {})
    return make_row(PURGE_JOB, parse_schedule(PURGE_SCHEDULE), job, None, "system")
