"""Time units, calendar steps and durations ("7 days", 30, timedelta).

Fixed units (millisecond … week) are exact spans of time and may be fractional.
Calendar units (month, quarter, year) are steps on the calendar taken with
``dateutil.relativedelta``: Jan 31 + 1 month = Feb 28 (Feb 29 in leap years).
Where a calendar unit must become a plain number of seconds (``parse_duration``,
e.g. ``retention="1 month"``), a month is 30 days, a quarter 91 days and a year
365 days.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from numbers import Real
from typing import Final

from dateutil.relativedelta import relativedelta

from conveyor.errors import ConfigurationError

__all__ = [
    "UNITS",
    "add_interval",
    "check_amount",
    "check_timezone",
    "delay_seconds",
    "fixed_seconds",
    "normalize_unit",
    "parse_duration",
    "to_utc",
    "zone_key",
]

FAR_FUTURE: Final = 253402300799.0  # 9999-12-31: "no due time" (a run waiting for an event)
# Seconds (~31 years) no delay from a supported "now" can reach FAR_FUTURE within: only
# longer delays are checked against it (storable_due).
UNCHECKED_DELAY: Final = 1e9

UNITS: tuple[str, ...] = (
    "millisecond",
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
)

CALENDAR_UNITS: Final = frozenset({"month", "quarter", "year"})

# Seconds in one fixed unit.
_FIXED_SECONDS: Final[dict[str, float]] = {
    "millisecond": 0.001,
    "second": 1.0,
    "minute": 60.0,
    "hour": 3600.0,
    "day": 86400.0,
    "week": 604800.0,
}

# Seconds in one calendar unit when a plain duration is needed (documented above).
_DURATION_SECONDS: Final[dict[str, float]] = {
    **_FIXED_SECONDS,
    "month": 30 * 86400.0,
    "quarter": 91 * 86400.0,
    "year": 365 * 86400.0,
}

# Months in one calendar step.
_MONTHS: Final[dict[str, int]] = {"month": 1, "quarter": 3, "year": 12}

_ALIASES: Final[dict[str, str]] = {
    **{unit: unit for unit in UNITS},
    **{unit + "s": unit for unit in UNITS},
    "ms": "millisecond",
    "s": "second",
    "sec": "second",
    "secs": "second",
    "m": "minute",
    "min": "minute",
    "mins": "minute",
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
    "d": "day",
    "w": "week",
    "wk": "week",
    "mo": "month",
    "q": "quarter",
    "y": "year",
    "yr": "year",
}

_ACCEPTED_UNITS: Final = ", ".join(UNITS) + " (singular or plural)"
_ACCEPTED_AMOUNTS: Final = (
    "accepted: a finite number >= 0; fractions only for millisecond … week, "
    "whole numbers for month, quarter, year"
)
_ACCEPTED_DURATIONS: Final = (
    'accepted: a number of seconds, a timedelta, or text like "90 seconds", '
    '"1.5 hours", "7 days", "2 weeks", "1 month", "30s", "5m", "1h", "1 day 2 hours"'
)

_NUMBER: Final = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART: Final = rf"({_NUMBER})\s*([a-z]+)"
_PLAIN_NUMBER_RE: Final = re.compile(rf"\s*({_NUMBER})\s*")
_DURATION_RE: Final = re.compile(
    rf"\s*{_PART}(?:(?:\s*,\s*|\s+and\s+|\s*){_PART})*\s*", re.IGNORECASE
)
_PART_RE: Final = re.compile(_PART, re.IGNORECASE)

# UTC and every IANA name linked to it (Etc/UTC or Etc/GMT; tzdata's "backward" file).
_UTC_NAMES: Final = frozenset({
    "utc", "etc/utc", "uct", "etc/uct", "z", "zulu", "etc/zulu", "universal", "etc/universal",
    "gmt", "etc/gmt", "gmt0", "etc/gmt0", "gmt+0", "etc/gmt+0", "gmt-0", "etc/gmt-0",
    "greenwich", "etc/greenwich",
})


def normalize_unit(unit: str) -> str:
    """Return the singular unit name for ``unit`` (plural, any case, or an abbreviation)."""
    name = _ALIASES.get(unit.strip().lower()) if isinstance(unit, str) else None
    if name is None:
        raise ConfigurationError(f'unknown time unit "{unit}"; accepted: {_ACCEPTED_UNITS}')
    return name


def check_amount(n: float, unit: str) -> None:
    """Raise ``ConfigurationError`` unless ``n`` is a valid amount of ``unit``."""
    name = normalize_unit(unit)
    if isinstance(n, bool) or not isinstance(n, Real):
        raise ConfigurationError(
            f"time amount must be a number, got {type(n).__name__} {n!r}; {_ACCEPTED_AMOUNTS}"
        )
    if not isinstance(n, int) and not math.isfinite(n):
        raise ConfigurationError(f"time amount must be finite, got {n!r}; {_ACCEPTED_AMOUNTS}")
    if n < 0:
        raise ConfigurationError(
            f"time amount must be >= 0, got {_amount(n, name)}; {_ACCEPTED_AMOUNTS}"
        )
    if name in CALENDAR_UNITS and n != int(n):
        raise ConfigurationError(
            f"{n!r} {name}s: months, quarters and years are calendar steps and must be "
            f"a whole number; use a whole number, or a fixed unit (millisecond … week) "
            f"for fractions"
        )


def _amount(n: float, name: str) -> str:
    """``"1 year"``, ``"2.5 days"``: an amount with its unit, for messages."""
    return f"{n!r} {name}" if n in (1, -1) else f"{n!r} {name}s"


def add_interval(start: datetime, n: float, unit: str, tz: str = "UTC") -> datetime:
    """Return ``start`` + ``n`` ``unit``; months, quarters and years are calendar steps on
    the calendar and wall clock of ``tz`` (an IANA name): Jan 31 09:00 + 1 month is
    Feb 28 09:00 there, across a change of daylight saving time too."""
    name = normalize_unit(unit)
    check_amount(n, name)
    try:
        if name in CALENDAR_UNITS:
            local = start.astimezone(_zone(tz)) if start.tzinfo is not None else start
            stepped = local + relativedelta(months=int(n) * _MONTHS[name])
            return stepped.astimezone(start.tzinfo) if start.tzinfo is not None else stepped
        return start + timedelta(seconds=float(n) * _FIXED_SECONDS[name])  # = fixed_seconds
    except (OverflowError, ValueError) as exc:
        raise ConfigurationError(
            f"{start.isoformat()} + {_amount(n, name)} is outside the supported date range "
            f"(years 1 to 9999)"
        ) from exc



def storable_due(due: datetime) -> float:
    """``due`` as epoch seconds, refused from 9999-12-31 23:59:59 UTC on: stores keep that
    moment as "no due time" (a run waiting for an event)."""
    if due.timestamp() >= FAR_FUTURE:
        raise ConfigurationError(
            f"due time {due.isoformat()} is outside the supported date range "
            f"(before 9999-12-31 23:59:59 UTC)")
    return due.timestamp()


def _zone(tz: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    return UTC if tz.strip().lower() in _UTC_NAMES else ZoneInfo(tz)


def fixed_seconds(n: float, unit: str) -> float | None:
    """Seconds in ``n`` ``unit`` for fixed units; ``None`` for month, quarter, year."""
    name = normalize_unit(unit)
    check_amount(n, name)
    if name in CALENDAR_UNITS:
        return None
    try:
        return float(n) * _FIXED_SECONDS[name]
    except OverflowError as exc:
        raise ConfigurationError(f"{_amount(n, name)} is too large; {_ACCEPTED_AMOUNTS}") from exc


def delay_seconds(
    delay: float | timedelta | str, unit: str, now: datetime, tz: str = "UTC"
) -> float:
    """Seconds from ``now`` until ``delay`` has passed: ``n`` ``unit`` (a calendar step in
    ``tz`` for month, quarter, year), a timedelta or text such as "5 minutes" (``unit``
    unused)."""
    if isinstance(delay, (timedelta, str)):
        return parse_duration(delay) or 0.0
    return (add_interval(now, delay, unit, tz) - now).total_seconds()


def parse_duration(value: float | int | timedelta | str | None) -> float | None:
    """Return ``value`` as seconds: a number of seconds, a timedelta or text ("7 days")."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds < 0:
            raise ConfigurationError(f"duration must be >= 0, got {value!r}; {_ACCEPTED_DURATIONS}")
        return seconds
    if isinstance(value, str):
        return _parse_duration_text(value)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigurationError(
            f"duration must be seconds, a timedelta or text, got {type(value).__name__} "
            f"{value!r}; {_ACCEPTED_DURATIONS}"
        )
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(
            f"duration must be a finite number of seconds >= 0, got {value!r}; "
            f"{_ACCEPTED_DURATIONS}"
        )
    return seconds


def _parse_duration_text(text: str) -> float:
    plain = _PLAIN_NUMBER_RE.fullmatch(text)
    if plain is not None:
        seconds = float(plain.group(1))
    elif _DURATION_RE.fullmatch(text) is not None:
        seconds = 0.0
        for number, unit in _PART_RE.findall(text):
            name = _ALIASES.get(unit.lower())
            if name is None:
                raise ConfigurationError(
                    f'unknown time unit "{unit}" in duration "{text}"; accepted units: '
                    f"{_ACCEPTED_UNITS}"
                )
            seconds += float(number) * _DURATION_SECONDS[name]
    else:
        raise ConfigurationError(f'cannot read duration "{text}"; {_ACCEPTED_DURATIONS}')
    if not math.isfinite(seconds):
        raise ConfigurationError(f'duration "{text}" is too large; {_ACCEPTED_DURATIONS}')
    return seconds


def zone_key(tz: object) -> object:
    """The IANA name of a ``ZoneInfo`` (``"UTC"`` for ``datetime.UTC``); anything else as
    given, for the caller to check."""
    from zoneinfo import ZoneInfo

    if isinstance(tz, ZoneInfo) and tz.key:
        return tz.key
    return "UTC" if tz is UTC else tz


def check_timezone(name: str | tzinfo | None) -> str:
    """The IANA name ``name`` gives (a name, a ``ZoneInfo``, ``datetime.UTC``; None: UTC),
    else a ConfigurationError saying what is accepted."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name is None:
        return "UTC"
    key = zone_key(name)
    if isinstance(key, str) and key.strip().upper() == "UTC":
        return "UTC"  # any spelling, as schedules' tz= takes it
    try:
        if not isinstance(key, str):
            raise TypeError(key)
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(
            f"unknown timezone {name!r}; accepted: an IANA name like 'UTC' or 'Europe/Paris'"
            " (or its ZoneInfo)"
        ) from None
    return key


def to_utc(when: datetime, app_tz: str = "UTC") -> datetime:
    """Return ``when`` in UTC; naive datetimes are accepted only when the app runs in UTC."""
    if not isinstance(when, datetime):
        raise ConfigurationError(
            f"expected a datetime, got {type(when).__name__} {when!r}; pass a timezone-aware "
            f'datetime (e.g. datetime(..., tzinfo=ZoneInfo("{app_tz}")))'
        )
    if when.tzinfo is not None and when.utcoffset() is not None:
        return when.astimezone(UTC)
    if app_tz.strip().lower() in _UTC_NAMES:
        return when.replace(tzinfo=UTC)
    raise ConfigurationError(
        f"naive datetime {when.isoformat()} is ambiguous under the app timezone "
        f'"{app_tz}"; pass a timezone-aware datetime '
        f'(e.g. datetime(..., tzinfo=ZoneInfo("{app_tz}")))'
    )
