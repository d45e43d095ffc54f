"""The occurrence engine for later.js-style schedules (``also``, ``except``, ``after``...).

A ``LaterPlan`` is a union of schedules (each a dict of constraint key -> values that
must all hold) minus a union of exceptions. An occurrence is the start of a period of the
schedule's smallest unit (its "tick") in which every constraint holds: ``every 15
minutes`` (``{"m": [0, 15, 30, 45]}``) fires at the start of those minutes, ``of may``
(``{"M": [5]}``) once, on May 1st at 00:00. Inside an exception's valid period nothing
fires. Searching is bounded: each step jumps straight to the next value a constraint can
take, and a search that needs more than 1000 jumps, or runs past 2099 for years, ends
("no occurrence") instead of scanning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from conveyor.schedules.constraints import CONSTRAINTS, SEC, Constraint, Date
from conveyor.schedules.wallclock import localize

Values = tuple[int, ...]
Spec = tuple[tuple[str, Values], ...]  # one schedule: (key, values) in the order written
_MAX_JUMPS = 1000


class Modified(Constraint):
    """``after``/``before`` a value of another constraint (the value itself counts as
    after; before means strictly before)."""

    def __init__(self, base: Constraint, value: int, after: bool) -> None:
        self.base, self.value, self.after = base, value, after
        top = base.extent(_REFERENCE)[1]
        self.range = (top - value) * base.range if after else base.range * (value - 1)
        self.name = f"{'after' if after else 'before'} {base.name}"

    def val(self, d: datetime) -> int:
        return self.base.val(d)

    def extent(self, d: datetime) -> tuple[int, int]:
        return self.base.extent(d)

    def is_valid(self, d: datetime, val: int | None) -> bool:
        now = self.base.val(d)
        return now >= self.value if self.after else now < self.value

    def start(self, d: datetime) -> Date:
        return self.base.start(d)

    def end(self, d: datetime) -> Date:
        return self.base.end(d)

    def next(self, d: datetime, val: int) -> Date:
        low = self.base.extent(d)[0]
        if self.after:
            return self.base.next(d, val if val == self.value else low)
        return self.base.next(d, low if val == self.value else self.value)


_REFERENCE = datetime(2000, 1, 1)  # where a modifier's range is measured (a 31-day month)


def constraint_for(key: str, values: list[int]) -> Constraint:
    """The constraint a schedule key names: ``h``, or ``h_a`` / ``h_b`` (after / before)."""
    name, _, modifier = key.partition("_")
    base = CONSTRAINTS[name]
    if not modifier:
        return base
    return Modified(base, values[0] if modifier == "a" else values[-1], modifier == "a")


def next_value(val: int, values: Values, extent: tuple[int, int]) -> int | None:
    """The first of ``values`` at or after ``val``, wrapping to the smallest (0 = last)."""
    zero_is_largest = extent[0] != 0
    index = 0
    for i in range(len(values) - 1, -1, -1):
        cur = values[i]
        if cur == val:
            return cur
        if cur > val or (cur == 0 and zero_is_largest and extent[1] > val):
            index = i
            continue
        break
    return values[index] if values else None


def next_invalid(val: int, values: Values, extent: tuple[int, int]) -> int | None:
    """The first value at or after ``val`` that is not in ``values`` (None: there is none)."""
    low, high = extent
    count = len(values)
    zero_val = high if count and values[-1] == 0 and low != 0 else 0
    nxt, start = val, val
    i = values.index(val) if val in values else -1
    while nxt == (values[i] if 0 <= i < count and values[i] else zero_val):
        nxt = low if nxt + 1 > high else nxt + 1
        i = 0 if i + 1 == count else i + 1
        if nxt == start:
            return None
    return nxt


class Compiled:
    """One schedule's constraints, largest unit first; ticks by its smallest."""

    def __init__(self, spec: Spec) -> None:
        keyed = [(key, constraint_for(key, list(vals)), vals) for key, vals in spec]
        keyed.sort(key=lambda item: -item[1].range)  # stable, like later.js
        self.items = [(constraint, vals) for _, constraint, vals in keyed]
        self.tick_key = keyed[-1][0]  # e.g. "m", or "t_a" for "after 10:00"
        self.tick_by: Constraint = keyed[-1][1]

    def start(self, moment: Date) -> Date:
        """The start of the first valid period at or after ``moment``."""
        jumps = _MAX_JUMPS
        while moment is not None:
            for constraint, vals in self.items:
                new = next_value(constraint.val(moment), vals, constraint.extent(moment))
                if not constraint.is_valid(moment, new):
                    moment = constraint.next(moment, new) if new is not None else None
                    break
            else:
                return self.tick_by.start(moment)
            jumps -= 1
            if not jumps:
                return None
        return None

    def end(self, moment: datetime) -> Date:
        """The first time after valid ``moment`` that is no longer valid (None: never)."""
        found: Date = None
        for constraint, vals in reversed(self.items):
            new = next_invalid(constraint.val(moment), vals, constraint.extent(moment))
            if new is not None:
                nxt = constraint.next(moment, new)
                if nxt is not None and (found is None or nxt < found):
                    found = nxt
        return found

    def tick(self, moment: datetime) -> Date:
        end = self.tick_by.end(moment)
        return end + SEC if end is not None else None


def _start(schedule: Compiled, moment: Date) -> Date:
    return schedule.start(moment) if moment is not None else None


def occurrences(schedules: list[Compiled], exceptions: list[Compiled],
                begin: datetime) -> Iterator[datetime]:  # fmt: skip
    """Naive wall-clock occurrences at or after ``begin`` (``begin`` itself when it falls
    inside a valid period), in order."""
    starts = [s.start(begin) for s in schedules]
    ranges: list[tuple[datetime, Date] | None] = [None] * len(exceptions)
    for i, exc in enumerate(exceptions):
        first = exc.start(begin)
        ranges[i] = (first, exc.end(first)) if first is not None else None
    idle = _MAX_JUMPS
    while idle:
        pending = [s for s in starts if s is not None]
        if not pending:
            return
        nxt = min(pending)
        blocked, blocked_until = _blocked(exceptions, ranges, nxt)
        if blocked:
            idle -= 1
            if blocked_until is None:  # an exception that never ends
                return
            starts = [
                _start(s, blocked_until) if at is not None and at <= blocked_until else at
                for s, at in zip(schedules, starts, strict=True)
            ]
            continue
        idle = _MAX_JUMPS
        yield max(begin, nxt)
        starts = [
            _start(s, s.tick(nxt)) if at == nxt else at
            for s, at in zip(schedules, starts, strict=True)
        ]


def _blocked(exceptions: list[Compiled], ranges: list[tuple[datetime, Date] | None],
             moment: datetime) -> tuple[bool, Date]:  # fmt: skip
    """(True, when the exception period holding ``moment`` ends; None: never) or (False, None)."""
    for i, exc in enumerate(exceptions):
        current = ranges[i]
        if current is not None and current[0] <= moment:
            first = exc.start(moment)
            ranges[i] = (first, exc.end(first)) if first is not None else None
    blocked, result = False, None
    for current in ranges:
        if current is None or current[0] > moment:
            continue
        end = current[1]
        if end is None:
            return True, None
        if end > moment and (result is None or end > result):
            blocked, result = True, end
    return blocked, result


def _spec(data: Any) -> Spec:
    return tuple((str(key), tuple(int(v) for v in vals)) for key, vals in data)


@dataclass(frozen=True)
class LaterPlan:
    """Schedules OR-ed together, minus exceptions (later.js's composite schedule)."""

    schedules: tuple[Spec, ...]
    exceptions: tuple[Spec, ...] = ()

    def occurrences(self, after: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """Fire times from the second holding ``after`` on (``Schedule.next`` keeps the
        ones strictly after it)."""
        begin = after.astimezone(zone).replace(tzinfo=None, microsecond=0)
        schedules = [Compiled(spec) for spec in self.schedules if spec]
        exceptions = [Compiled(spec) for spec in self.exceptions if spec]
        for naive in occurrences(schedules, exceptions, begin):
            yield naive.replace(tzinfo=UTC) if zone.key == "UTC" else localize(naive, zone)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"later": {
            "schedules": [[[key, list(vals)] for key, vals in spec] for spec in self.schedules],
            "exceptions": [[[key, list(vals)] for key, vals in spec] for spec in self.exceptions],
        }}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LaterPlan:
        """Inverse of ``to_json`` (the value of its "later" key)."""
        return cls(tuple(_spec(s) for s in data["schedules"]),
                   tuple(_spec(s) for s in data["exceptions"]))  # fmt: skip
