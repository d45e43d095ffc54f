"""SPEC §6: cron strings (5 fields, or 6 with seconds first) fire when a brute-force model
of cron says: each field a list of values, ranges and steps (names for months and days,
7 = Sunday), the day of the month and the day of the week OR-ed when both are restricted
(Vixie cron), in zones without daylight saving. ``app.cron`` stores the model's first
fire time as the ``scheduled`` occurrence on every store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, parse_schedule
from conveyor.testing import FakeClock, run_until_idle

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham", "America/Bogota"]


@dataclass
class Field:
    text: str
    values: set[int]
    star: bool  # starts with "*": unrestricted for the day-of-month / day-of-week rule


@st.composite
def fields(
    draw: st.DrawFn, low: int, high: int, names: list[str] | None = None, top: int | None = None
) -> Field:
    """One cron field over ``low..high``: ``*``, ``*/s``, or a list of items up to ``top``
    (days of the month: 28, so that every month has them)."""
    kind = draw(st.sampled_from(["star", "step", "list"]))
    if kind == "star":
        return Field("*", set(range(low, high + 1)), True)
    if kind == "step":
        s = draw(st.integers(1, high - low + 1))
        return Field(f"*/{s}", set(range(low, high + 1, s)), True)
    parts, values, high = [], set(), top or high
    for _ in range(draw(st.integers(1, 3))):
        a = draw(st.integers(low, high))
        shape = draw(st.sampled_from(["one", "range", "rangestep"]))
        name = names is not None and draw(st.booleans())

        def spell(v: int, name: bool = name) -> str:
            if not (name and names) or v == 7:  # "sat-7": 7 is Sunday only as a number
                return str(v)
            return names[v - (1 if len(names) == 12 else 0)]

        if shape == "one":
            parts.append(spell(a))
            values.add(a)
            continue
        b = draw(st.integers(a, high))
        step = draw(st.integers(1, max(1, b - a))) if shape == "rangestep" else 1
        parts.append(f"{spell(a)}-{spell(b)}" + (f"/{step}" if shape == "rangestep" else ""))
        values |= set(range(a, b + 1, step))
    return Field(",".join(parts), values, False)


@dataclass
class Cron:
    seconds: Field | None
    minute: Field
    hour: Field
    dom: Field
    month: Field
    dow: Field

    @property
    def text(self) -> str:
        parts = [self.minute, self.hour, self.dom, self.month, self.dow]
        return " ".join(f.text for f in ([self.seconds] if self.seconds else []) + parts)

    def day_ok(self, d: date) -> bool:
        if d.month not in self.month.values:
            return False
        in_dom = d.day in self.dom.values
        in_dow = (d.isoweekday() % 7) in {v % 7 for v in self.dow.values}
        if self.dom.star or self.dow.star:
            return in_dom and in_dow
        return in_dom or in_dow

    def next(self, after: datetime, zone: ZoneInfo, count: int) -> list[datetime]:
        local = after.astimezone(zone)
        seconds = sorted(self.seconds.values) if self.seconds else [0]
        found: list[datetime] = []
        day = local.date()
        while len(found) < count and day.year <= local.year + 30:
            if self.day_ok(day):
                for h in sorted(self.hour.values):
                    for m in sorted(self.minute.values):
                        for s in seconds:
                            when = datetime(day.year, day.month, day.day, h, m, s, tzinfo=zone)
                            if when > after and len(found) < count:
                                found.append(when.astimezone(UTC))
            day += timedelta(days=1)
        return found


@st.composite
def crons(draw: st.DrawFn) -> Cron:
    seconds = draw(st.none() | fields(0, 59))
    return Cron(
        seconds,
        draw(fields(0, 59)),
        draw(fields(0, 23)),
        draw(fields(1, 31, top=28)),
        draw(fields(1, 12, MONTHS)),
        draw(fields(0, 7, DAYS)),
    )


@settings(max_examples=60, deadline=None)
@given(
    cron=crons(),
    zone=st.sampled_from(ZONES),
    after=st.datetimes(datetime(2028, 1, 1), datetime(2032, 12, 31), timezones=st.just(UTC)),
)
def test_a_cron_string_fires_when_the_model_says(cron: Cron, zone: str, after: datetime) -> None:
    expected = cron.next(after, ZoneInfo(zone), 3)
    assert parse_schedule(cron.text, tz=zone).next(after=after, count=3) == expected, cron.text


def test_the_stored_occurrence_is_the_models_first(app: Conveyor) -> None:
    text = "15,45 8-18/5 1,15 jan,jul mon-fri"
    cron = Cron(
        None,
        Field("", {15, 45}, False),
        Field("", {8, 13, 18}, False),
        Field("", {1, 15}, False),
        Field("", {1, 7}, False),
        Field("", {1, 2, 3, 4, 5}, False),
    )
    start = datetime(2031, 2, 1, tzinfo=UTC)
    first = cron.next(start, ZoneInfo("Asia/Kolkata"), 2)

    @app.job("tick", trigger=app.cron(text, tz="Asia/Kolkata"))
    def tick() -> None: ...

    with FakeClock(app, start=start) as clock:
        run_until_idle(app, clock=clock)
        assert [r.run_at for r in app.jobs_list(job="tick", state="scheduled")] == first[:1]
        clock.advance((first[0] - start).total_seconds(), "seconds")
        run_until_idle(app, clock=clock)
    runs = sorted(app.jobs_list(job="tick"), key=lambda r: r.id)
    assert [(r.state, r.run_at) for r in runs] == [("completed", first[0]), ("scheduled", first[1])]
    assert runs[1].rescheduled_from == runs[0].id
