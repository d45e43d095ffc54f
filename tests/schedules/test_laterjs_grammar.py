"""later.js phrases (also, except, after/before, day instances, years...): meaning,
explanations, storage round trip, time zones and bounded searching."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import ScheduleError
from conveyor.schedules import Schedule, parse_schedule

AFTER = datetime(2027, 3, 1, tzinfo=UTC)  # a Monday, midnight


def fires(text: str, count: int = 4, after: datetime = AFTER, tz: str = "UTC") -> list[str]:
    schedule = parse_schedule(text, tz=tz)
    zone = ZoneInfo(tz)
    return [f"{d.astimezone(zone):%a %Y-%m-%d %H:%M}" for d in schedule.next(after, count)]


def test_also_joins_schedules_and_except_removes_times() -> None:
    assert fires("at 10:00 on mon also at 14:00 on fri") == [
        "Mon 2027-03-01 10:00", "Fri 2027-03-05 14:00", "Mon 2027-03-08 10:00",
        "Fri 2027-03-12 14:00",
    ]  # fmt: skip
    assert fires("at 10:00 except on sat,sun", 6)[-2:] == ["Fri 2027-03-05 10:00",
                                                           "Mon 2027-03-08 10:00"]  # fmt: skip


def test_after_and_before_bound_other_fields() -> None:
    assert fires("every 30 minutes after 9:00am before 10:30am", 4) == [
        "Mon 2027-03-01 09:00", "Mon 2027-03-01 09:30", "Mon 2027-03-01 10:00",
        "Tue 2027-03-02 09:00",
    ]  # fmt: skip


def test_day_instances_years_and_months() -> None:
    assert fires("at 10:15am on Friday on the 3rd day instance", 2) == [
        "Fri 2027-03-19 10:15", "Fri 2027-04-16 10:15"]  # fmt: skip
    assert fires("on the last day instance on fri", 1) == ["Fri 2027-03-26 00:00"]
    assert fires("of may", 2) == ["Sat 2027-05-01 00:00", "Mon 2028-05-01 00:00"]
    assert fires("in 2030", 3) == ["Tue 2030-01-01 00:00"]  # once: a year has one start
    assert fires("on the 15th day of the year at 12:00", 1) == ["Sat 2028-01-15 12:00"]
    assert fires("every 2nd day of the week", 3) == [
        "Tue 2027-03-02 00:00", "Thu 2027-03-04 00:00", "Sat 2027-03-06 00:00"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("at 10:00 on mon also at 14:00 on fri", "At 10:00, on Monday; also at 14:00, on Friday"),
        ("at 10:00 except on sat,sun", "At 10:00; except on Saturday or Sunday"),
        ("every 15 minutes after 9:00 before 17:00",
         "Every 15 minutes, from 09:00 on, before 17:00"),
        ("every 15 minutes starting on the 4th minute",
         "Every 15 minutes from minute 4 to 49 of each hour"),
        ("on the 2nd day instance on tue at 10:00", "On the 2nd Tuesday of the month, at 10:00"),
        ("of may", "At 00:00 on May 1"),
        ("in 2027", "In 2027 at 00:00 on January 1st"),
        ("on the 15th day of the year", "On the 15th day of the year at 00:00"),
        ("on the 10th week of the year",
         "On the 10th week of the year (ISO weeks) at 00:00 on its first day"),
        ("every weekend", "At 00:00 on Sunday and Saturday"),
        ("on the 5 month", "In May at 00:00 on the 1st"),
        ("after 9:00", "Every second, from 09:00 on"),
    ],
)
def test_explain_says_each_construct(text: str, explained: str) -> None:
    assert parse_schedule(text).explain() == explained


def test_later_plans_survive_storage_and_follow_the_time_zone() -> None:
    schedule = parse_schedule("at 9:00 on mon except of jan also at 10:00 in 2030",
                              tz="Europe/Paris")  # fmt: skip
    again = Schedule.from_json(schedule.to_json())
    assert again == schedule
    assert again.next(AFTER, 3) == schedule.next(AFTER, 3)
    assert fires("at 2:30 on sun", 1, datetime(2027, 3, 27, tzinfo=UTC), "Europe/Paris") == [
        "Sun 2027-03-28 03:00"]  # the spring-forward gap: just after it, like cron  # fmt: skip


def test_searches_are_bounded() -> None:
    assert parse_schedule("in 2100").next(AFTER, 3) == []  # past later.js's last year
    assert parse_schedule("on the 30th day of the month of feb and jul").next(AFTER, 1)
    assert parse_schedule("every 1 s except every 1 s").next(AFTER, 2) == []
    assert parse_schedule("in 2027 except in 2027").next(AFTER, 2) == []
    assert len(parse_schedule("after 23:59").next(AFTER, 3)) == 3
    assert parse_schedule("after 53rd week of the month").next(AFTER, 1) == []  # via 2100


def test_also_and_except_with_a_part_that_cannot_be_joined_name_it() -> None:
    with pytest.raises(ScheduleError, match=r'"also" at position 4 joins schedules, '
                       r'but "every 90 minutes" cannot be joined'):  # fmt: skip
        parse_schedule("every 90 minutes also at noon")


def test_also_and_except_join_parts_written_in_either_grammar() -> None:
    assert fires("every day at noon also at 18:00", 3) == [
        "Mon 2027-03-01 12:00", "Mon 2027-03-01 18:00", "Tue 2027-03-02 12:00"]  # fmt: skip
    weekdays = fires("every weekday at 9:30 am except on the 3rd friday", 20)
    assert "Thu 2027-03-18 09:30" in weekdays and "Fri 2027-03-19 09:30" not in weekdays
    assert "Mon 2027-03-22 09:30" in weekdays
    assert fires("on the 3rd friday at 10 am also on the last friday of the month at 4 pm", 2) == [
        "Fri 2027-03-19 10:00", "Fri 2027-03-26 16:00"]  # fmt: skip
    assert parse_schedule("at noon except every weekend").explain() == (
        "At 12:00; except on Saturday or Sunday")
