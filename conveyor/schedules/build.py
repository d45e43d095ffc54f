"""Turn a parsed English ``Phrase`` into a plan: cron, rrule, aligned interval or one-off.

* ``every N seconds|minutes|hours`` (N up to 60/60/24), ``every N days`` (N up to 27) and
  ``every N months`` (N up to 12) align like cron's ``*/N`` within the enclosing minute,
  hour, day, month or year (kind ``interval``, computed by cronsim).
* Larger N, and every count of weeks, counts from the anchor: a fixed duration for
  seconds, minutes and hours; wall-clock calendar steps (an rrule) for days, weeks and
  months (months start on the 1st at 00:00 of the anchor's month).
* Days and times of day become one cron expression when cron can say it exactly; else
  rrules (several times with different minutes, or weekdays AND days of the month).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from conveyor.errors import ScheduleError
from conveyor.schedules.cron import explain_cron
from conveyor.schedules.lexer import Time
from conveyor.schedules.phrase import Phrase, WordError, error
from conveyor.schedules.plans import CronPlan, Freq, OncePlan, Plan, RRulePlan, Rule, StepPlan

PERIODS = {"second": 60, "minute": 60, "hour": 24, "day": 27, "month": 12}
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
FREQS: dict[str, Freq] = {
    "second": "secondly", "minute": "minutely", "hour": "hourly",
    "day": "daily", "week": "weekly", "month": "monthly",
}  # fmt: skip
_ORDER = ["second", "minute", "hour", "day"]
_LIMITS = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}
_RANKED = re.compile(r"\bthe\b|\d(st|nd|rd|th)\b", re.IGNORECASE)  # later.js's ranks
_LONGEST = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
_EPOCH = datetime(2000, 1, 1)
#: What may qualify an interval counted from the anchor ("every 2 weeks on monday at 9").
_ANCHORED_ALLOWS = {
    "second": {"days", "days of the month", "months"},
    "day": {"times"},
    "week": {"days", "times"},
    "month": {"days of the month", "times"},
}
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTH_NAMES = ["", "January", "February", "March", "April", "May", "June", "July",
               "August", "September", "October", "November", "December"]  # fmt: skip

Row = tuple[frozenset[int], frozenset[int], frozenset[int]]  # seconds, minutes, hours


@dataclass(frozen=True)
class Compiled:
    """A plan, its kind and an English description (without the time zone)."""

    kind: str
    plan: Plan
    description: str


@dataclass
class Days:
    """Which days fire: weekdays AND month days; nth weekdays OR month days (like cron)."""

    weekdays: set[int] = field(default_factory=set)
    nth: set[tuple[int, int]] = field(default_factory=set)
    monthdays: set[int] = field(default_factory=set)
    months: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.weekdays or self.nth or self.monthdays or self.months)


def compile_phrase(p: Phrase, zone: ZoneInfo, anchor: datetime) -> Compiled:
    """The plan for a parsed phrase; ``anchor`` (aware) is when the schedule was created."""
    weekdays = set(p.weekdays) if len(p.weekdays) < 7 else set()  # every day: no filter
    days = Days(weekdays, set(p.nth), set(p.monthdays), set(p.months))
    if p.weekdays and p.nth:
        raise _conflict(p, "days of the month", "days")
    if p.once or p.delay:
        return _once(p, anchor)
    if p.every is None:
        if p.between:
            raise _conflict(p, "range", "", 'an interval such as "every 2 hours"')
        if days.months and not (p.weekdays or days.nth or days.monthdays or p.times):
            days.monthdays = {1}  # "of may" alone: once, at the start of each such month
        return _calendar(p, days, time_rows(p.times or [(0, 0, 0)]))
    n, unit = p.every
    if unit == "week" and p.between and _RANKED.search(p.between.span.text):
        raise _conflict(p, "range", "interval", cls=WordError)  # later.js's weeks of the year
    if unit == "year":
        n, unit = n * 12, "month"
        if n > 12:  # years count from 1970, as in later.js (2 years: 2024, 2026...)
            anchor = datetime(1970, 1, 1, tzinfo=zone)
    if (n, unit) == (1, "week") and days.weekdays and not (days.nth or days.monthdays or p.between):
        return _calendar(p, days, time_rows(p.times or [(0, 0, 0)]))  # "every week on monday"
    if unit in PERIODS and n <= PERIODS[unit]:
        return _aligned(p, days, n, unit)
    return _anchored(p, days, n, unit, anchor.astimezone(zone))


def later_daily(p: Phrase) -> bool:
    """later.js's ``every 2 months at 9:00`` (a count in digits, a time, no day): every day
    of those months at 9:00; conveyor's ``every month at 9:00`` is on the 1st."""
    span = p.spans.get("interval")
    plain = not (p.monthdays or p.nth or p.weekdays or p.between)
    return bool(plain and p.times and span is not None and re.search(r"\d", span.text))


def _conflict(
    p: Phrase, kind: str, other: str, needs: str = "", cls: type[ScheduleError] = ScheduleError
) -> ScheduleError:
    span = p.spans[kind]
    with_ = f'cannot be combined with "{p.spans[other].text}"' if other else f"needs {needs}"
    return error(p.text, f'"{span.text}" at position {span.pos} {with_}', cls)


def _once(p: Phrase, anchor: datetime) -> Compiled:
    at = anchor.astimezone(UTC)
    if p.delay and p.delay[1] in ("month", "year"):
        n, unit = p.delay
        at += relativedelta(months=n * (12 if unit == "year" else 1))
    elif p.delay:
        at += timedelta(seconds=p.delay[0] * SECONDS[p.delay[1]])
    return Compiled("once", OncePlan(at), "Once")


def _aligned(p: Phrase, days: Days, n: int, unit: str) -> Compiled:
    sub_daily = unit in ("second", "minute", "hour")
    if sub_daily and p.times:
        raise _conflict(p, "times", "interval")
    lo, hi = _LIMITS[unit]
    if not sub_daily and p.between:  # "every 3 days between the 1st and 20th"
        lo, hi = _ranks(p, unit, unit)
    if unit == "day" and (p.monthdays or p.nth):
        raise _conflict(p, "days of the month", "interval")
    if unit == "month" and p.months:
        raise _conflict(p, "months", "interval")
    steps = frozenset(range(lo, hi + 1, n))
    if unit == "day":
        days.monthdays = set(steps)
    if unit == "month":
        days.months = set(steps)
        if not (days.monthdays or days.nth or days.weekdays) and not later_daily(p):
            days.monthdays = {1}
    rows = [_interval_row(unit, steps)] if sub_daily else time_rows(p.times or [(0, 0, 0)])
    if p.between and sub_daily:
        rows = [_narrow(p, days, n, unit, rows[0])]
    compiled = _calendar(p, days, rows)
    if p.weekdays or p.nth or p.monthdays or p.months or p.times or p.between:
        return compiled
    return Compiled("interval", compiled.plan, _aligned_description(n, unit, sorted(steps)))


def _interval_row(unit: str, steps: frozenset[int]) -> Row:
    every, zero = frozenset(range(60)), frozenset({0})
    if unit == "second":
        return steps, every, frozenset(range(24))
    if unit == "minute":
        return zero, steps, frozenset(range(24))
    return zero, zero, steps


def _narrow(p: Phrase, days: Days, n: int, unit: str, row: Row) -> Row:
    """Apply ``between …`` to a sub-daily interval row (later.js semantics)."""
    assert p.between is not None
    b, (secs, mins, hours) = p.between, row
    if isinstance(b.lo, int) and isinstance(b.hi, int):
        rank = b.unit or unit
        if rank not in _ORDER or _ORDER.index(rank) < _ORDER.index(unit):
            raise _conflict(p, "range", "interval")
        low, high = _ranks(p, unit, rank)
        values = frozenset(range(low, high + 1, n if rank == unit else 1))
        if rank == "day":
            if days.monthdays:
                raise _conflict(p, "range", "days of the month")
            days.monthdays = set(values)
            return row
        return (
            values if rank == "second" else secs,
            values if rank == "minute" else mins,
            values if rank == "hour" else hours,
        )
    assert not isinstance(b.lo, int) and not isinstance(b.hi, int)
    (h1, m1, s1), (h2, m2, s2) = b.lo, b.hi
    width = (h2 - h1) % 24
    if unit == "hour" and m1 == m2 and s1 == s2 == 0:
        return secs, frozenset({m1}), frozenset((h1 + k) % 24 for k in range(0, width + 1, n))
    if unit != "hour" and m1 == m2 == s1 == s2 == 0 and width:
        return secs, mins, frozenset((h1 + k) % 24 for k in range(width))
    raise error(p.text, f'"{b.span.text}" at position {b.span.pos} needs whole hours '
                'here, e.g. "between 9 am and 5 pm"')  # fmt: skip


def _ranks(p: Phrase, unit: str, rank: str) -> tuple[int, int]:
    """The bounds of ``between the A and B`` (ranks of ``rank``), checked."""
    b = p.between
    assert b is not None
    ranked = unit in _ORDER[:3] or (b.unit in (None, unit) and _RANKED.search(b.span.text))
    if not (ranked and isinstance(b.lo, int) and isinstance(b.hi, int)):
        raise _conflict(p, "range", "interval")  # "every 3 days between 9 and 17"
    low, high = _LIMITS.get(rank, (1, 0))
    if not low <= b.lo <= b.hi <= high:
        raise error(p.text, f'"{b.span.text}" at position {b.span.pos} is not a range '
                    f"of {rank}s from {low} to {high}")  # fmt: skip
    return b.lo, b.hi


def _anchored(p: Phrase, days: Days, n: int, unit: str, local: datetime) -> Compiled:
    start = local.replace(tzinfo=None, microsecond=0)
    if unit != "second":
        start = start.replace(second=0)
    if unit == "month":
        start = start.replace(day=1, hour=0, minute=0)
    allowed = _ANCHORED_ALLOWS.get(unit, _ANCHORED_ALLOWS["second"])
    for kind in ("days", "days of the month", "months", "times", "range"):
        if kind in p.spans and kind not in allowed:
            raise _conflict(p, kind, "interval")
    if p.nth and unit != "month":
        raise _conflict(p, "days of the month", "interval")
    counted = f"counted from {start:%Y-%m-%d %H:%M}"
    if not (days or p.times):
        description = f"{_every(n, unit).capitalize()}, {counted}"
        if unit in ("second", "minute", "hour"):
            anchor = local.astimezone(UTC).replace(microsecond=0)
            anchor = anchor if unit == "second" else anchor.replace(second=0)
            return Compiled("interval", StepPlan(anchor, timedelta(seconds=n * SECONDS[unit])),
                            description)  # fmt: skip
        return Compiled("interval", RRulePlan((Rule(FREQS[unit], n, start),)), description)
    rows = time_rows(p.times or [(0, 0, 0)]) if unit in ("day", "week", "month") else [None]
    rules = tuple(
        Rule(FREQS[unit], n, start, tuple(sorted(days.months)), monthdays, weekdays, *times)
        for _, monthdays, weekdays in _day_rules(days)
        for times in (_row_tuples(row) for row in rows)
    )
    text = f"{_every(n, unit).capitalize()}{_describe(days, p.times)}, {counted}"
    return Compiled("rrule", RRulePlan(rules), text)


def _calendar(p: Phrase, days: Days, rows: list[Row]) -> Compiled:
    """One cron expression if cron can say it exactly, else a union of rrules."""
    longest = max((_LONGEST[m] for m in days.months), default=31)
    if days.monthdays and -1 not in days.monthdays and min(days.monthdays) > longest:
        span = p.spans.get("days of the month") or p.spans["range"]
        months = _join([MONTH_NAMES[m] for m in sorted(days.months)])
        raise error(p.text, f'"{span.text}" at position {span.pos} never happens in {months}')
    if len(rows) == 1 and not (days.weekdays and days.monthdays):
        expr = cron_text(rows[0], days)
        return Compiled("cron", CronPlan(expr), explain_cron(expr))
    rules = tuple(
        Rule(freq, 1, _EPOCH, tuple(sorted(days.months)), monthdays, weekdays, *_row_tuples(row))
        for freq, monthdays, weekdays in _day_rules(days)
        for row in rows
    )
    said = _describe(days, p.times).strip()
    said = said[0].upper() + said[1:] if days else f"Every day {said}"
    return Compiled("rrule", RRulePlan(rules), said)


def _day_rules(days: Days) -> list[tuple[Freq, tuple[int, ...], tuple[tuple[int, int], ...]]]:
    """(freq, monthdays, weekdays) per rule: weekdays AND monthdays; nth weekdays OR them."""
    plain = tuple((d, 0) for d in sorted(days.weekdays))
    rules: list[tuple[Freq, tuple[int, ...], tuple[tuple[int, int], ...]]] = []
    if days.monthdays or days.weekdays or not days.nth:
        rules.append(("daily", tuple(sorted(days.monthdays)), plain))
    if days.nth:
        rules.append(("monthly", (), tuple(sorted(days.nth))))
    return rules


def _row_tuples(row: Row | None) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    if row is None:
        return (), (), ()
    secs, mins, hours = row
    return tuple(sorted(hours)), tuple(sorted(mins)), tuple(sorted(secs))


def time_rows(times: list[Time]) -> list[Row]:
    """Group times of day into as few (seconds, minutes, hours) cross products as possible."""
    by_hour: dict[int, set[tuple[int, int]]] = {}
    for h, m, s in times:
        by_hour.setdefault(h, set()).add((m, s))
    hours_by_key: dict[frozenset[tuple[int, int]], set[int]] = {}
    for h, pairs in by_hour.items():
        hours_by_key.setdefault(frozenset(pairs), set()).add(h)
    rows: list[Row] = []
    for key, hours in hours_by_key.items():
        minutes_by_second: dict[int, set[int]] = {}
        for m, s in key:
            minutes_by_second.setdefault(s, set()).add(m)
        for s, minutes in sorted(minutes_by_second.items()):
            rows.append((frozenset({s}), frozenset(minutes), frozenset(hours)))
    return rows


def cron_text(row: Row, days: Days) -> str:
    """Render one row and its days as a cron expression (6 fields if seconds matter)."""
    secs, mins, hours = row
    positive = {d for d in days.monthdays if d > 0}
    dom = ([_render(positive, 1, 31)] if positive else []) + ["L"] * (-1 in days.monthdays)
    dow = [_render({(d + 1) % 7 for d in days.weekdays}, 0, 6)] if days.weekdays else []
    dow += [f"{(d + 1) % 7}{'L' if n == -1 else f'#{n}'}" for d, n in sorted(days.nth)]
    fields = [
        _render(mins, 0, 59),
        _render(hours, 0, 23),
        "*" if "*" in dom else ",".join(dom) or "*",
        _render(days.months, 1, 12),
        "*" if "*" in dow else ",".join(dow) or "*",
    ]
    return " ".join(fields if secs == {0} else [_render(secs, 0, 59), *fields])


def _render(values: set[int] | frozenset[int], lo: int, hi: int) -> str:
    vals = sorted(values)
    if not vals or vals == list(range(lo, hi + 1)):
        return "*"
    step = vals[1] - vals[0] if len(vals) > 2 else 0
    if step and vals == list(range(vals[0], vals[-1] + 1, step)) and (step == 1 or len(vals) > 3):
        if vals[0] == lo and vals[-1] + step > hi:
            return f"*/{step}"
        return f"{vals[0]}-{vals[-1]}" + (f"/{step}" if step > 1 else "")
    return ",".join(map(str, vals))


def _every(n: int, unit: str) -> str:
    return f"every {unit}" if n == 1 else f"every {n} {unit}s"


def _aligned_description(n: int, unit: str, steps: list[int]) -> str:
    if n == 1:
        return {"day": "Every day at 00:00", "month": "Every month, at 00:00 on the 1st"}.get(
            unit, f"Every {unit}"
        )
    shown = ", ".join(map(str, steps)) if len(steps) <= 6 else f"{steps[0]}, {steps[1]}, …"
    if unit == "month":
        where = f"at 00:00 on the 1st of {_join([MONTH_NAMES[m] for m in steps])}"
    elif unit == "day":
        where = f"at 00:00 on day {shown} of each month"
    else:
        where = f"at {unit} {shown} of each {_ORDER[_ORDER.index(unit) + 1]}"
    return f"{_every(n, unit).capitalize()}, {where}"


def _describe(days: Days, times: list[Time]) -> str:
    parts = []
    if days.monthdays:
        named = [_ordinal(d) for d in sorted(days.monthdays, key=lambda d: d % 32)]
        parts.append(f" on the {_join(named)} day of the month")
    if days.weekdays:
        names = [DAY_NAMES[d] for d in sorted(days.weekdays)]
        both = bool(days.monthdays)  # a weekday AND a day of the month
        parts.append(f" when it is a {_join(names, 'or')}" if both else f" on {_join(names)}")
    if days.nth:
        nths = [f"{_ordinal(n)} {DAY_NAMES[d]}" for d, n in sorted(days.nth)]
        parts.append(f"{' or' if days.monthdays else ''} on the {_join(nths)} of the month")
    if days.months:
        parts.append(f" in {_join([MONTH_NAMES[m] for m in sorted(days.months)])}")
    if times:
        clock = [f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "") for h, m, s in sorted(times)]
        parts.append(f" at {_join(clock)}")
    return "".join(parts)


def _ordinal(n: int) -> str:
    if n == -1:
        return "last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str], last: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"
