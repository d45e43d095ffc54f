"""Plain-English schedules: what each form of the grammar means."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from conveyor.schedules import parse_schedule

ANCHOR = datetime(2024, 1, 3, 10, 17, 33, tzinfo=UTC)  # a Wednesday
AFTER = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday, midnight


def fires(text: str, count: int = 5, after: datetime = AFTER, tz: str = "UTC") -> list[str]:
    """The next ``count`` fire times, as wall-clock strings in ``tz``."""
    schedule = parse_schedule(text, tz=tz, anchor=ANCHOR)
    zone = ZoneInfo(tz)
    return [f"{d.astimezone(zone):%a %Y-%m-%d %H:%M:%S}" for d in schedule.next(after, count)]


def cron_of(text: str) -> str | None:
    return parse_schedule(text, anchor=ANCHOR).cron


# -- intervals ---------------------------------------------------------------------------


def test_every_15_minutes_fires_on_the_quarter_hours() -> None:
    assert fires("every 15 minutes") == [
        "Mon 2024-01-01 00:15:00",
        "Mon 2024-01-01 00:30:00",
        "Mon 2024-01-01 00:45:00",
        "Mon 2024-01-01 01:00:00",
        "Mon 2024-01-01 01:15:00",
    ]


def test_every_minute_singular_fires_each_minute() -> None:
    assert fires("every minute", 2) == ["Mon 2024-01-01 00:01:00", "Mon 2024-01-01 00:02:00"]


def test_every_7_minutes_restarts_each_hour_like_cron() -> None:
    assert fires("every 7 minutes", 3, after=datetime(2024, 1, 1, 0, 50, tzinfo=UTC)) == [
        "Mon 2024-01-01 00:56:00",
        "Mon 2024-01-01 01:00:00",
        "Mon 2024-01-01 01:07:00",
    ]


def test_every_5_hours_restarts_each_day() -> None:
    assert fires("every 5 hours", 6) == [
        "Mon 2024-01-01 05:00:00",
        "Mon 2024-01-01 10:00:00",
        "Mon 2024-01-01 15:00:00",
        "Mon 2024-01-01 20:00:00",
        "Tue 2024-01-02 00:00:00",
        "Tue 2024-01-02 05:00:00",
    ]


def test_every_10_seconds_aligns_within_the_minute() -> None:
    after = datetime(2024, 1, 1, 0, 0, 45, tzinfo=UTC)
    assert fires("every 10 seconds", 3, after=after) == [
        "Mon 2024-01-01 00:00:50",
        "Mon 2024-01-01 00:01:00",
        "Mon 2024-01-01 00:01:10",
    ]


def test_every_3_days_aligns_to_days_of_the_month() -> None:
    after = datetime(2024, 1, 27, tzinfo=UTC)
    assert fires("every 3 days", 3, after=after) == [
        "Sun 2024-01-28 00:00:00",
        "Wed 2024-01-31 00:00:00",
        "Thu 2024-02-01 00:00:00",
    ]


def test_every_2_months_fires_on_the_first_of_odd_months() -> None:
    assert fires("every 2 months", 3) == [
        "Fri 2024-03-01 00:00:00",
        "Wed 2024-05-01 00:00:00",
        "Mon 2024-07-01 00:00:00",
    ]


def test_every_90_minutes_counts_from_the_anchor() -> None:
    assert fires("every 90 minutes", 3, after=ANCHOR) == [
        "Wed 2024-01-03 11:47:00",
        "Wed 2024-01-03 13:17:00",
        "Wed 2024-01-03 14:47:00",
    ]


def test_every_36_hours_counts_from_the_anchor() -> None:
    assert fires("every 36 hours", 2, after=ANCHOR) == [
        "Thu 2024-01-04 22:17:00",
        "Sat 2024-01-06 10:17:00",
    ]


def test_every_2_weeks_counts_from_the_anchor() -> None:
    assert fires("every 2 weeks", 2, after=ANCHOR) == [
        "Wed 2024-01-17 10:17:00",
        "Wed 2024-01-31 10:17:00",
    ]


def test_every_2_weeks_keeps_the_wall_clock_time_across_dst() -> None:
    anchor = datetime(2024, 3, 20, 8, 0, tzinfo=UTC)  # 09:00 in Paris, winter time
    schedule = parse_schedule("every 2 weeks", tz="Europe/Paris", anchor=anchor)
    (first,) = schedule.next(anchor)
    assert first.astimezone(ZoneInfo("Europe/Paris")).hour == 9
    assert first == datetime(2024, 4, 3, 7, 0, tzinfo=UTC)


def test_every_18_months_counts_months_from_the_anchor_month() -> None:
    assert fires("every 18 months", 2, after=ANCHOR) == [
        "Tue 2025-07-01 00:00:00",
        "Fri 2027-01-01 00:00:00",
    ]


def test_every_year_fires_on_new_year() -> None:
    assert fires("every year", 1) == ["Wed 2025-01-01 00:00:00"]


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("every other week", "every 2 weeks"),
        ("every two hours", "every 2 hours"),
        ("hourly", "every hour"),
        ("every 15 mins", "every 15 minutes"),
        ("every 1 minute", "every minute"),
    ],
)
def test_interval_spellings_mean_the_same(text: str, same_as: str) -> None:
    assert fires(text) == fires(same_as)


def test_plain_interval_has_kind_interval_and_no_cron() -> None:
    schedule = parse_schedule("every 15 minutes")
    assert (schedule.kind, schedule.cron) == ("interval", None)


# -- days and times ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every day", "0 0 * * *"),
        ("every weekday", "0 0 * * 1-5"),
        ("every weekend", "0 0 * * 0,6"),
        ("every sunday", "0 0 * * 0"),
        ("every monday and friday at 9:00", "0 9 * * 1,5"),
        ("every monday, wednesday, and friday at 9", "0 9 * * 1,3,5"),
        ("every mon-fri at 8", "0 8 * * 1-5"),
        ("every friday through monday", "0 0 * * 0,1,5,6"),
        ("on tuesdays and thursdays at noon", "0 12 * * 2,4"),
        ("every week on monday", "0 0 * * 1"),
        ("daily at 6", "0 6 * * *"),
    ],
)
def test_days_become_a_cron_day_of_week(text: str, cron: str) -> None:
    assert cron_of(text) == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("at 9:30 am", "30 9 * * *"),
        ("at 9:30 pm", "30 21 * * *"),
        ("at 12 am", "0 0 * * *"),
        ("at 12:15 pm", "15 12 * * *"),
        ("at 17:00", "0 17 * * *"),
        ("at 7:05:30", "30 5 7 * * *"),
        ("at noon", "0 12 * * *"),
        ("at midnight", "0 0 * * *"),
        ("at 3pm", "0 15 * * *"),
        ("at 9 o'clock", "0 9 * * *"),
        ("at 9:30 a.m.", "30 9 * * *"),
        ("at 9:00 and 17:00", "0 9,17 * * *"),
        ("at 9:00, 13:00 and 17:00", "0 9,13,17 * * *"),
    ],
)
def test_times_of_day_become_cron_hours_and_minutes(text: str, cron: str) -> None:
    assert cron_of(text) == cron


def test_times_with_different_minutes_fire_each_exactly() -> None:
    schedule = parse_schedule("at 9:30 and 17:00 every day")
    assert schedule.kind == "rrule"
    assert fires("at 9:30 and 17:00 every day", 3) == [
        "Mon 2024-01-01 09:30:00",
        "Mon 2024-01-01 17:00:00",
        "Tue 2024-01-02 09:30:00",
    ]


@pytest.mark.parametrize(
    "text",
    ["every day at 3pm", "at 3 pm every day", "EVERY DAY AT 3 PM", "Daily at 15:00",
     "every day, at 3 pm", "everyday at 3:00 pm"],
)  # fmt: skip
def test_word_order_case_and_optional_words_do_not_matter(text: str) -> None:
    assert cron_of(text) == "0 15 * * *"


def test_every_weekday_at_930_am_in_a_time_zone() -> None:
    after = datetime(2024, 1, 5, 15, tzinfo=UTC)  # Friday afternoon in New York
    assert fires("every weekday at 9:30 am", 2, after=after, tz="America/New_York") == [
        "Mon 2024-01-08 09:30:00",
        "Tue 2024-01-09 09:30:00",
    ]


# -- days of the month -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("on the 1st", "0 0 1 * *"),
        ("on the 2nd of the month at 8", "0 8 2 * *"),
        ("on the 3rd day of every month", "0 0 3 * *"),
        ("on the 31st", "0 0 31 * *"),
        ("on the last day of the month", "0 0 L * *"),
        ("on the 1st, 15th and last day of the month at noon", "0 12 1,15,L * *"),
        ("on the first monday of the month", "0 0 * * 1#1"),
        ("on the 2nd tuesday at 9", "0 9 * * 2#2"),
        ("on the last friday of the month at 17:00", "0 17 * * 5L"),
        ("on the 1st and the first monday", "0 0 1 * 1#1"),
        ("on the 1st of january and july", "0 0 1 1,7 *"),
        ("the 15th of march through may at 9", "0 9 15 3-5 *"),
        ("every 2 months on the 15th", "0 0 15 */2 *"),
    ],
)
def test_days_of_the_month_become_cron(text: str, cron: str) -> None:
    assert cron_of(text) == cron


def test_on_the_last_day_of_the_month_handles_february_and_leap_years() -> None:
    after = datetime(2023, 1, 31, 12, tzinfo=UTC)
    assert fires("on the last day of the month", 3, after=after) == [
        "Tue 2023-02-28 00:00:00",
        "Fri 2023-03-31 00:00:00",
        "Sun 2023-04-30 00:00:00",
    ]
    assert fires("on the last day of the month", 1, after=datetime(2024, 2, 1, tzinfo=UTC)) == [
        "Thu 2024-02-29 00:00:00"
    ]


def test_on_the_31st_skips_shorter_months() -> None:
    assert fires("on the 31st", 3) == [
        "Wed 2024-01-31 00:00:00",
        "Sun 2024-03-31 00:00:00",
        "Fri 2024-05-31 00:00:00",
    ]


def test_on_the_29th_of_february_fires_in_leap_years_only() -> None:
    assert fires("on the 29th of february at noon", 2) == [
        "Thu 2024-02-29 12:00:00",
        "Tue 2028-02-29 12:00:00",
    ]


def test_weekday_and_day_of_month_must_both_match() -> None:
    schedule = parse_schedule("every friday on the 13th")
    assert schedule.kind == "rrule"
    assert fires("every friday on the 13th", 2) == [
        "Fri 2024-09-13 00:00:00",
        "Fri 2024-12-13 00:00:00",
    ]


# -- between (later.js) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("every 2 hours between 9 am and 5 pm", "0 9-17/2 * * *"),
        ("between 9 am and 5 pm every 2 hours", "0 9-17/2 * * *"),
        ("every 2 hours between the 5th and 10th hour", "0 5,7,9 * * *"),
        ("every 2 hours between 5 and 10", "0 5,7,9 * * *"),
        ("every 2 hours between 9:30 and 17:30", "30 9-17/2 * * *"),
        ("every 3 hours between 10 pm and 4 am", "0 1,4,22 * * *"),
        ("every 5 minutes between the 1st and 30th minute", "1-26/5 * * * *"),
        ("every 15 minutes between 9 am and 5 pm", "*/15 9-16 * * *"),
        ("every 15 minutes between 9 and 5 pm on weekdays", "*/15 9-16 * * 1-5"),
        ("every 15 minutes between the 9th and 17th hour", "*/15 9-17 * * *"),
        ("every 10 seconds between the 0th and 5th minute", "*/10 0-5 * * * *"),
        ("every hour between the 1st and 7th day", "0 * 1-7 * *"),
    ],
)
def test_between_narrows_an_interval(text: str, cron: str) -> None:
    assert cron_of(text) == cron


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("at 10:15 am", "15 10 * * *"),
        ("every weekday", "0 0 * * 1-5"),
        ("on the last day of the month", "0 0 L * *"),
        ("every 2 hours between the 5th and 10th hour", "0 5,7,9 * * *"),
        ("every day at noon", "0 12 * * *"),
        ("every weekday at 9:30 am", "30 9 * * 1-5"),
    ],
)
def test_laterjs_texts_mean_what_they_mean_in_laterjs(text: str, cron: str) -> None:
    assert cron_of(text) == cron


# -- anchored intervals with qualifiers ---------------------------------------------------


def test_every_2_weeks_on_days_at_a_time_alternates_weeks() -> None:
    assert fires("every 2 weeks on monday and friday at 9:00", 4, after=ANCHOR) == [
        "Fri 2024-01-05 09:00:00",
        "Mon 2024-01-15 09:00:00",
        "Fri 2024-01-19 09:00:00",
        "Mon 2024-01-29 09:00:00",
    ]


def test_every_90_minutes_on_weekdays_skips_weekends() -> None:
    after = datetime(2024, 1, 5, 22, 0, tzinfo=UTC)  # Friday night
    assert fires("every 90 minutes on weekdays", 3, after=after) == [
        "Fri 2024-01-05 22:17:00",
        "Fri 2024-01-05 23:47:00",
        "Mon 2024-01-08 01:17:00",
    ]


# -- one-offs ----------------------------------------------------------------------------


def test_once_fires_at_the_anchor_and_then_never() -> None:
    schedule = parse_schedule("once", anchor=ANCHOR)
    assert (schedule.kind, schedule.is_recurring) == ("once", False)
    assert schedule.next(AFTER, 3) == [ANCHOR]
    assert schedule.next(ANCHOR) == []


def test_in_5_minutes_fires_once_five_minutes_after_the_anchor() -> None:
    schedule = parse_schedule("in 5 minutes", anchor=ANCHOR)
    assert schedule.next(ANCHOR, 2) == [datetime(2024, 1, 3, 10, 22, 33, tzinfo=UTC)]
    assert schedule.next(datetime(2024, 1, 3, 10, 22, 33, tzinfo=UTC)) == []


def test_in_2_months_counts_calendar_months() -> None:
    schedule = parse_schedule("in 2 months", anchor=datetime(2024, 12, 31, tzinfo=UTC))
    assert schedule.next(AFTER) == [datetime(2025, 2, 28, tzinfo=UTC)]


# -- explanations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("every 15 minutes", "Every 15 minutes, at minute 0, 15, 30, 45 of each hour"),
        ("every 3 days", "Every 3 days, at 00:00 on day 1, 4, … of each month"),
        ("every hour", "Every hour"),
        ("every 90 minutes", "Every 90 minutes, counted from 2024-01-03 10:17"),
        ("every weekday at 9:30 am", "At 09:30 on Monday through Friday"),
        ("at 9:30 and 17:00", "Every day at 09:30 and 17:00"),
        ("every friday on the 13th", "On the 13th day of the month when it is a Friday"),
        ("on the 2nd on weekends", "On the 2nd day of the month when it is a Saturday or Sunday"),
        ("once", "Once, at 2024-01-03 10:17:33"),
    ],
)
def test_explain_says_it_in_one_sentence(text: str, sentence: str) -> None:
    assert parse_schedule(text, anchor=ANCHOR).explain() == sentence


def test_explain_names_a_time_zone_other_than_utc() -> None:
    schedule = parse_schedule("every day at noon", tz="Europe/Paris")
    assert schedule.explain() == "At 12:00 every day (Europe/Paris time)"


@pytest.mark.parametrize("text", ["every day of may", "every day in may", "daily of may"])
def test_every_day_of_a_month_fires_each_day_of_it(text: str) -> None:
    assert fires(text, 3) == fires("every 1 day of may", 3) == [
        "Wed 2024-05-01 00:00:00", "Thu 2024-05-02 00:00:00", "Fri 2024-05-03 00:00:00"]
