"""The Schedule API (next, explain, JSON, time zones) and property tests of next()."""

from __future__ import annotations

import calendar
import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.errors import ScheduleError
from conveyor.schedules import Schedule, parse_schedule
from conveyor.schedules.lexer import VOCABULARY

NOON = datetime(2024, 1, 1, 12, 7, 30, tzinfo=UTC)
ANCHOR = datetime(2024, 1, 3, 10, 17, 33, tzinfo=UTC)

def _suffix(day: int) -> str:
    """1st, 2nd, 3rd, 4th... 11th, 12th, 13th... 21st, 22nd, 23rd... 31st."""
    return "th" if day // 10 == 1 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


@time_machine.travel(NOON, tick=False)
def test_next_defaults_to_now() -> None:
    assert parse_schedule("every 15 minutes").next() == [datetime(2024, 1, 1, 12, 15, tzinfo=UTC)]


@time_machine.travel(NOON, tick=False)
def test_anchor_defaults_to_now() -> None:
    schedule = parse_schedule("every 90 minutes")
    assert schedule.next() == [datetime(2024, 1, 1, 13, 37, tzinfo=UTC)]


@time_machine.travel(NOON, tick=False)
def test_once_defaults_to_now_and_in_counts_from_now() -> None:
    assert parse_schedule("once").next(NOON - timedelta(seconds=1)) == [NOON]
    assert parse_schedule("in 2 hours").next() == [NOON + timedelta(hours=2)]


def test_naive_after_is_read_as_utc() -> None:
    schedule = parse_schedule("0 3 * * *", tz="Europe/Paris")
    assert schedule.next(datetime(2024, 1, 1)) == schedule.next(datetime(2024, 1, 1, tzinfo=UTC))


def test_aware_after_in_another_zone_is_the_same_instant() -> None:
    schedule = parse_schedule("every hour")
    after = datetime(2024, 1, 1, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    assert schedule.next(after) == [datetime(2024, 1, 1, 15, 0, tzinfo=UTC)]


def test_next_is_strictly_after_an_occurrence() -> None:
    schedule = parse_schedule("every 15 minutes")
    at_quarter = datetime(2024, 1, 1, 12, 15, tzinfo=UTC)
    assert schedule.next(at_quarter) == [datetime(2024, 1, 1, 12, 30, tzinfo=UTC)]


def test_next_returns_count_results_in_utc() -> None:
    found = parse_schedule("every day at 9", tz="Asia/Kolkata").next(NOON, count=3)
    assert [d.tzinfo for d in found] == [UTC, UTC, UTC]
    assert found[0] == datetime(2024, 1, 2, 3, 30, tzinfo=UTC)


def test_next_with_count_zero_is_empty() -> None:
    assert parse_schedule("every minute").next(NOON, count=0) == []


@pytest.mark.parametrize("count", [-1, 1.5, "2", None, True])
def test_next_refuses_a_count_that_is_not_a_whole_number(count: object) -> None:
    with pytest.raises(ScheduleError, match="invalid count"):
        parse_schedule("every minute").next(NOON, count=count)  # type: ignore[arg-type]


def test_next_refuses_an_after_that_is_not_a_datetime() -> None:
    with pytest.raises(ScheduleError, match="invalid after"):
        parse_schedule("every minute").next("2030-01-01")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["0 0 * * *", "every 90 minutes", "at 9:30 and 17:00"])
def test_next_stops_at_the_end_of_the_calendar(text: str) -> None:
    # Anchored at midnight so "every 90 minutes" has no fire time in the last hour of 9999.
    schedule = parse_schedule(text, anchor=datetime(2024, 1, 1, tzinfo=UTC))
    assert schedule.next(datetime(9999, 12, 31, 23, tzinfo=UTC), count=2) == []


@pytest.mark.parametrize(
    ("text", "kind", "cron"),
    [
        ("0 3 * * *", "cron", "0 3 * * *"),
        ("@weekly", "cron", "0 0 * * 0"),
        ("every weekday at 9:30 am", "cron", "30 9 * * 1-5"),
        ("every 15 minutes", "interval", None),
        ("every 2 weeks", "interval", None),
        ("at 9:30 and 17:00", "rrule", None),
        ("every 2 weeks on monday", "rrule", None),
        ("in 5 minutes", "once", None),
    ],
)
def test_kind_and_cron_property(text: str, kind: str, cron: str | None) -> None:
    schedule = parse_schedule(text)
    assert (schedule.kind, schedule.cron, schedule.is_recurring) == (kind, cron, kind != "once")


def test_tz_defaults_to_utc_in_any_spelling() -> None:
    assert parse_schedule("every day").tz == "UTC"
    assert parse_schedule("every day", tz="utc").tz == "UTC"


@pytest.mark.parametrize("tz", ["Mars/Olympus", "Europe", "", "../etc/passwd"])
def test_unknown_time_zone_is_named(tz: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("every day", tz=tz)
    assert str(caught.value) == (
        f'unknown time zone "{tz}"; use an IANA name such as "Europe/Paris" or "UTC"'
    )


def test_repr_shows_text_zone_and_kind() -> None:
    schedule = parse_schedule("every day", tz="Europe/Paris")
    assert repr(schedule) == "Schedule('every day', tz='Europe/Paris', kind='cron')"


# -- JSON ----------------------------------------------------------------------------------

ROUND_TRIP_TEXTS = [
    "0 3 * * *",
    "15 30 2 * * *",
    "@monthly",
    "every weekday at 9:30 am",
    "every 15 minutes",
    "every 10 seconds",
    "every 90 minutes",
    "every 2 weeks",
    "every 18 months",
    "at 9:30 and 17:00",
    "every friday on the 13th",
    "on the 1st and the first monday",
    "every 2 weeks on monday and friday at 9:00",
    "every 90 minutes on weekdays",
    "once",
    "in 5 minutes",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_json_round_trip_keeps_the_schedule(text: str) -> None:
    schedule = parse_schedule(text, tz="Europe/Paris", anchor=ANCHOR)
    stored = json.loads(json.dumps(schedule.to_json()))
    loaded = Schedule.from_json(stored)
    assert loaded == schedule
    assert (loaded.text, loaded.tz, loaded.kind, loaded.cron) == (
        schedule.text, schedule.tz, schedule.kind, schedule.cron,
    )  # fmt: skip
    assert loaded.explain() == schedule.explain()
    assert loaded.next(NOON, 5) == schedule.next(NOON, 5)


def test_json_of_an_anchor_free_schedule_does_not_depend_on_creation_time() -> None:
    first = parse_schedule("every 15 minutes", anchor=NOON).to_json()
    assert parse_schedule("every 15 minutes", anchor=ANCHOR).to_json() == first


def test_json_of_an_anchored_schedule_records_its_start() -> None:
    assert parse_schedule("every 90 minutes", anchor=ANCHOR).to_json()["plan"] == {
        "start": "2024-01-03T10:17:00+00:00",
        "every_seconds": 5400.0,
    }


GOOD = {"version": 1, "text": "x", "tz": "UTC", "kind": "cron", "description": "x",
        "plan": {"cron": "0 3 * * *"}}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"text": None}, ": wrong field types"),
        ({"version": 2}, ": unknown version or kind"),
        ({"kind": "sometimes"}, ": unknown version or kind"),
        ({"tz": "Mars/Olympus"}, None),
        ({"plan": {"at": "2024-01-01T00:00:00"}}, None),
        ({"plan": {"cron2": "x"}}, None),
    ],
)
def test_from_json_rejects_malformed_data(change: dict[str, Any], detail: str | None) -> None:
    data = GOOD | change
    with pytest.raises(ScheduleError) as caught:
        Schedule.from_json(data)
    message = str(caught.value)
    if detail is not None:
        assert message == f"cannot load schedule from {data!r}{detail}"
    elif "tz" in change:
        assert message.startswith('unknown time zone "Mars/Olympus"')
    else:
        plan = change["plan"]
        reason = "'2024-01-01T00:00:00' has no UTC offset" if "at" in plan else "unknown plan"
        assert message == f"cannot load schedule plan {plan!r}: {reason}"


def test_from_json_names_a_missing_field() -> None:
    data = {k: v for k, v in GOOD.items() if k != "plan"}
    with pytest.raises(ScheduleError) as caught:
        Schedule.from_json(data)
    assert str(caught.value) == f"cannot load schedule from {data!r}: missing 'plan'"


# -- properties of next() ---------------------------------------------------------------------

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
Check = Callable[[datetime], bool]  # receives each fire time in the schedule's zone


def at_wall_clock(local: datetime, hour: int, minute: int) -> bool:
    """The fire time shows hour:minute, or that time did not exist that day (DST gap)."""
    if (local.hour, local.minute, local.second) == (hour, minute, 0):
        return True
    wanted = local.replace(hour=hour, minute=minute, second=0, tzinfo=None)
    zone = local.tzinfo
    assert isinstance(zone, ZoneInfo)
    real = wanted.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return real != wanted and local.date() == wanted.date()


@st.composite
def aligned_intervals(draw: st.DrawFn) -> tuple[str, Check]:
    unit = draw(st.sampled_from(["second", "minute", "hour", "day", "month"]))
    n = draw(st.integers(1, {"second": 60, "minute": 60, "hour": 24, "day": 27, "month": 12}[unit]))
    text = f"every {n} {unit}{'s' if n > 1 else ''}"
    checks: dict[str, Check] = {
        "second": lambda d: d.second % n == 0,
        "minute": lambda d: d.minute % n == 0 and d.second == 0,
        "hour": lambda d: d.hour % n == 0 and (d.minute, d.second) == (0, 0),
        "day": lambda d: (d.day - 1) % n == 0 and at_wall_clock(d, 0, 0),
        "month": lambda d: (d.month - 1) % n == 0 and d.day == 1 and at_wall_clock(d, 0, 0),
    }
    return text, checks[unit]


def _time_text(hour: int, minute: int, twelve: bool) -> str:
    if not twelve:
        return f"{hour}:{minute:02d}"
    return f"{(hour - 1) % 12 + 1}:{minute:02d} {'pm' if hour >= 12 else 'am'}"


@st.composite
def days_at_times(draw: st.DrawFn) -> tuple[str, Check]:
    names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    days = draw(st.just(set(range(5))) | st.sets(st.integers(0, 6), min_size=1, max_size=7))
    times = draw(st.sets(st.tuples(st.integers(0, 23), st.integers(0, 59)), min_size=1, max_size=3))
    twelve = draw(st.booleans())
    said_times = " and ".join(_time_text(h, m, twelve) for h, m in sorted(times))
    spellings = [", ".join(names[d] for d in sorted(days))]
    spellings += ["weekday"] if days == set(range(5)) else []
    said_days = draw(st.sampled_from(spellings))
    text = draw(st.sampled_from([f"every {said_days} at {said_times}",
                                 f"at {said_times} every {said_days}"]))  # fmt: skip
    return text, lambda d: d.weekday() in days and any(at_wall_clock(d, h, m) for h, m in times)


@st.composite
def days_of_month(draw: st.DrawFn) -> tuple[str, Check]:
    days = draw(st.sets(st.integers(1, 31) | st.just(-1), min_size=1, max_size=3))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    said = " and ".join("last" if d == -1 else f"{d}{_suffix(d)}" for d in sorted(days))

    def check(d: datetime) -> bool:
        last = calendar.monthrange(d.year, d.month)[1]
        return (d.day in days or (-1 in days and d.day == last)) and at_wall_clock(d, hour, minute)

    return f"on the {said} day of the month at {hour}:{minute:02d}", check


@st.composite
def cron_texts(draw: st.DrawFn) -> tuple[str, Check]:
    minute, hour = draw(st.integers(0, 59)), draw(st.integers(0, 23))
    weekdays = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))  # cron: 0 = Sunday
    text = f"{minute} {hour} * * {','.join(map(str, sorted(weekdays)))}"
    return text, lambda d: (d.isoweekday() % 7) in weekdays and at_wall_clock(d, hour, minute)


@st.composite
def anchored_intervals(draw: st.DrawFn) -> tuple[str, Check]:
    n = draw(st.integers(61, 5000))
    start = ANCHOR.replace(second=0)
    return f"every {n} minutes", lambda d: (d - start) % timedelta(minutes=n) == timedelta(0)


@st.composite
def anchored_weeks(draw: st.DrawFn) -> tuple[str, Check]:
    n = draw(st.integers(1, 8))

    def check(d: datetime) -> bool:
        zone = d.tzinfo
        assert isinstance(zone, ZoneInfo)
        start = ANCHOR.astimezone(zone)
        weeks_apart = (d.date() - start.date()).days % (7 * n) == 0
        return weeks_apart and at_wall_clock(d, start.hour, start.minute)

    return f"every {n} weeks", check


SCHEDULES = st.one_of(aligned_intervals(), days_at_times(), days_of_month(), cron_texts(),
                      anchored_intervals(), anchored_weeks())  # fmt: skip
AFTERS = st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(case=SCHEDULES, tz=st.sampled_from(ZONES), after=AFTERS)
def test_next_fires_after_in_order_and_as_defined(
    case: tuple[str, Check], tz: str, after: datetime
) -> None:
    text, matches = case
    schedule = parse_schedule(text, tz=tz, anchor=ANCHOR)
    found = schedule.next(after, count=5)
    assert len(found) == 5
    assert all(d.tzinfo is UTC for d in found)
    assert found[0] > after
    assert all(a < b for a, b in itertools.pairwise(found))
    zone = ZoneInfo(tz)
    assert all(matches(d.astimezone(zone)) for d in found), [str(d.astimezone(zone)) for d in found]


@settings(max_examples=100, deadline=None)
@given(case=SCHEDULES, tz=st.sampled_from(ZONES), after=AFTERS)
def test_next_chains_without_skipping(case: tuple[str, Check], tz: str, after: datetime) -> None:
    schedule = parse_schedule(case[0], tz=tz, anchor=ANCHOR)
    three = schedule.next(after, count=3)
    assert schedule.next(three[0], count=2) == three[1:]


@settings(max_examples=100, deadline=None)
@given(case=SCHEDULES, tz=st.sampled_from(ZONES), after=AFTERS)
def test_json_round_trip_keeps_next(case: tuple[str, Check], tz: str, after: datetime) -> None:
    schedule = parse_schedule(case[0], tz=tz, anchor=ANCHOR)
    loaded = Schedule.from_json(json.loads(json.dumps(schedule.to_json())))
    assert loaded.next(after, count=3) == schedule.next(after, count=3)


WORDS = [*sorted(VOCABULARY), "0", "2", "15", "90", "1st", "31st", "9:30", "25:00", "3pm", "x", "*"]


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=7), after=AFTERS)
def test_any_text_either_parses_into_a_working_schedule_or_raises_schedule_error(
    words: list[str], after: datetime
) -> None:
    try:
        schedule = parse_schedule(" ".join(words), tz="Europe/Paris", anchor=ANCHOR)
    except ScheduleError:
        return
    found = schedule.next(after, count=3)
    assert all(a < b for a, b in itertools.pairwise([after, *found]))
    assert schedule.explain()
    assert Schedule.from_json(schedule.to_json()) == schedule
