"""SPEC §6, read word by word: every plain-English phrasing the grammar must cover (and
the same text in other case and spacing), cron aliases and fields, and one clear error
that names the unreadable word and shows examples."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, parse_schedule
from tests.acceptance.blind_surface.support import AFTER, _next, u

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@pytest.mark.parametrize(("text", "same_as"), [
    ("every 1 second", "every 1 seconds"), ("every 2 minute", "every 2 minutes"),
    ("every 1 hour", "every 1 hours"), ("every 3 day", "every 3 days"),
    ("every 1 month", "every 1 months"), ("every 1 minute", "* * * * *"),
    ("every 5 hours", "0 */5 * * *"), ("every 2 days", "0 0 */2 * *"),
    ("every 2 months", "0 0 1 */2 *"), ("every day", "@daily"),
    ("every weekday", "0 0 * * 1-5"), ("every weekend", "0 0 * * 6,0"),
    ("at 9:30 am", "30 9 * * *"), ("at 17:00", "0 17 * * *"), ("at noon", "0 12 * * *"),
    ("at midnight", "0 0 * * *"), ("every day at noon", "at 12:00"),
    ("every monday and thursday", "0 0 * * mon,thu"),
    ("every monday, thursday", "0 0 * * 1,4"),
    ("at 9:00 and 17:00", "0 9,17 * * *"), ("at 9:00, 17:00", "0 9,17 * * *"),
    ("at noon and midnight", "0 0,12 * * *"), ("at noon, midnight", "0 0,12 * * *"),
    ("on the 1st day of the month", "@monthly"),
    ("on the last day of the month", "0 0 L * *"),
    ("every weekday at 9:30 am", "30 9 * * 1-5"),
    ("every saturday and sunday at 9:30 am and 5:30 pm", "30 9,17 * * 6,0"),
    ("every wednesday at noon and midnight", "0 0,12 * * 3"),
    ("on the 1st day of the month at 9:30 am", "30 9 1 * *"),
    ("on the last day of the month at midnight", "0 0 L * *"),
    ("every monday, wednesday and friday at 8:00", "0 8 * * 1,3,5"),
    ("every day at 9:00, 12:00 and 18:00", "0 9,12,18 * * *"),
])
def test_each_phrasing_fires_when_its_cron_twin_does(text: str, same_as: str) -> None:
    assert _next(text, count=6) == _next(same_as, count=6)


@pytest.mark.parametrize("day", DAYS)
def test_every_day_of_the_week_by_name(day: str) -> None:
    times = _next(f"every {day}", count=3)
    assert [t.strftime("%A").lower() for t in times] == [day] * 3
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(days=7)] * 2
    at = _next(f"every {day} at 9:30 am", count=2)
    assert [(t.strftime("%A").lower(), t.hour, t.minute) for t in at] == [(day, 9, 30)] * 2


@pytest.mark.parametrize(("variant", "canonical"), [
    ("EVERY MONDAY AT 9:30 AM", "every monday at 9:30 am"),
    ("Every Weekday At Noon", "every weekday at noon"),
    ("  every   15    minutes  ", "every 15 minutes"),
    ("every\tday\tat\tmidnight", "every day at midnight"),
    ("every day\nat 17:00", "every day at 17:00"),
    ("On The Last Day Of The Month", "on the last day of the month"),
    ("every Saturday AND Sunday", "every saturday and sunday"),
    ("at 9:30 AM", "at 9:30 am"),
    ("Every 2 Hours", "every 2 hours"),
    ("0  3 * *  *", "0 3 * * *"),
    ("@DAILY", "@daily"),
    ("0 9 * * MON-FRI", "0 9 * * 1-5"),
    ("0 0 * * 0", "0 0 * * 7"),
])
def test_case_and_spacing_do_not_change_a_schedule(variant: str, canonical: str) -> None:
    assert _next(variant, count=4) == _next(canonical, count=4)


@pytest.mark.parametrize(("text", "expected"), [
    ("0 0 29 2 mon", [u(2030, 2, 4), u(2030, 2, 11), u(2030, 2, 18)]),  # the 29th OR a Monday
    ("0 12 29 2 *", [u(2032, 2, 29, 12), u(2036, 2, 29, 12), u(2040, 2, 29, 12)]),
    ("0 0 L 2 *", [u(2030, 2, 28), u(2031, 2, 28), u(2032, 2, 29)]),
    ("0 0 * * 5#3", [u(2030, 1, 18), u(2030, 2, 15), u(2030, 3, 15)]),
    ("0 0 * * 1#5", [u(2030, 4, 29), u(2030, 7, 29), u(2030, 9, 30)]),
    ("0 0 1,15 * *", [u(2030, 1, 15), u(2030, 2, 1), u(2030, 2, 15)]),
    ("0 8-18/4 * * *", [u(2030, 1, 4, 12), u(2030, 1, 4, 16), u(2030, 1, 5, 8)]),
    ("0 0 0 1 1 *", [u(2031, 1, 1), u(2032, 1, 1), u(2033, 1, 1)]),
    ("*/15 * * * * *", [u(2030, 1, 4, 8, 7, 15), u(2030, 1, 4, 8, 7, 30),
                        u(2030, 1, 4, 8, 7, 45)]),
    ("59 23 31 12 *", [u(2030, 12, 31, 23, 59), u(2031, 12, 31, 23, 59),
                       u(2032, 12, 31, 23, 59)]),
    ("every 2 seconds", [u(2030, 1, 4, 8, 7, 2), u(2030, 1, 4, 8, 7, 4), u(2030, 1, 4, 8, 7, 6)]),
    ("every 3 days", [u(2030, 1, 7), u(2030, 1, 10), u(2030, 1, 13)]),
])
def test_cron_and_interval_corners(text: str, expected: list[datetime]) -> None:
    assert _next(text) == expected


def test_next_is_strictly_after_and_reads_any_aware_after() -> None:
    schedule = parse_schedule("every weekday at 9:30 am")
    assert schedule.next(after=u(2030, 1, 4, 9, 30)) == [u(2030, 1, 7, 9, 30)]
    paris = AFTER.astimezone(ZoneInfo("Europe/Paris"))
    assert [t.astimezone(ZoneInfo("UTC")) for t in schedule.next(after=paris, count=2)] \
        == _next("every weekday at 9:30 am", count=2)
    assert len(schedule.next(after=AFTER, count=5)) == 5


@pytest.mark.parametrize("text", [
    "every 15 minutes", "every 2 weeks", "every weekend at noon", "at noon and midnight",
    "on the last day of the month at 23:59", "0 0 L 2 *", "*/15 * * * * *", "@weekly",
])
def test_explain_gives_a_sentence_for_every_form(text: str) -> None:
    sentence = parse_schedule(text).explain()
    assert isinstance(sentence, str) and len(sentence.split()) >= 2


def _examples(message: str, text: str) -> list[str]:
    """Quoted schedule texts in an error message that parse (the examples it shows)."""
    found = []
    for quoted in re.findall(r'"([^"]+)"', message):
        if quoted.lower() in text.lower():
            continue
        try:
            parse_schedule(quoted)
        except ValueError:
            continue
        found.append(quoted)
    return found


@pytest.mark.parametrize(("text", "word"), [
    ("every 5", "5"),                            # a missing unit
    ("every day at 9:61", "9:61"),               # an impossible time
    ("every day at 13:00 pm", "13:00"),
    ("every day at 24:00", "24:00"),
    ("every blursday", "blursday"),              # an unknown day
    ("at noon of smarch", "smarch"),             # an unknown month
    ("every 3 fortnights", "fortnights"),        # an unknown unit
    ("every day at noon please", "please"),      # an unknown word
    ("on the 32nd day of the month", "32nd"),
    ("60 * * * *", "60"), ("* 24 * * *", "24"), ("* * 0 * *", "0"),
    ("1,,2 * * * *", "1,,2"), ("*/ * * * *", "*/"),
])
def test_a_plain_mistake_names_the_word_and_shows_examples(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert word in message.replace(text, "")
    assert _examples(message, text), message
    assert "\n" not in message


def test_every_takes_an_amount_and_a_unit_or_names_what_it_accepts(sqlite_app: Conveyor) -> None:
    for trigger in (sqlite_app.every(15, "minutes"), sqlite_app.every(timedelta(minutes=15)),
                    sqlite_app.every(900), sqlite_app.every("15 minutes")):
        assert trigger.next(after=AFTER, count=3) == _next("every 15 minutes")
    with pytest.raises(ValueError) as caught:
        sqlite_app.every(1, "fortnight")
    message = str(caught.value)
    assert "fortnight" in message and "minute" in message and "time zone" not in message[:30]
