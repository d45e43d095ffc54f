"""The schedules service (``app.scheduling``) behind :class:`conveyor.Conveyor`'s
schedule methods: triggers, run-time schedules, listing, pausing, resuming and removing
(SPEC §6)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from conveyor.clock import now as clock_now
from conveyor.errors import ConfigurationError, ScheduleError
from conveyor.host import Host
from conveyor.jobs import JobHandle
from conveyor.options import CronJobOptions, ScheduleJobOptions, coerce_seconds, flag
from conveyor.records import utc
from conveyor.retry import Retry
from conveyor.schedules.cron import looks_like_cron
from conveyor.schedules.periodic import Periodic, make_row, template_of
from conveyor.schedules.runtime import schedule_call
from conveyor.schedules.schedule import Schedule, parse_schedule, zone_for, zone_name
from conveyor.serialization import read_stored
from conveyor.stores.base import JobRow, ScheduleRow, Store
from conveyor.text import clean
from conveyor.timeunits import normalize_unit

if TYPE_CHECKING:
    from conveyor.jobs import JobDefinition

Misfire = float | timedelta | str | None


class SchedulesHost(Host, Protocol):
    """An app with recurring schedules (``app.periodic``)."""

    periodic: Periodic


class ScheduleTrigger:
    """``trigger=app.cron(...)``, ``app.every(...)`` or ``app.schedule(...)``: the job runs
    at each fire time of ``schedule``. Its schedule id is the job's id."""

    def __init__(self, schedule: Schedule, misfire: Misfire = None) -> None:
        self.schedule = schedule
        self.misfire = coerce_seconds("misfire", misfire)

    @property
    def kind(self) -> str:
        return self.schedule.kind

    @property
    def text(self) -> str:
        return self.schedule.text

    def explain(self) -> str:
        return self.schedule.explain()

    def next(self, after: datetime | None = None, count: int = 1) -> list[datetime]:
        return self.schedule.next(after, count)

    def attach(self, app: SchedulesHost, definition: JobDefinition) -> None:
        try:  # occurrences call the job without arguments
            inspect.signature(definition.fn).bind(**dict.fromkeys(definition.wants))
        except TypeError as exc:
            raise ConfigurationError(
                f"job {definition.id!r} has a schedule trigger, so it is called without "
                f"arguments, but it requires some ({exc}); give its parameters defaults"
            ) from None
        except ValueError:  # no signature to check (a builtin)
            pass
        job = app.triggering.new_job(definition(), None, 0.0, {})
        app.periodic.declare(app, make_row(definition.id, self.schedule, job, self.misfire, "code"))

    def __repr__(self) -> str:
        return f"<schedule trigger {self.schedule.text!r} tz={self.schedule.tz!r}>"


@dataclass(frozen=True)
class LastRun:
    """The newest occurrence of a schedule that started."""

    id: int
    state: str
    run_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ScheduleRecord:
    """A stored schedule as ``app.schedules()`` and ``conveyor schedules`` show it.

    ``next`` lists the coming fire times in UTC (the stored occurrence first),
    ``next_local`` the same in the schedule's zone; ``next_run`` is the id of the stored
    occurrence; ``last_run`` the newest occurrence that started.
    """

    id: str
    job: str
    text: str
    explain: str
    kind: str
    cron: str | None
    tz: str
    paused: bool
    source: str  # "code", "runtime" or "system"
    misfire: float | None
    next: list[datetime]
    next_local: list[datetime]
    next_run: int | None
    last_run: LastRun | None
    created_at: datetime | None
    updated_at: datetime | None


class SchedulingHost(SchedulesHost, Protocol):
    """What the schedules service uses of its app."""

    read_only: bool


class Scheduling:
    """Schedule triggers and stored schedules (``app.scheduling``)."""

    def __init__(self, app: SchedulingHost) -> None:
        self._app = app

    @property
    def _store(self) -> Store:
        return self._app.store  # read each time: app.reopen() swaps the store

    # -- triggers -------------------------------------------------------------------
    def cron(self, expr: str, tz: str | None = None, misfire: Misfire = None) -> ScheduleTrigger:
        """A cron trigger: 5 fields, 6 with seconds first, or ``@hourly``/``@daily``/
        ``@weekly``/``@monthly``/``@yearly``; ``tz`` defaults to the app's timezone."""
        if not isinstance(expr, str) or not looks_like_cron(" ".join(expr.split())):
            raise ScheduleError(
                f"not a cron expression: {expr!r}; use 5 fields like '0 3 * * *', 6 with "
                "seconds first like '*/10 * * * * *', or @hourly, @daily, @weekly, @monthly, "
                "@yearly (plain English goes to app.schedule(...))"
            )
        return self.schedule(expr, tz=tz, misfire=misfire)

    def every(
        self, text: str | timedelta | int, tz: str | None = None, misfire: Misfire = None
    ) -> ScheduleTrigger:
        """An interval trigger: ``app.every("15 minutes")``, ``app.every("day at 9:30")``,
        ``app.every(15, "minutes")`` (as ``run_in``), ``app.every(timedelta(minutes=15))``
        or a number of seconds."""
        if isinstance(text, int) and not isinstance(text, bool) and _is_unit(tz):
            text, tz = f"{text} {tz}", None
        elif isinstance(text, int) and isinstance(tz, str):
            _zone_or_unit(text, tz)
        if not isinstance(text, str):
            text = _interval_text(text)
        words = text.strip()
        if not words.lower().startswith("every"):
            words = f"every {words}"
        return self.schedule(words, tz=tz, misfire=misfire)

    def schedule(
        self, text: str, tz: str | None = None, misfire: Misfire = None
    ) -> ScheduleTrigger:
        """A trigger from cron or plain-English text (``"every weekday at 9:30 am"``)."""
        if not isinstance(text, str):
            raise ScheduleError(f"a schedule is text like 'every day at 9:30', not {text!r}")
        return ScheduleTrigger(parse_schedule(text, tz=tz or self._app.timezone), misfire)

    # -- run-time schedules ------------------------------------------------------------
    def schedule_cron_job(
        self, type: str, crontab: str, data: Any = None, owner: Any = None,
        **options: Unpack[CronJobOptions],
    ) -> JobHandle:
        """Worker-style: repeat job ``type`` with ``data`` on ``crontab``. Replaces the
        pending jobs and runtime schedules of the same type and owner (pass
        ``cancel_repeats=False`` to add another); returns the next occurrence's handle."""
        if not isinstance(crontab, str) or not looks_like_cron(" ".join(crontab.split())):
            raise ScheduleError(
                f"not a cron expression: {crontab!r}; use 5 fields like '0 3 * * *', 6 with "
                "seconds first, or @hourly, @daily, @weekly, @monthly, @yearly"
            )
        options.setdefault("cancel_repeats", True)
        return self.schedule_job(type, data, schedule=crontab, owner=owner, **options)

    def schedule_job(
        self, type: str, data: Any = None, *,
        retry: dict[str, Any] | Retry | int | None = None, priority: int | str | None = None,
        schedule: str | None = None, cancel_repeats: bool = False, owner: Any = None,
        key: str | None = None, run_at: datetime | None = None,
        **options: Unpack[ScheduleJobOptions],
    ) -> JobHandle:
        """Reaction-style trigger: ``data`` is the job's single argument (``{}`` when
        omitted for a job that needs one); ``retry`` takes ``{"retries", "wait" (ms),
        "backoff"}``; ``cancel_repeats`` replaces pending ones."""
        definition = self._app.jobs[type]
        given: dict[str, Any] = dict(options)
        if isinstance(retry, dict):
            retry = Retry.from_reaction(retry)
        if retry is not None:
            given["retry"] = retry
        if priority is not None:
            given["priority"] = priority
        if flag("cancel_repeats", cancel_repeats):
            given["replace"] = True
        given.update(owner=owner, key=key)
        needs_data = definition.kind == "reaction" or (
            definition.arity is not None and definition.arity[0] > 0)
        if data is None and needs_data:
            data = {}  # Reaction's default: a job without data gets an empty object
        call = definition(data) if data is not None else definition()
        if schedule is not None:
            if run_at is not None:
                raise ConfigurationError("schedule_job(): give schedule= or run_at=, not both "
                                         "(a schedule decides when each run is due)")
            return schedule_call(self._app, self._app.periodic, call, schedule, given)
        if run_at is not None:
            return call.run_at(run_at, **given)
        return call.run_now(**given)

    # -- finding and steering ------------------------------------------------------------
    def sync_schedules(self) -> list[str]:
        """Save the schedules declared in code (and ``include()`` cleanup policies) to the
        store now, as a starting worker does; returns the code schedules' ids."""
        self._app.periodic.sync(self._app)
        return sorted(self._app.periodic.code)

    def shown(self) -> None:
        """Before a read: save the code schedules not saved yet (except in a read-only
        command), so lists show their next occurrences before any worker started."""
        if not self._app.read_only:
            self._app.periodic.sync(self._app)

    def schedules(self) -> list[ScheduleRecord]:
        """Every stored schedule with its next fire times and last run, by id (the code
        schedules are saved first, except in a read-only command)."""
        self.shown()
        store = self._store
        return [self._record(store, row) for row in store.list_schedules()]

    def get_schedule(self, schedule_id: str) -> ScheduleRecord | None:
        """One stored schedule, or None."""
        row = self._store.get_schedule(str(schedule_id))
        return self._record(self._store, row) if row else None

    def pause_schedule(self, schedule_id: str) -> bool:
        """Store no more occurrences (the stored next one is removed); False if unknown."""
        return self._store.pause_schedule(str(schedule_id), True) is not None

    def resume_schedule(self, schedule_id: str) -> bool:
        """Store the next occurrence again; False if unknown."""
        row = self._store.pause_schedule(str(schedule_id), False)
        if row is None:
            return False
        self._app.periodic.save(self._store, row)
        return True

    def remove_schedule(self, schedule_id: str) -> bool:
        """Delete a schedule and its stored next occurrence (past runs stay); False if
        unknown. A schedule declared in code comes back when the app starts again."""
        return self._store.delete_schedules([str(schedule_id)]) > 0

    def _record(self, store: Store, row: ScheduleRow) -> ScheduleRecord:
        schedule: Schedule | None
        kind: str
        try:
            schedule = self._app.periodic.schedule_of(row)
            template_of(row)
            text, explain, kind, cron, tz = (schedule.text, schedule.explain(), schedule.kind,
                                             schedule.cron, schedule.tz)
        except ScheduleError as exc:  # written by other software: shown, saying why
            schedule = None
            text, explain, kind, cron, tz = _stored_text(row), str(exc), "unreadable", None, "UTC"
        recent = store.occurrences(row.id, 5)
        unstarted = [r for r in recent if r.state in ("scheduled", "queued") and not r.attempts]
        started = [r for r in recent if r not in unstarted]
        upcoming: list[datetime] = []
        if not row.paused:
            if unstarted:
                upcoming.append(utc(unstarted[-1].run_at) or clock_now(self._app.clock))
            after = upcoming[0] if upcoming else clock_now(self._app.clock)
            if schedule is not None:
                upcoming += schedule.next(after=after, count=3 - len(upcoming))
        zone = zone_for(tz)
        return ScheduleRecord(
            id=row.id, job=row.job, text=text, explain=explain, kind=kind, cron=cron, tz=tz,
            paused=row.paused,
            source=row.source, misfire=row.misfire, next=upcoming,
            next_local=[t.astimezone(zone) for t in upcoming],
            next_run=unstarted[-1].id if unstarted else None,
            last_run=_last(started[0]) if started else None,
            created_at=utc(row.created_at), updated_at=utc(row.updated_at),
        )


def _stored_text(row: ScheduleRow) -> str:
    """The text of a stored definition that cannot be read, as far as it goes."""
    stored = read_stored(row.definition)
    found = stored.get("text") if isinstance(stored, dict) else None
    return found if isinstance(found, str) else clean(row.definition, 200)


def _last(row: JobRow) -> LastRun:
    return LastRun(id=row.id, state=row.state, run_at=utc(row.run_at),
                   finished_at=utc(row.finished_at))


# Units an every() timedelta is spelled in, largest first.
_SPANS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _is_unit(word: object) -> bool:
    """Whether ``word`` names a time unit (``every(15, "minutes")``), not a time zone."""
    try:
        normalize_unit(word)  # type: ignore[arg-type]
    except ConfigurationError:
        return False
    return True


def _zone_or_unit(amount: int, word: str) -> None:
    """Refuse ``every(15, word)`` naming neither a time zone nor a time unit, saying both
    are accepted (not only "unknown time zone" for ``every(1, "fortnight")``)."""
    try:
        zone_name(word)
    except ScheduleError:
        try:
            normalize_unit(word)
        except ConfigurationError as exc:
            raise ScheduleError(f'every({amount}, {word!r}): {exc}, or an IANA time zone '
                                'such as "Europe/Paris"') from None


def _interval_text(span: object) -> str:
    """``"15 minutes"`` for ``timedelta(minutes=15)`` or ``900``: whole seconds, > 0, in
    the largest unit that divides them."""
    seconds = span.total_seconds() if isinstance(span, timedelta) else span
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
            not 1 <= seconds <= 10**9 or seconds != int(seconds):
        raise ScheduleError(f"every() takes text like '15 minutes', a timedelta or a number "
                            f"of seconds (whole, at least 1), not {span!r}")
    unit, size = next((u, n) for u, n in _SPANS if int(seconds) % n == 0)
    count = int(seconds) // size
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
