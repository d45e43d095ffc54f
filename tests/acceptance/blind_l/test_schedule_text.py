"""§6 parse_schedule: alignment, times of day, month ends, cron forms, a zone, and errors
(the DST gap and fold are covered by blind_f/test_timezones.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor import parse_schedule

PARIS = ZoneInfo("Europe/Paris")
FRIDAY = datetime(2031, 1, 3, 10, 7, 30, tzinfo=UTC)


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("every 15 minutes", [_utc(2031, 1, 3, 10, 15), _utc(2031, 1, 3, 10, 30),
                              _utc(2031, 1, 3, 10, 45), _utc(2031, 1, 3, 11, 0)]),
        ("every 1 minute", [_utc(2031, 1, 3, 10, 8), _utc(2031, 1, 3, 10, 9)]),
        ("every 5 hours", [_utc(2031, 1, 3, 15), _utc(2031, 1, 3, 20), _utc(2031, 1, 4, 0)]),
        ("every 20 seconds", [_utc(2031, 1, 3, 10, 7, 40), _utc(2031, 1, 3, 10, 8)]),
        ("every weekday at 9:30 am", [_utc(2031, 1, 6, 9, 30), _utc(2031, 1, 7, 9, 30)]),
        ("every weekend at 17:00", [_utc(2031, 1, 4, 17), _utc(2031, 1, 5, 17),
                                    _utc(2031, 1, 11, 17)]),
        ("every day at noon and midnight", [_utc(2031, 1, 3, 12), _utc(2031, 1, 4, 0),
                                            _utc(2031, 1, 4, 12)]),
        ("at 9:00, 18:45", [_utc(2031, 1, 3, 18, 45), _utc(2031, 1, 4, 9)]),
        ("every monday and friday at 17:00", [_utc(2031, 1, 3, 17), _utc(2031, 1, 6, 17),
                                              _utc(2031, 1, 10, 17)]),
        ("on the last day of the month at 17:00", [_utc(2031, 1, 31, 17), _utc(2031, 2, 28, 17),
                                                   _utc(2031, 3, 31, 17)]),
        ("on the 1st day of the month at 6:00 am", [_utc(2031, 2, 1, 6), _utc(2031, 3, 1, 6)]),
        ("EVERY Sunday AT 8:05 PM", [_utc(2031, 1, 5, 20, 5), _utc(2031, 1, 12, 20, 5)]),
        ("every 2 hours between the 5th and 10th hour", [_utc(2031, 1, 4, 5), _utc(2031, 1, 4, 7),
                                                         _utc(2031, 1, 4, 9), _utc(2031, 1, 5, 5)]),
        ("*/10 * * * * *", [_utc(2031, 1, 3, 10, 7, 40), _utc(2031, 1, 3, 10, 7, 50)]),
        ("0 3 * * 1-5", [_utc(2031, 1, 6, 3), _utc(2031, 1, 7, 3)]),
        ("@daily", [_utc(2031, 1, 4), _utc(2031, 1, 5)]),
        ("@hourly", [_utc(2031, 1, 3, 11), _utc(2031, 1, 3, 12)]),
        ("@monthly", [_utc(2031, 2, 1), _utc(2031, 3, 1)]),
        ("0 0 29 2 *", [_utc(2032, 2, 29), _utc(2036, 2, 29)]),
    ],
)
def test_next_occurrences(text: str, expected: list[datetime]) -> None:
    schedule = parse_schedule(text)
    found = schedule.next(after=FRIDAY, count=len(expected))
    assert found == expected
    assert all(moment.utcoffset() == timedelta(0) or moment.tzinfo for moment in found)
    assert isinstance(schedule.explain(), str) and schedule.explain()


def test_next_defaults_to_one_occurrence_after_now() -> None:
    [upcoming] = parse_schedule("every 15 minutes").next()
    now = datetime.now(UTC)
    assert upcoming.tzinfo is not None
    assert now < upcoming <= now + timedelta(minutes=15)
    assert upcoming.minute % 15 == 0 and upcoming.second == 0


def test_cron_in_a_zone_follows_its_wall_clock_across_dst() -> None:
    schedule = parse_schedule("0 3 * * *", tz="Europe/Paris")
    winter, summer = schedule.next(after=_utc(2031, 3, 29, 0), count=2)
    assert winter == _utc(2031, 3, 29, 2)  # CET, UTC+1
    assert summer == _utc(2031, 3, 30, 1)  # CEST, UTC+2
    assert all(m.astimezone(PARIS).hour == 3 for m in (winter, summer))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("every 15 blargs", "blargs"),
        ("every funday", "funday"),
        ("at 25:00", "25:00"),
        ("at 9:75 am", "9:75"),
        ("every 15", None),
        ("on the 3rd of smarch", "smarch"),
        ("0 3 * *", None),
        ("61 * * * *", None),
        ("", None),
    ],
)
def test_unreadable_text_is_a_clear_value_error(text: str, word: str | None) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    if word is not None:
        assert word in message, message
    assert "every" in message.lower() or "cron" in message.lower(), "shows examples"
