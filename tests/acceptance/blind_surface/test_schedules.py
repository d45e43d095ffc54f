"""Blind acceptance tests of SPEC §6 (recurring schedules): cron corners, leap days, DST
in named timezones, plain-English phrases, stored occurrences; every store."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, parse_schedule
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_surface.support import (
    AFTER,
    NEW_YORK,
    _next,
    u,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("0 0 29 2 *", [u(2032, 2, 29), u(2036, 2, 29), u(2040, 2, 29)]),
    ("0 0 0 29 2 *", [u(2032, 2, 29), u(2036, 2, 29), u(2040, 2, 29)]),
    ("0 0 31 * *", [u(2030, 1, 31), u(2030, 3, 31), u(2030, 5, 31)]),
    ("@weekly", [u(2030, 1, 6), u(2030, 1, 13), u(2030, 1, 20)]),
    ("@annually", [u(2031, 1, 1), u(2032, 1, 1), u(2033, 1, 1)]),
    ("@midnight", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every 7 minutes", [u(2030, 1, 4, 8, 14), u(2030, 1, 4, 8, 21), u(2030, 1, 4, 8, 28)]),
    ("every 45 seconds", [u(2030, 1, 4, 8, 7, 45), u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 8, 45)]),
    ("every day at 12:00 am", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every day at 12:00 pm", [u(2030, 1, 4, 12), u(2030, 1, 5, 12), u(2030, 1, 6, 12)]),
    ("every saturday, sunday at noon", [u(2030, 1, 5, 12), u(2030, 1, 6, 12),
                                        u(2030, 1, 12, 12)]),
    ("every 2 hours between the 5th and 10th hour",
     [u(2030, 1, 4, 9), u(2030, 1, 5, 5), u(2030, 1, 5, 7)]),
    ("on the 15th day of the year", [u(2030, 1, 15), u(2031, 1, 15), u(2032, 1, 15)]),
    ("at 10:15 am also at 5:00 pm", [u(2030, 1, 4, 10, 15), u(2030, 1, 4, 17),
                                     u(2030, 1, 5, 10, 15)]),
    ("every 5 min", [u(2030, 1, 4, 8, 10), u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 20)]),
    ("every 20 s", [u(2030, 1, 4, 8, 7, 20), u(2030, 1, 4, 8, 7, 40), u(2030, 1, 4, 8, 8)]),
    ("every 10 mins starting on the 5th min", [u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 25),
                                                u(2030, 1, 4, 8, 35)]),
    ("every weekend", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 12)]),
    ("on the last day of the month at 23:59",
     [u(2030, 1, 31, 23, 59), u(2030, 2, 28, 23, 59), u(2030, 3, 31, 23, 59)]),
    ("0 0 13 * 5", [u(2030, 1, 11), u(2030, 1, 13), u(2030, 1, 18)]),  # the 13th OR a Friday
    ("0 0 * * 7", [u(2030, 1, 6), u(2030, 1, 13), u(2030, 1, 20)]),
    ("0 0 1 JAN,jul *", [u(2030, 7, 1), u(2031, 1, 1), u(2031, 7, 1)]),
    ("0 9 * * MON-wed", [u(2030, 1, 7, 9), u(2030, 1, 8, 9), u(2030, 1, 9, 9)]),
    ("5-59/20 8 * * *", [u(2030, 1, 4, 8, 25), u(2030, 1, 4, 8, 45), u(2030, 1, 5, 8, 5)]),
    ("every 2 months", [u(2030, 3, 1), u(2030, 5, 1), u(2030, 7, 1)]),
])
def test_odd_but_valid_schedules(text: str, expected: list[datetime]) -> None:
    assert _next(text) == expected


@pytest.mark.parametrize(("text", "after", "expected"), [
    ("every 7 minutes", u(2030, 1, 4, 8, 50), [u(2030, 1, 4, 8, 56), u(2030, 1, 4, 9),
                                               u(2030, 1, 4, 9, 7)]),  # restarts each hour
    ("every 3 days", u(2030, 1, 29), [u(2030, 1, 31), u(2030, 2, 1), u(2030, 2, 4)]),
    ("on the last day of the month", u(2032, 2, 1), [u(2032, 2, 29), u(2032, 3, 31),
                                                     u(2032, 4, 30)]),
])
def test_schedules_restart_each_period_and_know_leap_years(text: str, after: datetime,
                                                           expected: list[datetime]) -> None:
    assert _next(text, after=after) == expected


def test_cron_fires_once_on_the_day_clocks_fall_back() -> None:
    times = _next("30 1 * * *", after=u(2030, 11, 2, 12), count=3, tz="America/New_York")
    local_dates = [t.astimezone(NEW_YORK).date() for t in times]
    assert len(set(local_dates)) == 3
    assert u(2030, 11, 4, 6, 30) in times  # 1:30 EST
    assert all(t.astimezone(NEW_YORK).hour == 1 for t in times)


def test_cron_in_the_skipped_hour_never_fires_twice_a_day() -> None:
    times = _next("30 2 * * *", after=u(2030, 3, 9, 12), count=3, tz="America/New_York")
    assert times == sorted(set(times))
    assert len({t.astimezone(NEW_YORK).date() for t in times}) == 3
    assert u(2030, 3, 11, 6, 30) in times  # 2:30 EDT the next day


@pytest.mark.parametrize("after", [u(2030, 3, 10, 5), u(2030, 11, 3, 4)])
def test_every_15_minutes_keeps_its_pace_across_dst(after: datetime) -> None:
    times = _next("every 15 minutes", after=after, count=16, tz="America/New_York")
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps == {timedelta(minutes=15)}


def test_next_can_give_many_times_in_order() -> None:
    times = _next("every 1 minute", count=2000)
    assert len(times) == 2000
    assert times == sorted(set(times))
    assert times[-1] - times[0] == timedelta(minutes=1999)


@pytest.mark.parametrize("count", [-1, -100])
def test_a_negative_count_is_refused(count: int) -> None:
    with pytest.raises(ValueError):
        parse_schedule("every day").next(after=AFTER, count=count)


@pytest.mark.parametrize(("text", "word"), [
    ("every mönday", "mönday"),
    ("every day at 9:30 am 🙂", "🙂"),
    ("every 5 fortnights", "fortnights"),
])
def test_unicode_and_unknown_words_are_named(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    assert word in str(caught.value)


@pytest.mark.parametrize("text", [
    "every 0 minutes", "every -5 minutes", "every 0 hours", "*/0 * * * *",
    "every day at 13:00 pm", "every day at 9:60", "0 0 32 * *", "0 0 * 13 *", "@reboot",
    "0 0 * * 8", "0 0 * * FUNDAY", "* * * * * * * *",
])
def test_zero_negative_and_impossible_values_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 4 *"])
def test_a_cron_that_can_never_fire_is_refused_or_gives_nothing(text: str) -> None:
    try:
        schedule = parse_schedule(text)
    except ValueError:
        return
    assert schedule.next(after=AFTER, count=2) == []


def test_an_unknown_timezone_is_a_clear_error() -> None:
    with pytest.raises(Exception) as caught:
        parse_schedule("every day", tz="Mars/Olympus_Mons")
    assert "Mars/Olympus_Mons" in str(caught.value)


def test_a_leap_day_cron_in_a_half_hour_timezone_is_stored_as_scheduled(app: Conveyor) -> None:
    @app.job("nächtlich-é", trigger=app.cron("30 2 29 2 *", tz="Asia/Kolkata"))
    def nightly() -> None: ...

    with FakeClock(app, start=u(2031, 6, 1)) as clock:
        run_until_idle(app, clock=clock)
    records = app.jobs_list(job="nächtlich-é")
    assert [(r.state, r.run_at) for r in records] == [("scheduled", u(2032, 2, 28, 21))]


def test_after_downtime_a_missed_occurrence_runs_once(app: Conveyor) -> None:
    ran: list[int] = []

    @app.job(trigger=app.every("15 minutes"))
    def tick() -> None:
        ran.append(1)

    with FakeClock(app, start=AFTER) as clock:
        run_until_idle(app, clock=clock)
        clock.advance(3, "hours")
        run_until_idle(app, clock=clock)
        pending = [r for r in app.jobs_list(job="tick") if r.state == "scheduled"]
    assert len(ran) == 1
    assert [r.run_at for r in pending] == [u(2030, 1, 4, 11, 15)]


def test_declaring_a_schedule_in_two_apps_does_not_double_it(
        open_app: Callable[..., Conveyor]) -> None:
    apps = [open_app(), open_app()]
    for application in apps:
        @application.job("rapport-日次",
                         trigger=application.schedule("every weekday at 9:30 am"))
        def report() -> None: ...

    for application in apps:
        run_until_idle(application)
    assert len(apps[0].jobs_list(job="rapport-日次", state="scheduled")) == 1


def test_a_run_time_schedule_with_unicode_type_and_data_is_upserted(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.job("café-sync")
    def cafe(data: Any) -> None:
        seen.append(data)

    with FakeClock(app, start=AFTER) as clock:
        for _ in range(2):
            app.schedule_job(type="café-sync", data={"ville": "Zürich"}, schedule="every day")
        app.schedule_job(type="café-sync", data={"ville": "Malmö"}, schedule="every day")
        pending = app.jobs_list(job="café-sync", state="scheduled")
        assert len(pending) == 2
        clock.advance(1, "day")
        run_until_idle(app, clock=clock)
    assert sorted(d["ville"] for d in seen) == ["Malmö", "Zürich"]


def test_a_bad_run_time_schedule_is_refused_and_stores_nothing(app: Conveyor) -> None:
    @app.job
    def nope(data: Any) -> None: ...

    with pytest.raises(ValueError, match="fortnight"):
        app.schedule_job(type="nope", data={}, schedule="every fortnight")
    assert app.jobs_list(job="nope") == []
