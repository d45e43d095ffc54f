"""later.js phrases conveyor once read differently (later 1.2.0, UTC, first occurrences
strictly after 2013-03-21 03:05:23, computed once with node and hard-coded here)."""

from __future__ import annotations

from datetime import datetime

import pytest

from conveyor.errors import ScheduleError
from conveyor.schedules import parse_schedule

AFTER = datetime.fromisoformat("2013-03-21T03:05:23+00:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on the 59th day of the year", ["2014-02-28T00:00:00", "2015-02-28T00:00:00"]),
        ("on the 40th days of the year", ["2014-02-09T00:00:00", "2015-02-09T00:00:00"]),
        # "every N <unit> between the A and B" for days, months and weeks, as for hours
        ("every 3 days between the 1st and 20th", ["2013-04-01T00:00:00", "2013-04-04T00:00:00"]),
        ("every 2 days between 1st and 9th", ["2013-04-01T00:00:00", "2013-04-03T00:00:00"]),
        ("every 5 days between the 10th and 31st", ["2013-03-25T00:00:00", "2013-03-30T00:00:00",
                                                    "2013-04-10T00:00:00"]),
        ("every 3 days between the 1st and 20th day", ["2013-04-01T00:00:00"]),  # as with hours
        ("every 2 months between the 3rd and 9th", ["2013-05-01T00:00:00", "2013-07-01T00:00:00",
                                                    "2013-09-01T00:00:00", "2014-03-01T00:00:00"]),
        ("every 3 weeks between the 1st and 20th", ["2013-03-25T00:00:00", "2013-04-15T00:00:00",
                                                    "2013-05-06T00:00:00", "2013-12-30T00:00:00"]),
        # a time narrows "every N months|years" to every day at that time, as in later.js
        ("every 2 months at 5:00 pm", ["2013-03-21T17:00:00", "2013-03-22T17:00:00"]),
        ("every 2 months at 9:00 and 17:00", ["2013-03-21T09:00:00", "2013-03-21T17:00:00",
                                              "2013-03-22T09:00:00"]),
        ("every 1 month at 9:00", ["2013-03-21T09:00:00", "2013-03-22T09:00:00"]),
        ("every 1 year at 9:00", ["2013-03-21T09:00:00", "2013-03-22T09:00:00"]),
        ("every 2 years at 5:00 pm", ["2014-01-01T17:00:00", "2014-01-02T17:00:00"]),
        ("every 2 months at 5:00 pm also on mon", ["2013-03-21T17:00:00", "2013-03-22T17:00:00"]),
        ("every 2 months on the 1st day at 9:00", ["2013-05-01T09:00:00", "2013-07-01T09:00:00"]),
        # "every N years" limits the years only: a day filter holds in all of their months
        ("every 2 years on the 15th day", ["2014-01-15T00:00:00", "2014-02-15T00:00:00"]),
        ("every 1 year on mon", ["2013-03-25T00:00:00", "2013-04-01T00:00:00"]),
        ("every 2 years on the last day at 9:00", ["2014-01-31T09:00:00", "2014-02-28T09:00:00"]),
        ("every 2 years of may", ["2014-05-01T00:00:00", "2016-05-01T00:00:00"]),
        ("every 3 years", ["2015-01-01T00:00:00", "2018-01-01T00:00:00"]),
    ],
)
def test_later_js_phrase_fires_when_later_js_fires_it(text: str, expected: list[str]) -> None:
    got = parse_schedule(text).next(AFTER, len(expected))
    assert [m.strftime("%Y-%m-%dT%H:%M:%S") for m in got] == expected


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("on the 366th day of the year", '"366th" at position 3'),  # numbers stop at 59
        ("on the 2th day", 'unknown word "2th" at position 3'),  # a suffix that does not fit
        ("every days at 9:00", 'unexpected word "days" at position 2'),  # as "every hours"
        ("except at 9:00", '"except" at position 1 needs a schedule before it'),  # later.js: never
        ("on the 11st day at 9:00", 'unknown word "11st" at position 3'),
        ("every 2 hours between the 1th and 9th", 'unknown word "1th" at position 6'),
        ("on the day", 'unexpected word "day" at position 3 \\(expected a rank such as "15th"'),
        ("on days at 9:00", 'unexpected word "days" at position 2'),
        ("on the days of the month", 'unexpected word "days" at position 3'),
        ("on the 70th day instance", 'invalid day instance \\(0 to 59\\) "70th" at position 3'),
    ],
)
def test_later_js_mistake_is_an_error_naming_the_word(text: str, word: str) -> None:
    with pytest.raises(ScheduleError, match=word):
        parse_schedule(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # conveyor's own phrasings keep the 1st of the month (docs: extensions)
        ("every month at 9:00", ["2013-04-01T09:00:00", "2013-05-01T09:00:00"]),
        ("every other month at 9:00", ["2013-05-01T09:00:00", "2013-07-01T09:00:00"]),
        ("monthly at 9:00", ["2013-04-01T09:00:00", "2013-05-01T09:00:00"]),
        ("every year at 9:00", ["2014-01-01T09:00:00", "2015-01-01T09:00:00"]),
    ],
)
def test_conveyor_month_phrases_fire_on_the_first(text: str, expected: list[str]) -> None:
    got = parse_schedule(text).next(AFTER, len(expected))
    assert [m.strftime("%Y-%m-%dT%H:%M:%S") for m in got] == expected


def test_a_day_instance_past_the_5th_never_happens() -> None:  # later.js: centuries ahead
    assert parse_schedule("on the 53rd day instance").next(AFTER) == []


def test_every_n_years_at_a_time_explains_itself() -> None:
    assert parse_schedule("every 2 years at 5:00 pm").explain() == (
        "Every 2nd year from 1970, at 17:00"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # a range of names that wraps (docs: extensions), also in later.js's grammar
        ("on fri-sun on the 5th hour", ["2013-03-22T05:00:00", "2013-03-23T05:00:00",
                                        "2013-03-24T05:00:00"]),  # later.js: Saturdays
        ("of nov-feb on the 5th hour", ["2013-11-01T05:00:00", "2013-11-02T05:00:00"]),
        ("on the 5th hour of dec through jan", ["2013-12-01T05:00:00", "2013-12-02T05:00:00"]),
    ],
)
def test_wrapping_ranges_of_names_keep_every_value(
    text: str, expected: list[str]
) -> None:
    got = parse_schedule(text).next(AFTER, len(expected))
    assert [m.strftime("%Y-%m-%dT%H:%M:%S") for m in got] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # later.js skips values of a list written out of order (docs: departures)
        ("on mon,sun on the 5th hour", ["2013-03-24T05:00:00", "2013-03-25T05:00:00",
                                        "2013-03-31T05:00:00"]),  # later.js: Mondays only
        ("on the 20th,5th hour", ["2013-03-21T05:00:00", "2013-03-21T20:00:00",
                                  "2013-03-22T05:00:00"]),  # later.js: 20:00 only
    ],
)
def test_lists_out_of_order_keep_every_value(text: str, expected: list[str]) -> None:
    got = parse_schedule(text).next(AFTER, len(expected))
    assert [m.strftime("%Y-%m-%dT%H:%M:%S") for m in got] == expected
