"""Units and calendar steps (conveyor.timeunits: normalize_unit, check_amount, add_interval,
fixed_seconds); durations and UTC conversion are in test_durations."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import ConfigurationError
from conveyor.timeunits import (
    UNITS,
    add_interval,
    check_amount,
    fixed_seconds,
    normalize_unit,
)

ACCEPTED_UNITS = (
    "accepted: millisecond, second, minute, hour, day, week, month, quarter, year "
    "(singular or plural)"
)
ACCEPTED_AMOUNTS = (
    "accepted: a finite number >= 0; fractions only for millisecond … week, "
    "whole numbers for month, quarter, year"
)


# -- normalize_unit -------------------------------------------------------------------


def test_units_lists_the_nine_units_in_order() -> None:
    assert UNITS == ("millisecond", "second", "minute", "hour", "day", "week", "month",
                     "quarter", "year")


@pytest.mark.parametrize("unit", UNITS)
def test_normalize_unit_accepts_singular_and_plural(unit: str) -> None:
    assert normalize_unit(unit) == unit
    assert normalize_unit(unit + "s") == unit


def test_normalize_unit_ignores_case_and_surrounding_spaces() -> None:
    assert normalize_unit("  Minutes ") == "minute"
    assert normalize_unit("QUARTER") == "quarter"


@pytest.mark.parametrize(
    ("abbreviation", "unit"),
    [
        ("ms", "millisecond"),
        ("s", "second"),
        ("sec", "second"),
        ("secs", "second"),
        ("m", "minute"),
        ("min", "minute"),
        ("mins", "minute"),
        ("h", "hour"),
        ("hr", "hour"),
        ("hrs", "hour"),
        ("d", "day"),
        ("w", "week"),
        ("wk", "week"),
        ("mo", "month"),
        ("q", "quarter"),
        ("y", "year"),
        ("yr", "year"),
    ],
)
def test_normalize_unit_accepts_abbreviations(abbreviation: str, unit: str) -> None:
    assert normalize_unit(abbreviation) == unit


def test_normalize_unit_reads_m_as_minute_and_mo_as_month() -> None:
    assert normalize_unit("m") == "minute"
    assert normalize_unit("mo") == "month"


def test_normalize_unit_unknown_unit_error_lists_accepted_units() -> None:
    with pytest.raises(ConfigurationError) as info:
        normalize_unit("fortnight")
    assert str(info.value) == f'unknown time unit "fortnight"; {ACCEPTED_UNITS}'


def test_normalize_unit_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time unit"):
        normalize_unit("")


def test_normalize_unit_refuses_non_strings() -> None:
    with pytest.raises(ConfigurationError, match='unknown time unit "5"'):
        normalize_unit(5)  # type: ignore[arg-type]


# -- check_amount ---------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["millisecond", "second", "minute", "hour", "day", "week"])
def test_check_amount_allows_fractions_for_fixed_units(unit: str) -> None:
    check_amount(1.5, unit)


@pytest.mark.parametrize("unit", ["months", "quarter", "years"])
def test_check_amount_allows_whole_numbers_for_calendar_units(unit: str) -> None:
    check_amount(2, unit)
    check_amount(2.0, unit)
    check_amount(0, unit)


def test_check_amount_refuses_fractional_calendar_steps() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_amount(1.5, "months")
    assert str(info.value) == (
        "1.5 months: months, quarters and years are calendar steps and must be a whole "
        "number; use a whole number, or a fixed unit (millisecond … week) for fractions"
    )


def test_check_amount_refuses_negative_amounts() -> None:
    with pytest.raises(ConfigurationError) as info:
        check_amount(-2, "second")
    assert str(info.value) == f"time amount must be >= 0, got -2 seconds; {ACCEPTED_AMOUNTS}"


@pytest.mark.parametrize("amount", [math.nan, math.inf, -math.inf])
def test_check_amount_refuses_non_finite_amounts(amount: float) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_amount(amount, "day")
    assert str(info.value) == f"time amount must be finite, got {amount!r}; {ACCEPTED_AMOUNTS}"


@pytest.mark.parametrize(
    ("amount", "shown"), [(True, "bool True"), ("3", "str '3'"), (None, "NoneType None")]
)
def test_check_amount_refuses_non_numbers_and_bools(amount: Any, shown: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_amount(amount, "day")
    assert str(info.value) == f"time amount must be a number, got {shown}; {ACCEPTED_AMOUNTS}"


def test_check_amount_refuses_unknown_units() -> None:
    with pytest.raises(ConfigurationError, match='unknown time unit "eons"'):
        check_amount(1, "eons")


# -- add_interval ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "unit", "delta"),
    [
        (250, "ms", timedelta(milliseconds=250)),
        (30, "seconds", timedelta(seconds=30)),
        (1.5, "minutes", timedelta(seconds=90)),
        (2, "hours", timedelta(hours=2)),
        (0.5, "day", timedelta(hours=12)),
        (1, "week", timedelta(days=7)),
    ],
)
def test_add_interval_adds_fixed_units_as_timedeltas(n: float, unit: str, delta: timedelta) -> None:
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert add_interval(start, n, unit) == start + delta


def test_add_interval_jan_31_plus_one_month_is_feb_28() -> None:
    assert add_interval(datetime(2025, 1, 31), 1, "month") == datetime(2025, 2, 28)


def test_add_interval_jan_31_plus_one_month_is_feb_29_in_leap_years() -> None:
    assert add_interval(datetime(2024, 1, 31), 1, "month") == datetime(2024, 2, 29)


def test_add_interval_quarter_is_three_months() -> None:
    assert add_interval(datetime(2026, 11, 30), 1, "quarter") == datetime(2027, 2, 28)
    assert add_interval(datetime(2026, 1, 15), 2, "quarters") == datetime(2026, 7, 15)


def test_add_interval_year_from_feb_29_is_feb_28() -> None:
    assert add_interval(datetime(2024, 2, 29), 1, "year") == datetime(2025, 2, 28)


def test_add_interval_keeps_the_time_and_timezone() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 1, 31, 9, 30, tzinfo=paris)
    assert add_interval(start, 1, "month") == datetime(2026, 2, 28, 9, 30, tzinfo=paris)


def test_add_interval_accepts_whole_float_calendar_steps() -> None:
    assert add_interval(datetime(2026, 1, 1), 2.0, "months") == datetime(2026, 3, 1)


def test_add_interval_refuses_fractional_months() -> None:
    with pytest.raises(ConfigurationError, match="must be a whole number"):
        add_interval(datetime(2026, 1, 1), 0.5, "month")


def test_add_interval_refuses_negative_amounts() -> None:
    with pytest.raises(ConfigurationError, match="must be >= 0"):
        add_interval(datetime(2026, 1, 1), -2, "days")


def test_add_interval_out_of_range_error_names_the_range() -> None:
    with pytest.raises(ConfigurationError) as info:
        add_interval(datetime(9999, 6, 1), 1, "year")
    assert str(info.value) == (
        "9999-06-01T00:00:00 + 1 year is outside the supported date range (years 1 to 9999)"
    )


def test_add_interval_huge_fixed_amount_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="outside the supported date range"):
        add_interval(datetime(2026, 1, 1), 1e20, "days")


@given(
    start=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2900, 12, 31)),
    months=st.integers(min_value=0, max_value=1200),
)
def test_add_interval_months_never_overflow_the_month(start: datetime, months: int) -> None:
    result = add_interval(start, months, "months")
    expected_month = (start.month - 1 + months) % 12 + 1
    assert result.month == expected_month
    assert result.year == start.year + (start.month - 1 + months) // 12
    last_day = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(start.day, last_day)
    assert result.time() == start.time()


@given(
    start=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2900, 12, 31)),
    steps=st.integers(min_value=0, max_value=100),
)
def test_add_interval_quarters_and_years_are_month_multiples(start: datetime, steps: int) -> None:
    assert add_interval(start, steps, "quarters") == add_interval(start, 3 * steps, "months")
    assert add_interval(start, steps, "years") == add_interval(start, 12 * steps, "months")


@given(year=st.integers(min_value=1, max_value=9998))
def test_add_interval_jan_31_plus_one_month_is_last_day_of_february(year: int) -> None:
    result = add_interval(datetime(year, 1, 31), 1, "month")
    assert result == datetime(year, 2, 29 if calendar.isleap(year) else 28)


@given(n=st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_add_interval_fixed_units_match_fixed_seconds(n: float) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds = fixed_seconds(n, "minutes")
    assert seconds is not None
    assert add_interval(start, n, "minutes") == start + timedelta(seconds=seconds)


# -- fixed_seconds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "unit", "seconds"),
    [
        (500, "ms", 0.5),
        (90, "seconds", 90.0),
        (1.5, "minutes", 90.0),
        (2, "h", 7200.0),
        (1, "day", 86400.0),
        (2, "weeks", 1209600.0),
    ],
)
def test_fixed_seconds_converts_fixed_units(n: float, unit: str, seconds: float) -> None:
    assert fixed_seconds(n, unit) == pytest.approx(seconds)


@pytest.mark.parametrize("unit", ["month", "quarters", "yr"])
def test_fixed_seconds_is_none_for_calendar_units(unit: str) -> None:
    assert fixed_seconds(1, unit) is None


def test_fixed_seconds_checks_the_amount() -> None:
    with pytest.raises(ConfigurationError, match="must be >= 0"):
        fixed_seconds(-1, "s")


def test_fixed_seconds_refuses_amounts_too_large_for_a_float() -> None:
    with pytest.raises(ConfigurationError) as info:
        fixed_seconds(10**400, "s")
    assert str(info.value).endswith(f"seconds is too large; {ACCEPTED_AMOUNTS}")
