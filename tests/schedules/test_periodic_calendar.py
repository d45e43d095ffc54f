"""Stored schedules under a fake clock on every store: month ends, leap years, DST,
downtime and misfire grace. Each occurrence is stored once, as a ``scheduled`` job,
and linked to the previous one by ``rescheduled_from``. Fire times are kept before
today: on PostgreSQL the (real) database clock decides what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st
from periodic_helpers import fire_due, next_fire, occurrences, utc

from conveyor import Conveyor, parse_schedule

TEXTS = [
    "0 3 * * *", "*/15 * * * *", "0 12 L * *", "30 2 * * *", "*/20 * * * * *",
    "every weekday at 9:30 am", "every 90 minutes", "every 2 weeks", "every 3 days",
    "every day at noon and midnight", "on the last day of the month at 23:00",
    "every 2 hours between 9 am and 5 pm", "every 1 second",
    # later.js phrases (LaterPlan)
    "at 10:00 on mon also at 14:00 on fri except of jan", "on the 3rd day instance on fri",
    "every 15 minutes after 9:00 before 17:00 except every weekend",
    "at 2:30 on the 1st day of the week",
]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"]


def run_through(app: Conveyor, schedule_id: str, count: int) -> list[datetime]:
    """Travel to each stored fire time in turn and fire it; returns the fire times."""
    fired = []
    for _ in range(count):
        due = next_fire(app, schedule_id)
        with time_machine.travel(due + timedelta(milliseconds=1), tick=False):
            assert len(fire_due(app)) == 1
        fired.append(due)
    return fired


def assert_chained(app: Conveyor, schedule_id: str) -> None:
    """Every occurrence but the first was rescheduled from the one before it."""
    found = occurrences(app, schedule_id)
    assert [r.rescheduled_from for r in found[1:]] == [r.id for r in found[:-1]]
    assert len({r.run_at for r in found}) == len(found)


def test_last_day_of_the_month_fires_on_each_month_end_including_leap_february(
    app: Conveyor,
) -> None:
    with time_machine.travel(utc(2024, 1, 15), tick=False):
        @app.job(trigger=app.schedule("on the last day of the month at 12:00"))
        def month_end() -> None: ...
        app.sync_schedules()  # as a starting worker does

    fired = run_through(app, "month_end", 4)
    assert fired == [utc(2024, 1, 31, 12), utc(2024, 2, 29, 12), utc(2024, 3, 31, 12),
                     utc(2024, 4, 30, 12)]
    assert next_fire(app, "month_end") == utc(2024, 5, 31, 12)
    assert_chained(app, "month_end")


def test_cron_l_in_a_time_zone_crosses_the_year_end(app: Conveyor) -> None:
    with time_machine.travel(utc(2024, 11, 20), tick=False):
        @app.job(trigger=app.cron("0 23 L * *", tz="America/New_York"))
        def close_books() -> None: ...
        app.sync_schedules()  # as a starting worker does

    fired = run_through(app, "close_books", 3)  # 23:00 EST = 04:00 UTC the next day
    assert fired == [utc(2024, 12, 1, 4), utc(2025, 1, 1, 4), utc(2025, 2, 1, 4)]
    assert_chained(app, "close_books")


def test_february_29_fires_only_in_leap_years(app: Conveyor) -> None:
    with time_machine.travel(utc(2019, 3, 1), tick=False):
        @app.job(trigger=app.cron("0 6 29 2 *"))
        def leap_day() -> None: ...
        app.sync_schedules()  # as a starting worker does

    assert run_through(app, "leap_day", 2) == [utc(2020, 2, 29, 6), utc(2024, 2, 29, 6)]
    assert_chained(app, "leap_day")


def test_every_day_walks_through_a_leap_day(app: Conveyor) -> None:
    with time_machine.travel(utc(2024, 2, 27, 12), tick=False):
        @app.job(trigger=app.every("day at 9:00"))
        def daily() -> None: ...
        app.sync_schedules()  # as a starting worker does

    assert run_through(app, "daily", 4) == [
        utc(2024, 2, 28, 9), utc(2024, 2, 29, 9), utc(2024, 3, 1, 9), utc(2024, 3, 2, 9)]


@pytest.mark.parametrize(("start", "expected"), [
    # 02:30 CET = 01:30 UTC; on March 31 02:30 does not exist: it runs at 03:00 CEST.
    (utc(2024, 3, 29, 12), [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)]),
    # October 27 has 02:30 twice (CEST, then CET): only the first runs.
    (utc(2024, 10, 25, 12),
     [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]),
], ids=["skipped-by-spring-forward", "repeated-by-fall-back"])
def test_a_nightly_time_a_dst_change_skips_or_repeats_runs_once(
    app: Conveyor, start: datetime, expected: list[datetime],
) -> None:
    with time_machine.travel(start, tick=False):
        @app.job(trigger=app.schedule("every day at 2:30", tz="Europe/Paris"))
        def nightly() -> None: ...
        app.sync_schedules()  # as a starting worker does

    assert run_through(app, "nightly", 3) == expected
    assert_chained(app, "nightly")


def test_hourly_across_fall_back_fires_each_real_hour_once(app: Conveyor) -> None:
    with time_machine.travel(utc(2024, 10, 26, 23, 30), tick=False):
        @app.job(trigger=app.every("hour", tz="Europe/Paris"))
        def hourly() -> None: ...
        app.sync_schedules()  # as a starting worker does

    fired = run_through(app, "hourly", 4)
    assert fired == [utc(2024, 10, 27, h) for h in range(0, 4)]
    assert_chained(app, "hourly")


def test_after_downtime_a_missed_occurrence_runs_once_then_the_next_after_now(
    app: Conveyor,
) -> None:
    with time_machine.travel(utc(2024, 6, 1, 10, 5), tick=False):
        @app.job(trigger=app.every("hour"))
        def hourly() -> None: ...
        app.sync_schedules()  # as a starting worker does

    assert next_fire(app, "hourly") == utc(2024, 6, 1, 11)
    with time_machine.travel(utc(2024, 6, 1, 15, 20), tick=False):  # down for 4 hours
        assert len(fire_due(app)) == 1
    assert next_fire(app, "hourly") == utc(2024, 6, 1, 16)
    assert len(occurrences(app, "hourly")) == 2
    assert_chained(app, "hourly")


def test_an_occurrence_later_than_its_misfire_grace_is_skipped_with_the_reason(
    app: Conveyor,
) -> None:
    with time_machine.travel(utc(2024, 6, 1, 10, 5), tick=False):
        @app.job(trigger=app.every("hour", misfire="10 minutes"))
        def hourly() -> None: ...
        app.sync_schedules()  # as a starting worker does

    with time_machine.travel(utc(2024, 6, 1, 11, 30), tick=False):
        assert fire_due(app) == []  # 30 minutes late: skipped
    skipped = occurrences(app, "hourly")[0]
    assert skipped.state == "cancelled" and skipped.error is not None
    assert skipped.error["type"] == "Misfire"
    assert "misfire grace of 600 s" in skipped.error["message"]
    assert next_fire(app, "hourly") == utc(2024, 6, 1, 12)
    with time_machine.travel(utc(2024, 6, 1, 12, 5), tick=False):
        assert len(fire_due(app)) == 1  # 5 minutes late: within the grace
    assert_chained(app, "hourly")


@settings(max_examples=40, deadline=None)
@given(text=st.sampled_from(TEXTS), tz=st.sampled_from(ZONES),
       start=st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2025, 12, 31)))
def test_stored_occurrences_are_the_schedules_own_fire_times(
    text: str, tz: str, start: datetime,
) -> None:
    start = start.replace(tzinfo=UTC)
    with Conveyor("memory://") as app:
        with time_machine.travel(start, tick=False):
            @app.job(trigger=app.schedule(text, tz=tz))
            def job() -> None: ...
            app.sync_schedules()  # as a starting worker does

        expected = parse_schedule(text, tz=tz, anchor=start).next(after=start, count=4)
        assert run_through(app, "job", 4) == expected
        assert_chained(app, "job")
