"""SPEC §6: later.js text read with later.js's meaning, checked against a small model.

Hypothesis writes schedules from later.js phrases (every N <unit> [starting on / between],
at TIME, on DAY, on the Nth day, of MONTH, in YEAR, after/before TIME), in any order and
spelling, and the model computes when they fire: every condition holds, at the start of
each period of the smallest unit named. ``next()`` must give the model's times, in any
zone without daylight saving (the wall clock maps one to one onto UTC there)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import parse_schedule

DAY_NAMES = [
    ("sun", "sunday"),
    ("mon", "monday"),
    ("tue", "tues", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thur", "thurs", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
]
MONTH_NAMES = [
    ("jan", "january"),
    ("feb", "february"),
    ("mar", "march"),
    ("apr", "april"),
    ("may",),
    ("june",),
    ("july",),
    ("aug", "august"),
    ("sept", "september"),
    ("oct", "october"),
    ("nov", "november"),
    ("dec", "december"),
]
UNIT_WORDS = {
    "minute": ("min", "mins", "minute", "minutes"),
    "hour": ("hour", "hours"),
    "day": ("day", "days"),
    "month": ("month", "months"),
}
ZONES = ["UTC", "Asia/Kolkata", "Asia/Tokyo", "America/Sao_Paulo", "Pacific/Kiritimati"]
GRAIN = {"minute": 0, "hour": 1, "day": 2, "month": 3, "year": 4}


def ordinal(n: int) -> str:
    tail = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{tail}"


@dataclass
class Model:
    """A schedule as the sets of values it allows (None: any) and its smallest unit."""

    minutes: set[int] | None = None
    hours: set[int] | None = None
    times: set[tuple[int, int]] | None = None
    after: tuple[int, int] | None = None
    before: tuple[int, int] | None = None
    days: set[int] | None = None
    last_day: bool = False
    weekdays: set[int] | None = None  # 0 = Sunday, as later.js counts
    months: set[int] | None = None
    years: set[int] | None = None
    grain: str = "year"
    parts: list[str] = field(default_factory=list)

    def finer(self, grain: str) -> None:
        if GRAIN[grain] < GRAIN[self.grain]:
            self.grain = grain

    def day_ok(self, d: date) -> bool:
        last = calendar.monthrange(d.year, d.month)[1]
        checks = [
            (self.days, d.day),
            (self.weekdays, (d.weekday() + 1) % 7),
            (self.months, d.month),
            (self.years, d.year),
        ]
        return (
            all(allowed is None or value in allowed for allowed, value in checks)
            and (not self.last_day or d.day == last)
            and (self.grain != "month" or d.day == 1)
            and (self.grain != "year" or (d.month, d.day) == (1, 1))
        )

    def instants(self) -> list[tuple[int, int]]:
        if GRAIN[self.grain] >= GRAIN["day"]:
            return [(0, 0)]
        step = 1 if self.grain == "minute" else 60
        return [(m // 60, m % 60) for m in range(0, 1440, step) if self.time_ok(m // 60, m % 60)]

    def time_ok(self, hour: int, minute: int) -> bool:
        return (
            (self.minutes is None or minute in self.minutes)
            and (self.hours is None or hour in self.hours)
            and (self.times is None or (hour, minute) in self.times)
            and (self.after is None or (hour, minute) >= self.after)
            and (self.before is None or (hour, minute) < self.before)
        )

    def next(self, after: datetime, zone: ZoneInfo, count: int) -> list[datetime]:
        local = after.astimezone(zone)
        found: list[datetime] = []
        day, instants = local.date(), self.instants()
        while instants and len(found) < count and day.year <= local.year + 40:
            if self.day_ok(day):
                for hour, minute in instants:
                    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if when > after and len(found) < count:
                        found.append(when.astimezone(UTC))
            day += timedelta(days=1)
        return found


@st.composite
def every_part(draw: st.DrawFn, model: Model) -> None:
    unit = draw(st.sampled_from(["minute", "hour", "day", "month"]))
    top = {"minute": 59, "hour": 23, "day": 27, "month": 11}[unit]
    first, last = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12)}[unit]
    n = draw(st.integers(1, top))
    word = draw(st.sampled_from(UNIT_WORDS[unit]))
    text = f"every {n} {word}"
    tail = draw(st.sampled_from(["", "starting", "between"])) if unit in {"minute", "hour"} else ""
    if tail == "starting":
        first = draw(st.integers(first, last))
        text += f" starting on the {ordinal(first)} {word}"
    elif tail == "between":
        first = draw(st.integers(first, last))
        last = draw(st.integers(first, last))
        text += f" between the {ordinal(first)} and {ordinal(last)} {word}"
    values = set(range(first, last + 1, n))
    setattr(
        model,
        {"minute": "minutes", "hour": "hours", "day": "days", "month": "months"}[unit],
        values,
    )
    model.finer(unit)
    model.parts.append(text)


def spell_time(draw: st.DrawFn, hour: int, minute: int) -> str:
    if draw(st.booleans()):
        return f"{hour}:{minute:02d}"
    twelve = hour % 12 or 12
    return f"{twelve}:{minute:02d}{draw(st.sampled_from(['', ' ']))}{'am' if hour < 12 else 'pm'}"


@st.composite
def schedules(draw: st.DrawFn) -> Model:
    model = Model()
    if draw(st.booleans()):
        draw(every_part(model))
    clock_free = model.minutes is None and model.hours is None
    if clock_free and draw(st.booleans()):
        times = draw(
            st.lists(
                st.tuples(st.integers(0, 23), st.integers(0, 59)),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        model.times = set(times)
        model.finer("minute")
        model.parts.append("at " + " and ".join(spell_time(draw, h, m) for h, m in times))
    elif not clock_free and draw(st.booleans()):
        # on the grain's own boundaries (later.js fires at the start of a tick that a
        # bound cuts in two: "every 2 hours after 9:30" fires at 10:00 but also 9:00?)
        step = 60 if model.grain == "hour" else 1
        bounds = sorted(
            draw(st.lists(st.integers(0, 1439 // step), min_size=2, max_size=2, unique=True))
        )
        model.after, model.before = divmod(bounds[0] * step, 60), divmod(bounds[1] * step, 60)
        model.parts.append(f"after {spell_time(draw, *model.after)}")
        model.parts.append(f"before {spell_time(draw, *model.before)}")
    if draw(st.booleans()):
        picked = draw(st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True))
        model.weekdays = set(picked)
        model.finer("day")
        model.parts.append("on " + ",".join(draw(st.sampled_from(DAY_NAMES[d])) for d in picked))
    if model.days is None and draw(st.booleans()):
        if draw(st.booleans()):
            model.last_day = True
            model.parts.append("on the last day of the month")
        else:
            picked = draw(st.lists(st.integers(1, 28), min_size=1, max_size=2, unique=True))
            model.days = set(picked)
            model.parts.append("on the " + " and ".join(ordinal(d) for d in picked) + " day")
        model.finer("day")
    if model.months is None and draw(st.booleans()):
        picked = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True))
        model.months = set(picked)
        model.finer("month")
        model.parts.append(
            "of " + ",".join(draw(st.sampled_from(MONTH_NAMES[m - 1])) for m in picked)
        )
    if draw(st.booleans()):
        model.years = set(draw(st.lists(st.integers(2030, 2033), min_size=1, max_size=2)))
        model.parts.append("in " + ",".join(str(y) for y in sorted(model.years)))
    if not model.parts:
        draw(every_part(model))
    model.parts = draw(st.permutations(model.parts))
    return model


@settings(max_examples=100, deadline=None)
@given(
    model=schedules(),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(datetime(2029, 1, 1), datetime(2031, 12, 31), timezones=st.just(UTC)),
    upper=st.booleans(),
)
def test_later_js_text_fires_when_the_model_says(
    model: Model, zone: str, after: datetime, upper: bool
) -> None:
    text = " ".join(model.parts)
    schedule = parse_schedule(text.upper() if upper else text, tz=zone)
    expected = model.next(after, ZoneInfo(zone), 4)
    assert schedule.next(after=after, count=4) == expected, text
