"""Durations and UTC conversion (conveyor.timeunits: parse_duration, to_utc); units and
calendar steps are in test_timeunits."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor.errors import ConfigurationError
from conveyor.timeunits import parse_duration, to_utc

ACCEPTED_DURATIONS = (
    'accepted: a number of seconds, a timedelta, or text like "90 seconds", "1.5 hours", '
    '"7 days", "2 weeks", "1 month", "30s", "5m", "1h", "1 day 2 hours"'
)


# -- parse_duration -------------------------------------------------------------------


def test_parse_duration_none_is_none() -> None:
    assert parse_duration(None) is None


@pytest.mark.parametrize(("value", "seconds"), [(0, 0.0), (30, 30.0), (1.5, 1.5)])
def test_parse_duration_numbers_are_seconds(value: float, seconds: float) -> None:
    result = parse_duration(value)
    assert result == seconds
    assert isinstance(result, float)


def test_parse_duration_accepts_timedeltas() -> None:
    assert parse_duration(timedelta(minutes=2, milliseconds=500)) == 120.5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7 days", 7 * 86400),
        ("1 minute", 60),
        ("1.5 hours", 5400),
        ("90 seconds", 90),
        ("2 weeks", 14 * 86400),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("250ms", 0.25),
        (".5 day", 43200),
        ("  3 Days  ", 3 * 86400),
    ],
)
def test_parse_duration_reads_text(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "days"), [("1 month", 30), ("2 months", 60), ("1 quarter", 91), ("1 year", 365)]
)
def test_parse_duration_calendar_units_have_fixed_lengths(text: str, days: int) -> None:
    assert parse_duration(text) == days * 86400


@pytest.mark.parametrize("text", ["1 day 2 hours", "1 day, 2 hours", "1 day and 2 hours", "1d2h"])
def test_parse_duration_adds_several_parts(text: str) -> None:
    assert parse_duration(text) == 86400 + 7200


def test_parse_duration_bare_number_text_is_seconds() -> None:
    assert parse_duration("45") == 45.0


@pytest.mark.parametrize("text", ["", "soon", "days", "-5 seconds", "1 day and", "5 s 3"])
def test_parse_duration_unreadable_text_error_shows_accepted_forms(text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration(text)
    assert str(info.value) == f'cannot read duration "{text}"; {ACCEPTED_DURATIONS}'


def test_parse_duration_unknown_unit_error_names_unit_and_text() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration("2 fortnights")
    assert str(info.value) == (
        'unknown time unit "fortnights" in duration "2 fortnights"; accepted units: '
        "millisecond, second, minute, hour, day, week, month, quarter, year (singular or plural)"
    )


def test_parse_duration_too_large_text_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration("9" * 400 + " years")
    assert str(info.value).endswith(f"is too large; {ACCEPTED_DURATIONS}")


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf, 10**400])
def test_parse_duration_refuses_negative_and_non_finite_numbers(value: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration(value)
    assert str(info.value) == (
        f"duration must be a finite number of seconds >= 0, got {value!r}; {ACCEPTED_DURATIONS}"
    )


def test_parse_duration_refuses_negative_timedeltas() -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration(timedelta(seconds=-1))
    assert str(info.value) == (
        f"duration must be >= 0, got {timedelta(seconds=-1)!r}; {ACCEPTED_DURATIONS}"
    )


@pytest.mark.parametrize(("value", "shown"), [(True, "bool True"), ([1], "list [1]")])
def test_parse_duration_refuses_other_types(value: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_duration(value)
    assert str(info.value) == (
        f"duration must be seconds, a timedelta or text, got {shown}; {ACCEPTED_DURATIONS}"
    )


# -- to_utc ---------------------------------------------------------------------------


def test_to_utc_converts_aware_datetimes() -> None:
    paris = datetime(2026, 7, 1, 14, 0, tzinfo=ZoneInfo("Europe/Paris"))
    result = to_utc(paris)
    assert result == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_to_utc_converts_aware_datetimes_under_any_app_timezone() -> None:
    when = datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert to_utc(when, "Asia/Tokyo") == datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize("app_tz", ["UTC", "utc", "Etc/UTC", "GMT"])
def test_to_utc_treats_naive_datetimes_as_utc_under_a_utc_app(app_tz: str) -> None:
    result = to_utc(datetime(2026, 1, 1, 9, 30), app_tz)
    assert result == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert result.tzinfo is UTC


def test_to_utc_refuses_naive_datetimes_under_other_app_timezones() -> None:
    with pytest.raises(ConfigurationError) as info:
        to_utc(datetime(2026, 1, 1, 9, 30), "Europe/Paris")
    assert str(info.value) == (
        'naive datetime 2026-01-01T09:30:00 is ambiguous under the app timezone "Europe/Paris"; '
        'pass a timezone-aware datetime (e.g. datetime(..., tzinfo=ZoneInfo("Europe/Paris")))'
    )


@pytest.mark.parametrize(
    ("value", "shown"), [(date(2026, 1, 1), "date datetime.date(2026, 1, 1)"), ("x", "str 'x'")]
)
def test_to_utc_refuses_non_datetimes(value: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        to_utc(value)
    assert str(info.value) == (
        f"expected a datetime, got {shown}; pass a timezone-aware datetime "
        '(e.g. datetime(..., tzinfo=ZoneInfo("UTC")))'
    )
