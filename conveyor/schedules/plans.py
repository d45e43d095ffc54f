"""Occurrence engines behind a ``Schedule``: cron, rrule, fixed step and one-off.

Every engine yields aware UTC datetimes in non-decreasing order, starting at or
before the first occurrence strictly after ``after``; ``Schedule.next`` drops
duplicates and anything not strictly after ``after``.

Wall-clock times that fall in a daylight-saving gap or overlap are resolved the
way cronsim (and Debian cron) resolve them for fixed-time jobs: a time skipped
by a spring-forward runs at the first valid minute after the gap, and a time
repeated by a fall-back runs once, at its first (summer-time) occurrence.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim
from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, rrule, weekdays

from conveyor.errors import ScheduleError
from conveyor.schedules.laterplan import LaterPlan
from conveyor.schedules.wallclock import localize

Freq = Literal["monthly", "weekly", "daily", "hourly", "minutely", "secondly"]
_FREQS: dict[str, Literal[1, 2, 3, 4, 5, 6]] = {
    "monthly": MONTHLY,
    "weekly": WEEKLY,
    "daily": DAILY,
    "hourly": HOURLY,
    "minutely": MINUTELY,
    "secondly": SECONDLY,
}
_STEPS = {
    "weekly": timedelta(weeks=1),
    "daily": timedelta(days=1),
    "hourly": timedelta(hours=1),
    "minutely": timedelta(minutes=1),
    "secondly": timedelta(seconds=1),
}
#: How far before ``after`` an rrule starts iterating (covers the longest DST gap).
_MARGIN = timedelta(days=1)
#: Give up looking for an occurrence this long after ``after`` (about 60 years).
_HORIZON = timedelta(days=366 * 60)


@dataclass(frozen=True)
class CronPlan:
    """A cron expression (5 fields, or 6 with seconds first) read by cronsim."""

    expr: str

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """Fire times after ``after``; fixed-time jobs follow the wall clock (see module doc)."""
        fields = self.expr.split()
        minute, hour = fields[-5], fields[-4]
        if minute.startswith("*") or hour.startswith("*"):
            for moment in CronSim(self.expr, after.astimezone(zone)):
                yield moment.astimezone(UTC)
        else:
            for naive in CronSim(self.expr, after.astimezone(zone).replace(tzinfo=None)):
                yield localize(naive, zone)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"cron": self.expr}


@dataclass(frozen=True)
class Rule:
    """One dateutil rrule over wall-clock times; empty tuples leave a field unconstrained."""

    freq: Freq
    interval: int
    dtstart: datetime  # naive, wall clock in the schedule's zone
    months: tuple[int, ...] = ()
    monthdays: tuple[int, ...] = ()  # -1 is the last day of the month
    weekdays: tuple[tuple[int, int], ...] = ()  # (Monday=0..Sunday=6, nth; 0 = every)
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    seconds: tuple[int, ...] = ()

    def build(self, dtstart: datetime | None = None, until: datetime | None = None) -> rrule:
        """The dateutil rrule, optionally restarted at another point of the same grid."""
        return rrule(
            _FREQS[self.freq],
            dtstart=dtstart or self.dtstart,
            interval=self.interval,
            until=until,
            bymonth=self.months or None,
            bymonthday=self.monthdays or None,
            byweekday=[weekdays[d](n) if n else weekdays[d] for d, n in self.weekdays] or None,
            byhour=self.hours or None,
            byminute=self.minutes or None,
            bysecond=self.seconds or None,
        )

    def start_near(self, target: datetime) -> datetime:
        """The latest start on this rule's grid (dtstart + k * interval) not after ``target``."""
        if self.freq == "monthly":
            months = (target.year - self.dtstart.year) * 12 + target.month - self.dtstart.month
            shift = months // self.interval * self.interval
            start = self.dtstart + relativedelta(months=shift)
            return start if start <= target else start - relativedelta(months=self.interval)
        step = _STEPS[self.freq] * self.interval
        return self.dtstart + step * ((target - self.dtstart) // step)

    def to_json(self) -> dict[str, Any]:
        """JSON form (dtstart as an ISO string)."""
        return {
            "freq": self.freq,
            "interval": self.interval,
            "dtstart": self.dtstart.isoformat(),
            "months": list(self.months),
            "monthdays": list(self.monthdays),
            "weekdays": [list(pair) for pair in self.weekdays],
            "hours": list(self.hours),
            "minutes": list(self.minutes),
            "seconds": list(self.seconds),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        """Inverse of ``to_json``."""
        if data["freq"] not in _FREQS:
            raise ValueError(f"unknown frequency {data['freq']!r}")
        return cls(
            freq=data["freq"],
            interval=int(data["interval"]),
            dtstart=datetime.fromisoformat(data["dtstart"]),
            months=tuple(data["months"]),
            monthdays=tuple(data["monthdays"]),
            weekdays=tuple((int(d), int(n)) for d, n in data["weekdays"]),
            hours=tuple(data["hours"]),
            minutes=tuple(data["minutes"]),
            seconds=tuple(data["seconds"]),
        )


@dataclass(frozen=True)
class RRulePlan:
    """The union of one or more rules."""

    rules: tuple[Rule, ...]

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """Merge every rule's fire times, iterating from just before ``after``."""
        naive = after.astimezone(zone).replace(tzinfo=None)
        target = naive - min(_MARGIN, naive - datetime.min)
        until = target + min(_HORIZON, datetime.max - target)
        streams = [
            (localize(naive, zone) for naive in rule.build(rule.start_near(target), until))
            for rule in self.rules
        ]
        return heapq.merge(*streams)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"rrules": [rule.to_json() for rule in self.rules]}


@dataclass(frozen=True)
class StepPlan:
    """A fixed duration counted from an anchor: anchor + k * step, for every integer k."""

    anchor: datetime  # aware UTC
    step: timedelta

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """Fire times after ``after`` (the zone plays no part in a fixed duration)."""
        k = (after - self.anchor) // self.step + 1
        while True:
            yield self.anchor + k * self.step
            k += 1

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"start": self.anchor.isoformat(), "every_seconds": self.step.total_seconds()}


@dataclass(frozen=True)
class OncePlan:
    """A single fire time."""

    at: datetime  # aware UTC

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """The fire time, if it is still ahead."""
        if self.at > after:
            yield self.at

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"at": self.at.isoformat()}


Plan = CronPlan | RRulePlan | StepPlan | OncePlan | LaterPlan


def plan_from_json(data: dict[str, Any]) -> Plan:
    """Inverse of each plan's ``to_json``; raises ScheduleError on anything malformed."""
    try:
        if "cron" in data:
            return CronPlan(str(data["cron"]))
        if "rrules" in data:
            return RRulePlan(tuple(Rule.from_json(rule) for rule in data["rrules"]))
        if "every_seconds" in data:
            step = timedelta(seconds=float(data["every_seconds"]))
            return StepPlan(_aware(data["start"]), step)
        if "at" in data:
            return OncePlan(_aware(data["at"]))
        if "later" in data:
            return LaterPlan.from_json(data["later"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ScheduleError(f"cannot load schedule plan {data!r}: {exc}") from exc
    raise ScheduleError(f"cannot load schedule plan {data!r}: unknown plan")


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return moment.astimezone(UTC)
