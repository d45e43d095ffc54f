"""SPEC §6 timezones: a schedule's times are read in its zone (cron, English and
intervals), through daylight-saving gaps and overlaps in zones of both hemispheres,
half-hour shifts, midnight shifts and a skipped day; fired once per local day as cron
does (a skipped time runs once just after the gap, a repeated one once at its first
occurrence)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.acceptance.blind_surface.support import _next, u


def _local(times: list[datetime], tz: str) -> list[datetime]:
    return [t.astimezone(ZoneInfo(tz)) for t in times]


@pytest.mark.parametrize(("text", "tz", "after", "gap_day", "hour", "minute"), [
    ("30 1 * * *", "Europe/London", u(2030, 3, 29, 12), date(2030, 3, 31), 1, 30),
    ("every day at 2:30 am", "Europe/Paris", u(2030, 3, 29, 12), date(2030, 3, 31), 2, 30),
    ("30 2 * * *", "America/New_York", u(2030, 3, 8, 12), date(2030, 3, 10), 2, 30),
    ("30 2 * * *", "Australia/Sydney", u(2030, 10, 4, 12), date(2030, 10, 6), 2, 30),
    ("15 2 * * *", "Australia/Lord_Howe", u(2030, 10, 4, 12), date(2030, 10, 6), 2, 15),
    ("every day at midnight", "America/Santiago", u(2030, 9, 6, 12), date(2030, 9, 8), 0, 0),
])
def test_a_time_the_spring_change_skips_runs_once_just_after_the_gap(
        text: str, tz: str, after: datetime, gap_day: date, hour: int, minute: int) -> None:
    local = _local(_next(text, after=after, count=4, tz=tz), tz)
    assert [t.date() for t in local] == [gap_day - timedelta(days=1) + timedelta(days=n)
                                         for n in range(4)]
    wall = [(t.hour, t.minute) for t in local]
    assert wall[0] == wall[2] == wall[3] == (hour, minute)
    skipped = local[1]
    assert (skipped.hour, skipped.minute) > (hour, minute)
    assert skipped - skipped.replace(hour=hour, minute=minute) <= timedelta(hours=1)


@pytest.mark.parametrize(("text", "tz", "day", "offset"), [
    ("30 1 * * *", "Europe/London", date(2030, 10, 27), timedelta(hours=1)),
    ("every day at 2:30 am", "Europe/Paris", date(2030, 10, 27), timedelta(hours=2)),
    ("30 1 * * *", "America/New_York", date(2030, 11, 3), timedelta(hours=-4)),
    ("30 2 * * *", "Australia/Sydney", date(2030, 4, 7), timedelta(hours=11)),
    ("45 1 * * *", "Australia/Lord_Howe", date(2030, 4, 7), timedelta(hours=11)),
])
def test_a_time_the_autumn_change_repeats_runs_once_at_its_first_occurrence(
        text: str, tz: str, day: date, offset: timedelta) -> None:
    after = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)) - timedelta(days=1)
    local = _local(_next(text, after=after, count=3, tz=tz), tz)
    assert [t.date() for t in local] == [day + timedelta(days=n) for n in (-1, 0, 1)]
    assert len({(t.hour, t.minute) for t in local}) == 1
    assert local[1].utcoffset() == offset  # the first of the two, still on summer time


def test_a_day_the_zone_skipped_has_no_occurrence() -> None:
    local = _local(_next("0 0 * * *", after=u(2011, 12, 28), count=3, tz="Pacific/Apia"),
                   "Pacific/Apia")
    assert [t.date() for t in local] == [date(2011, 12, 28), date(2011, 12, 29),
                                         date(2011, 12, 31)]


@pytest.mark.parametrize(("tz", "after"), [
    ("Australia/Lord_Howe", u(2030, 4, 6, 12)), ("Australia/Lord_Howe", u(2030, 10, 5, 12)),
    ("Europe/London", u(2030, 10, 26, 23)), ("Asia/Kathmandu", u(2030, 1, 1)),
])
def test_every_15_minutes_keeps_its_pace_in_odd_zones(tz: str, after: datetime) -> None:
    times = _next("every 15 minutes", after=after, count=24, tz=tz)
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(minutes=15)}
    assert all(t.astimezone(ZoneInfo(tz)).minute % 15 == 0 for t in times)


@pytest.mark.parametrize("text", ["every weekday at 9:30 am", "30 9 * * 1-5"])
def test_a_local_time_stays_put_while_its_utc_time_moves(text: str) -> None:
    tz = "America/New_York"
    before = _next(text, after=u(2030, 3, 7), count=2, tz=tz)
    after = _next(text, after=u(2030, 3, 11), count=2, tz=tz)
    assert [t.hour for t in before] == [14, 14] and [t.hour for t in after] == [13, 13]
    assert {(t.hour, t.minute) for t in _local(before + after, tz)} == {(9, 30)}


@pytest.mark.parametrize(("tz", "expected"), [
    ("Pacific/Kiritimati", u(2030, 12, 31, 9, 59)),  # UTC+14
    ("Pacific/Pago_Pago", u(2031, 1, 1, 10, 59)),    # UTC-11
    ("Asia/Kolkata", u(2030, 12, 31, 18, 29)),       # UTC+5:30
])
def test_the_last_minute_of_the_year_in_far_zones(tz: str, expected: datetime) -> None:
    assert _next("59 23 31 12 *", after=u(2030, 6, 1), count=1, tz=tz) == [expected]


def test_an_interval_longer_than_a_day_keeps_its_pace_across_dst() -> None:
    times = _next("every 25 hours", after=u(2030, 3, 1), count=40, tz="Europe/Paris")
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(hours=25)}
