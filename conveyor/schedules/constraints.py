"""Calendar constraints with later.js's meaning, over naive wall-clock datetimes.

A later.js schedule is a set of constraints (``{"h": [0, 5, 10], "d": [2]}``) that must
all hold. Each constraint here knows, for a time ``d``: its value (``val``), the range of
values it can take there (``extent``), the period that value covers (``start``/``end``)
and the first time after ``d`` it takes another value (``next``). Days of the week count
from Sunday = 1; a value of 0 means "last" (last day of the month, last week...).

Dates that would leave the supported years come back as ``None`` ("never").
"""

from __future__ import annotations

import calendar
import math
from datetime import datetime, timedelta

SEC = timedelta(seconds=1)
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
Date = datetime | None


def build(y: int, m0: int, d: int = 1, h: int = 0, mi: int = 0, s: int = 0) -> Date:
    """A date from possibly overflowing fields (month 0-based), like JavaScript's Date.UTC."""
    year, month = y + m0 // 12, m0 % 12
    try:
        return datetime(year, month + 1, 1) + timedelta(days=d - 1, hours=h, minutes=mi,
                                                        seconds=s)  # fmt: skip
    except (OverflowError, ValueError):
        return None


def first(y: int, mo: int = 1, d: int = 1, h: int = 0, mi: int = 0, s: int = 0) -> Date:
    """The first second of the period named by the fields given (month 1-based)."""
    return build(y, mo - 1, d, h, mi, s)


def last(y: int, mo: int | None = None, d: int | None = None, h: int | None = None,
         mi: int | None = None) -> Date:  # fmt: skip
    """The last second of the period named by the fields given (month 1-based)."""
    m0 = 11 if mo is None else mo - 1
    if d is None:
        start = build(y, m0)
        d = month_days(start) if start is not None else 31
    return build(y, m0, d, 23 if h is None else h, 59 if mi is None else mi, 59)


def year_days(d: datetime) -> int:
    return 366 if calendar.isleap(d.year) else 365


def month_days(d: datetime) -> int:
    extra = 1 if d.month == 2 and year_days(d) == 366 else 0
    return _DAYS[d.month - 1] + extra


def dow(d: datetime) -> int:
    """Day of the week, Sunday = 1 .. Saturday = 7."""
    return d.isoweekday() % 7 + 1


class Constraint:
    """One unit: its name, typical length in seconds (``range``) and calendar arithmetic."""

    name = ""
    range = 1
    zero_is_last = False  # value 0 means the last value of the extent

    def val(self, d: datetime) -> int:
        raise NotImplementedError

    def extent(self, d: datetime) -> tuple[int, int]:
        raise NotImplementedError

    def is_valid(self, d: datetime, val: int | None) -> bool:
        want = (val or self.extent(d)[1]) if self.zero_is_last else val
        return self.val(d) == want

    def start(self, d: datetime) -> Date:
        return d

    def end(self, d: datetime) -> Date:
        return d

    def next(self, d: datetime, val: int) -> Date:
        raise NotImplementedError


def rollover(d: datetime, val: int, c: Constraint, period: Constraint) -> Date:
    """The start of the period (month, year) in which ``c`` next takes ``val``."""
    cur, top = c.val(d), c.extent(d)[1]
    if (val or top) <= cur or val > top:
        end = period.end(d)
        return end + SEC if end is not None else None
    return period.start(d)


class Second(Constraint):
    name, range = "second", 1

    def val(self, d: datetime) -> int:
        return d.second

    def extent(self, d: datetime) -> tuple[int, int]:
        return (0, 59)

    def next(self, d: datetime, val: int) -> Date:
        s = d.second
        inc = 60 - s if val > 59 else (60 - s + val if val <= s else val - s)
        return d + inc * SEC


class Minute(Constraint):
    name, range = "minute", 60

    def val(self, d: datetime) -> int:
        return d.minute

    def extent(self, d: datetime) -> tuple[int, int]:
        return (0, 59)

    def start(self, d: datetime) -> Date:
        return d.replace(second=0)

    def end(self, d: datetime) -> Date:
        return d.replace(second=59)

    def next(self, d: datetime, val: int) -> Date:
        m = d.minute
        inc = 60 - m if val > 59 else (60 - m + val if val <= m else val - m)
        return d + timedelta(minutes=inc) - d.second * SEC


class Hour(Constraint):
    name, range = "hour", 3600

    def val(self, d: datetime) -> int:
        return d.hour

    def extent(self, d: datetime) -> tuple[int, int]:
        return (0, 23)

    def start(self, d: datetime) -> Date:
        return d.replace(minute=0, second=0)

    def end(self, d: datetime) -> Date:
        return d.replace(minute=59, second=59)

    def next(self, d: datetime, val: int) -> Date:
        val = 0 if val > 23 else val
        return first(d.year, d.month, d.day + (1 if val <= d.hour else 0), val)


class Time(Constraint):
    """Seconds since midnight (``at 10:15`` is 36900)."""

    name, range = "time", 1

    def val(self, d: datetime) -> int:
        return d.hour * 3600 + d.minute * 60 + d.second

    def extent(self, d: datetime) -> tuple[int, int]:
        return (0, 86399)

    def next(self, d: datetime, val: int) -> Date:
        val = 0 if val > 86399 else val
        return first(d.year, d.month, d.day + (1 if val <= self.val(d) else 0), 0, 0, val)


class Day(Constraint):
    name, range, zero_is_last = "day of the month", 86400, True

    def val(self, d: datetime) -> int:
        return d.day

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1, month_days(d))

    def start(self, d: datetime) -> Date:
        return first(d.year, d.month, d.day)

    def end(self, d: datetime) -> Date:
        return last(d.year, d.month, d.day)

    def period(self) -> Constraint:
        """The period whose days this counts (``next`` rolls over into the next one)."""
        return MONTH

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > self.extent(d)[1] else val
        start = rollover(d, val, self, self.period())
        if start is None:
            return None
        top = self.extent(start)[1]
        return first(start.year, start.month, 1 if val > top else val or top)


class DayOfWeek(Day):
    name, range = "day of the week", 86400

    def val(self, d: datetime) -> int:
        return dow(d)

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1, 7)

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > 7 else val or 7
        today = dow(d)
        return first(d.year, d.month, d.day + val - today + (7 if val <= today else 0))


class DayOfYear(Day):
    name, range = "day of the year", 86400

    def val(self, d: datetime) -> int:
        return d.timetuple().tm_yday

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1, year_days(d))

    def period(self) -> Constraint:
        return YEAR


class DayInstance(Constraint):
    """Which 7-day block of the month (days 1-7 are the 1st instance); 0 = the last 7 days."""

    name, range = "day instance", 604800

    def val(self, d: datetime) -> int:
        return (d.day - 1) // 7 + 1

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1, math.ceil(month_days(d) / 7))

    def is_valid(self, d: datetime, val: int | None) -> bool:
        return self.val(d) == val or (val == 0 and d.day > month_days(d) - 7)

    def start(self, d: datetime) -> Date:
        return first(d.year, d.month, max(1, (self.val(d) - 1) * 7 + 1))

    def end(self, d: datetime) -> Date:
        return last(d.year, d.month, min(self.val(d) * 7, month_days(d)))

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > self.extent(d)[1] else val
        month = rollover(d, val, self, MONTH)
        if month is None:
            return None
        val = 1 if val > self.extent(month)[1] else val
        found = self._on(month, val)
        if found is not None and found <= d:
            month = MONTH.next(d, d.month + 1)
            return self._on(month, val) if month is not None else None
        return found

    @staticmethod
    def _on(month: datetime, val: int) -> Date:
        day = month_days(month) - 6 if val == 0 else 1 + 7 * (val - 1)
        return first(month.year, month.month, day)


class WeekOfMonth(Day):
    """Weeks of the month: week 1 holds the 1st, later weeks start on Sunday."""

    name, range = "week of the month", 604800

    def val(self, d: datetime) -> int:
        return (d.day + dow(d.replace(day=1)) - 1 + 7 - dow(d)) // 7

    def extent(self, d: datetime) -> tuple[int, int]:
        end = d.replace(day=month_days(d))
        return (1, (month_days(d) + dow(d.replace(day=1)) - 1 + 7 - dow(end)) // 7)

    def start(self, d: datetime) -> Date:
        return first(d.year, d.month, max(d.day - dow(d) + 1, 1))

    def end(self, d: datetime) -> Date:
        return last(d.year, d.month, min(d.day + 7 - dow(d), month_days(d)))

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > self.extent(d)[1] else val
        month = rollover(d, val, self, MONTH)
        if month is None:
            return None
        top = self.extent(month)[1]
        val = 1 if val > top else val or top
        return first(month.year, month.month, max(1, (val - 1) * 7 - (dow(month) - 2)))


class WeekOfYear(Day):
    """ISO 8601 weeks (Monday to Sunday; week 1 holds the year's first Thursday)."""

    name, range = "week of the year", 604800

    def val(self, d: datetime) -> int:
        return d.isocalendar()[1]

    def extent(self, d: datetime) -> tuple[int, int]:
        year = d.isocalendar()[0]
        jan1, dec31 = datetime(year, 1, 1), datetime(year, 12, 31)
        return (1, 53 if dow(jan1) == 5 or dow(dec31) == 5 else 52)

    def start(self, d: datetime) -> Date:
        return first(d.year, d.month, d.day - (dow(d) - 2 if dow(d) > 1 else 6))

    def end(self, d: datetime) -> Date:
        return last(d.year, d.month, d.day + (8 - dow(d) if dow(d) > 1 else 0))

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > self.extent(d)[1] else val
        monday = self.start(d)
        thursday = DAY_OF_WEEK.next(monday, 5) if monday is not None else None
        year = rollover(thursday, val, self, YEAR) if thursday is not None else None
        if year is not None and self.val(year) != 1:
            year = DAY_OF_WEEK.next(year, 2)
        if year is None:
            return None
        top, begin = self.extent(year)[1], self.start(year)
        if begin is None:
            return None
        val = 1 if val > top else val or top
        return first(begin.year, begin.month, begin.day + 7 * (val - 1))


class Month(Constraint):
    name, range, zero_is_last = "month", 2629740, True

    def val(self, d: datetime) -> int:
        return d.month

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1, 12)

    def start(self, d: datetime) -> Date:
        return first(d.year, d.month)

    def end(self, d: datetime) -> Date:
        return last(d.year, d.month)

    def next(self, d: datetime, val: int) -> Date:
        val = 1 if val > 12 else val or 12
        return first(d.year + (0 if val > d.month else 1), val)


class Year(Constraint):
    name, range = "year", 31556900

    def val(self, d: datetime) -> int:
        return d.year

    def extent(self, d: datetime) -> tuple[int, int]:
        return (1970, 2099)

    def start(self, d: datetime) -> Date:
        return first(d.year)

    def end(self, d: datetime) -> Date:
        return last(d.year)

    def next(self, d: datetime, val: int) -> Date:
        return first(val) if d.year < val <= 2099 else None


MONTH, YEAR, DAY_OF_WEEK = Month(), Year(), DayOfWeek()
CONSTRAINTS: dict[str, Constraint] = {
    "s": Second(), "m": Minute(), "h": Hour(), "t": Time(), "D": Day(), "d": DAY_OF_WEEK,
    "dc": DayInstance(), "dy": DayOfYear(), "wm": WeekOfMonth(), "wy": WeekOfYear(),
    "M": MONTH, "Y": YEAR,
}  # fmt: skip
