"""§6 schedule properties over generated instants and zones (no store needed): intervals
align like cron's ``*/N``, keep their pace across DST, and ``next`` continues itself."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import parse_schedule

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
]
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2034, 12, 31), timezones=st.just(UTC)
)
# around the DST changes of 2030 (both hemispheres), where the edge cases live
DST_INSTANTS = st.sampled_from(
    [
        datetime(2030, m, d, tzinfo=UTC)
        for m, d in ((3, 9), (3, 30), (4, 6), (9, 28), (10, 5), (10, 26), (11, 2))
    ]
).flatmap(lambda day: st.integers(0, 48 * 60).map(lambda m: day + timedelta(minutes=m)))
TEXTS = [
    "every 15 minutes",
    "every 7 minutes",
    "every 5 hours",
    "every day at 2:30 am",
    "every weekday at noon",
    "on the last day of the month",
    "0 3 * * *",
    "*/20 * * * * *",
    "every monday and friday at 17:00",
    "@hourly",
    "every 2 hours between 9 am and 5 pm",
]


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([1, 2, 3, 5, 6, 10, 15, 30]),
    zone=st.sampled_from(ZONES),
    after=st.one_of(INSTANTS, DST_INSTANTS),
)
def test_minute_intervals_dividing_half_an_hour_keep_an_exact_pace(
    n: int, zone: str, after: datetime
) -> None:
    times = parse_schedule(f"every {n} minutes", tz=zone).next(after=after, count=6)
    assert after < times[0] <= after + timedelta(minutes=n)
    assert all(b - a == timedelta(minutes=n) for a, b in itertools.pairwise(times))
    for t in times:
        local = t.astimezone(ZoneInfo(zone))
        assert local.minute % n == 0 and local.second == 0 and local.microsecond == 0


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 59), zone=st.sampled_from(ZONES), after=st.one_of(INSTANTS, DST_INSTANTS))
def test_every_n_minutes_fires_like_cron_star_slash_n(n: int, zone: str, after: datetime) -> None:
    english = parse_schedule(f"every {n} minutes", tz=zone).next(after=after, count=5)
    cron = parse_schedule(f"*/{n} * * * *", tz=zone).next(after=after, count=5)
    assert english == cron


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 23), zone=st.sampled_from(ZONES), after=st.one_of(INSTANTS, DST_INSTANTS))
def test_every_n_hours_fires_like_cron_on_the_hour(n: int, zone: str, after: datetime) -> None:
    english = parse_schedule(f"every {n} hours", tz=zone).next(after=after, count=4)
    cron = parse_schedule(f"0 */{n} * * *", tz=zone).next(after=after, count=4)
    assert english == cron


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 59), after=INSTANTS)
def test_every_n_seconds_fires_like_six_field_cron(n: int, after: datetime) -> None:
    english = parse_schedule(f"every {n} seconds").next(after=after, count=5)
    cron = parse_schedule(f"*/{n} * * * * *").next(after=after, count=5)
    assert english == cron


@settings(max_examples=80, deadline=None)
@given(
    text=st.sampled_from(TEXTS),
    zone=st.sampled_from(ZONES),
    after=st.one_of(INSTANTS, DST_INSTANTS),
)
def test_next_continues_itself_strictly_increasing(text: str, zone: str, after: datetime) -> None:
    schedule = parse_schedule(text, tz=zone)
    times = schedule.next(after=after, count=5)
    assert len(times) == 5 and after < times[0]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert schedule.next(after=times[0], count=4) == times[1:]
    assert schedule.next(after=times[2] - timedelta(microseconds=1), count=1) == [times[2]]


@settings(max_examples=60, deadline=None)
@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(ZONES),
    after=st.one_of(INSTANTS, DST_INSTANTS),
)
def test_a_daily_cron_fires_once_per_local_day_at_its_wall_time(
    hour: int, minute: int, zone: str, after: datetime
) -> None:
    times = parse_schedule(f"{minute} {hour} * * *", tz=zone).next(after=after, count=4)
    local = [t.astimezone(ZoneInfo(zone)) for t in times]
    days = [t.date() for t in local]
    assert len(set(days)) == 4 and days == sorted(days)
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))
    on_time = [(t.hour, t.minute) == (hour, minute) for t in local]
    assert sum(on_time) >= 3  # at most one of four days may lose that time to a DST gap
