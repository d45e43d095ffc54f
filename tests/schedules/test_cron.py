"""Cron schedules: fields, aliases, names, L and #, time zones and DST, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import ScheduleError
from conveyor.schedules import parse_schedule

PARIS = ZoneInfo("Europe/Paris")


def fires(text: str, after: datetime, count: int = 3, tz: str = "UTC") -> list[str]:
    """The next fire times as wall-clock strings (with UTC offset) in ``tz``."""
    zone = ZoneInfo(tz)
    found = parse_schedule(text, tz=tz).next(after, count)
    return [f"{d.astimezone(zone):%a %Y-%m-%d %H:%M:%S%z}" for d in found]


JAN_1 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def test_five_fields_are_minute_hour_day_month_weekday() -> None:
    assert fires("30 9 * * 1-5", JAN_1, 2) == [
        "Mon 2024-01-01 09:30:00+0000",
        "Tue 2024-01-02 09:30:00+0000",
    ]


def test_six_fields_put_seconds_first() -> None:
    assert fires("15 30 9 * * *", JAN_1, 1) == ["Mon 2024-01-01 09:30:15+0000"]
    assert fires("*/20 * * * * *", JAN_1, 3) == [
        "Mon 2024-01-01 00:00:20+0000",
        "Mon 2024-01-01 00:00:40+0000",
        "Mon 2024-01-01 00:01:00+0000",
    ]


@pytest.mark.parametrize(
    ("alias", "expr"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases_expand_to_their_cron_expression(alias: str, expr: str) -> None:
    schedule = parse_schedule(alias)
    assert (schedule.kind, schedule.cron, schedule.text) == ("cron", expr, alias)


def test_day_and_month_names_are_read() -> None:
    assert fires("0 12 * JAN MON", JAN_1, 2) == [
        "Mon 2024-01-01 12:00:00+0000",
        "Mon 2024-01-08 12:00:00+0000",
    ]
    assert fires("0 12 1 feb,mar *", JAN_1, 2) == [
        "Thu 2024-02-01 12:00:00+0000",
        "Fri 2024-03-01 12:00:00+0000",
    ]


def test_l_is_the_last_day_of_the_month() -> None:
    assert fires("0 0 L * *", datetime(2023, 1, 31, 1, tzinfo=UTC)) == [
        "Tue 2023-02-28 00:00:00+0000",
        "Fri 2023-03-31 00:00:00+0000",
        "Sun 2023-04-30 00:00:00+0000",
    ]


def test_weekday_l_is_the_last_such_weekday_of_the_month() -> None:
    assert fires("0 0 * * 5L", JAN_1, 2) == [
        "Fri 2024-01-26 00:00:00+0000",
        "Fri 2024-02-23 00:00:00+0000",
    ]


def test_hash_is_the_nth_weekday_of_the_month() -> None:
    assert fires("0 9 * * MON#2", JAN_1, 2) == [
        "Mon 2024-01-08 09:00:00+0000",
        "Mon 2024-02-12 09:00:00+0000",
    ]


def test_question_mark_reads_as_star() -> None:
    assert parse_schedule("0 0 ? * MON").cron == "0 0 * * MON"


def test_day_31_skips_shorter_months() -> None:
    assert fires("0 0 31 * *", JAN_1) == [
        "Wed 2024-01-31 00:00:00+0000",
        "Sun 2024-03-31 00:00:00+0000",
        "Fri 2024-05-31 00:00:00+0000",
    ]


def test_february_29_fires_in_leap_years_only() -> None:
    assert fires("0 0 29 2 *", JAN_1) == [
        "Thu 2024-02-29 00:00:00+0000",
        "Tue 2028-02-29 00:00:00+0000",
        "Sun 2032-02-29 00:00:00+0000",
    ]


def test_times_are_read_in_the_schedule_time_zone() -> None:
    assert fires("0 3 * * *", JAN_1, 1, tz="Europe/Paris") == ["Mon 2024-01-01 03:00:00+0100"]
    (first,) = parse_schedule("0 3 * * *", tz="Europe/Paris").next(JAN_1)
    assert first == datetime(2024, 1, 1, 2, 0, tzinfo=UTC)


def test_cron_and_explain_come_from_cronsim() -> None:
    schedule = parse_schedule("0 3 * * *", tz="Europe/Paris")
    assert (schedule.kind, schedule.cron) == ("cron", "0 3 * * *")
    assert schedule.explain() == "At 03:00 every day (Europe/Paris time)"
    assert parse_schedule("0 9 * * MON#2").explain() == "At 09:00 on the second Monday of the month"


# -- daylight saving time (Europe/Paris: 2024-03-31 02:00 -> 03:00, 2024-10-27 03:00 -> 02:00)
# A fixed-time job follows cronsim's Debian-cron rule: a time skipped by spring-forward runs
# once at the first valid minute after the gap (03:00); a time repeated by fall-back runs
# once, at its first (summer-time) occurrence. conveyor applies the same rule to 6-field
# expressions and to English schedules. Jobs with a wildcard minute or hour follow real time.

SPRING = datetime(2024, 3, 29, 12, tzinfo=UTC)
FALL = datetime(2024, 10, 25, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["30 2 * * *", "0 30 2 * * *", "every day at 2:30 am"])
@pytest.mark.parametrize(("start", "expected"), [
    (SPRING, ["Sat 2024-03-30 02:30:00+0100", "Sun 2024-03-31 03:00:00+0200",
              "Mon 2024-04-01 02:30:00+0200"]),
    (FALL, ["Sat 2024-10-26 02:30:00+0200", "Sun 2024-10-27 02:30:00+0200",
            "Mon 2024-10-28 02:30:00+0100"]),
], ids=["spring-forward-day", "fall-back-day"])
def test_daily_0230_in_paris_runs_once_on_a_dst_change_day(
    text: str, start: datetime, expected: list[str]
) -> None:
    assert fires(text, start, 3, tz="Europe/Paris") == expected


def test_times_falling_into_the_same_gap_run_once() -> None:
    assert fires("0,30 2 * * *", datetime(2024, 3, 31, tzinfo=UTC), 2, tz="Europe/Paris") == [
        "Sun 2024-03-31 03:00:00+0200",
        "Mon 2024-04-01 02:00:00+0200",
    ]


def test_after_inside_the_repeated_hour_does_not_fire_the_past_occurrence() -> None:
    second_0215 = datetime(2024, 10, 27, 1, 15, tzinfo=UTC)  # 02:15 winter time
    assert fires("30 2 * * *", second_0215, 1, tz="Europe/Paris") == [
        "Mon 2024-10-28 02:30:00+0100"
    ]


def test_wildcard_minute_jobs_follow_real_time_across_dst() -> None:
    before_fall = datetime(2024, 10, 26, 23, 30, tzinfo=UTC)  # 01:30 summer time
    assert fires("*/30 * * * *", before_fall, 4, tz="Europe/Paris") == [
        "Sun 2024-10-27 02:00:00+0200",
        "Sun 2024-10-27 02:30:00+0200",
        "Sun 2024-10-27 02:00:00+0100",
        "Sun 2024-10-27 02:30:00+0100",
    ]
    before_spring = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)  # 01:30 winter time
    assert fires("*/30 * * * *", before_spring, 2, tz="Europe/Paris") == [
        "Sun 2024-03-31 03:00:00+0200",
        "Sun 2024-03-31 03:30:00+0200",
    ]


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("61 * * * *", 'bad minute field "61"'),
        ("0 24 * * *", 'bad hour field "24"'),
        ("0 0 32 * *", 'bad day-of-month field "32"'),
        ("0 0 1 13 *", 'bad month field "13"'),
        ("0 0 1 FOO *", 'bad month field "FOO"'),
        ("0 0 * * 8", 'bad day-of-week field "8"'),
        ("60 0 0 * * *", 'bad second field "60"'),
        ("0 0 30 2 *", 'bad day-of-month field "30"'),
        ("*/0 * * * *", 'bad minute field "*/0"'),
        (
            "* * *",
            "expected 5 or 6 fields (minute hour day-of-month month day-of-week, "
            "optionally preceded by second), got 3",
        ),
        (
            "* * * * * * *",
            "expected 5 or 6 fields (minute hour day-of-month month "
            "day-of-week, optionally preceded by second), got 7",
        ),
        (
            "@fortnightly",
            'unknown alias "@fortnightly"; aliases: @yearly, @annually, '
            "@monthly, @weekly, @daily, @midnight, @hourly",
        ),
        (
            "@every 5m",
            'unknown alias "@every"; aliases: @yearly, @annually, @monthly, '
            "@weekly, @daily, @midnight, @hourly",
        ),
    ],
)
def test_bad_cron_names_the_field(text: str, detail: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert message.startswith(f'cannot read cron expression "{text}": {detail}; examples: ')
    assert '"0 3 * * *"' in message  # and shows what reads
