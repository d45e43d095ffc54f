"""Plain-English schedules: every error message names the first word it could not read."""

from __future__ import annotations

import pytest

from conveyor.errors import ScheduleError
from conveyor.schedules import Schedule, parse_schedule

EXAMPLES = '; examples: "every 15 minutes", "every weekday at 9:30 am", "0 3 * * *"'


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("every blursday", 'unknown word "blursday" at position 2'),
        ("every 15 minutes please", 'unknown word "please" at position 4'),
        ("at 3pm on blursday and frobday", 'unknown word "blursday" at position 4'),
        ("", "it is empty"),
        (
            "every",
            'it ends too early, after "every" (expected a number, a unit such as '
            '"minutes" or a day such as "monday")',
        ),
        (
            "at",
            'it ends too early, after "at" (expected a time such as "9:30 am", "17:00" or "noon")',
        ),
        (
            "every at 9",
            'unexpected word "at" at position 2 (expected a number, a unit such as '
            '"minutes" or a day such as "monday")',
        ),
        (
            "every 5 mondays",
            'unexpected word "mondays" at position 3 (expected a unit such '
            'as "minutes", "hours" or "days")',
        ),
        (
            "every day and",
            'unexpected word "and" at position 3 (expected "every", "at", "on" '
            'or a day such as "monday")',
        ),
        ("once at 9", 'unexpected word "at" at position 2 (expected the end of the schedule)'),
        (
            "every monday through",
            'it ends too early, after "through" (expected a day such as "friday")',
        ),
        (
            "on june",
            'unexpected word "june" at position 2 (expected a day such as "monday" or "the 1st")',
        ),
        ("of the", 'it ends too early, after "the" (expected a month such as "january")'),
        (
            "every 2 hours between 9",
            'it ends too early, after "9" (expected "and" followed by the end of the range)',
        ),
        (
            "every 2 hours between 9 and",
            'it ends too early, after "and" (expected a time such '
            'as "9 am" or a rank such as "5th")',
        ),
        ("every 0 minutes", '"0" at position 2 must be at least 1'),
        ("at 25:00", 'invalid time "25:00" at position 2'),
        ("at 13 pm", 'invalid time "13" at position 2'),
        ("every 2 hours between 9 and 25 pm", 'invalid time "25" at position 7'),
        ("every 2 hours between the 5th and 9 pm", 'invalid time "5th" at position 6'),
        ("on the 32nd", 'invalid day of the month "32nd" at position 3'),
        ("on the 6th monday", 'invalid week of the month "6th" at position 3'),
        (
            "every day at 9 and every friday",
            '"every friday" at position 6 repeats the days already given by "every day"',
        ),
        ("at 9 every day at 10", '"at 10" at position 5 repeats the times already given by "at 9"'),
        (
            "every 15 minutes at 9:00",
            '"at 9:00" at position 4 cannot be combined with "every 15 minutes"',
        ),
        (
            "every 90 minutes at 9:00",
            '"at 9:00" at position 4 cannot be combined with "every 90 minutes"',
        ),
        (
            "every 3 days between 9 and 17",
            '"between 9 and 17" at position 4 cannot be combined with "every 3 days"',
        ),
        (
            "every 3 days on the 1st",
            '"on the 1st" at position 4 cannot be combined with "every 3 days"',
        ),
        (
            "every 2 months in june",
            '"in june" at position 4 cannot be combined with "every 2 months"',
        ),
        (
            "every 2 weeks on the 1st",
            '"on the 1st" at position 4 cannot be combined with "every 2 weeks"',
        ),
        (
            "every 30 days on monday",
            '"on monday" at position 4 cannot be combined with "every 30 days"',
        ),
        (
            "every 90 minutes between 9 and 17",
            '"between 9 and 17" at position 4 cannot be combined with "every 90 minutes"',
        ),
        (
            "every monday on the first friday",
            '"on the first friday" at position 3 cannot be combined with "every monday"',
        ),
        (
            "every 2 hours between the 5th and 10th second",
            '"between the 5th and 10th second" '
            "at position 4 cannot be combined "
            'with "every 2 hours"',
        ),
        (
            "every hour between the 1st and 7th day on the 2nd",
            '"between the 1st and 7th day" at position 3 cannot be combined with "on the 2nd"',
        ),
        (
            "between 9 and 5",
            '"between 9 and 5" at position 1 needs an interval such as "every 2 hours"',
        ),
        (
            "every 5 minutes between the 10th and 5th minute",
            '"between the 10th and 5th '
            'minute" at position 4 is not a '
            "range of minutes from 0 to 59",
        ),
        (
            "every 15 minutes between 9:30 and 17:00",
            '"between 9:30 and 17:00" at position 4 '
            'needs whole hours here, e.g. "between 9 '
            'am and 5 pm"',
        ),
        ("on the 30th of february", '"on the 30th" at position 1 never happens in February'),
        ("every 99999999999999999999 seconds",
         '"99999999999999999999" at position 2 must be at most 1000000000'),
        ("every 1000000001 hours", '"1000000001" at position 2 must be at most 1000000000'),
    ],
)
def test_unreadable_english_names_the_problem_and_shows_examples(text: str, detail: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert str(caught.value) == f'cannot read schedule "{text}": {detail}{EXAMPLES}'


def test_error_quotes_the_text_with_whitespace_collapsed() -> None:
    with pytest.raises(ScheduleError, match='"every blursday": unknown word "blursday"'):
        parse_schedule("  every\tblursday ")


def test_schedule_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="blursday"):
        parse_schedule("every blursday")


def test_parse_schedule_returns_a_schedule() -> None:
    assert isinstance(parse_schedule("every day"), Schedule)
