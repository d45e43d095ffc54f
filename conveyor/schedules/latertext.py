"""later.js's text grammar (``later.parse.text``), read into a ``LaterPlan``.

::

    composite := schedule ("also" schedule)* ["except" schedule ("also" schedule)*]
    schedule  := clause+           (clauses may be joined by "and" or ",")
    clause    := "every" ("weekday" | "weekend" | N period
                          ["starting on the" N period | "between the" N "and" N])
               | "after" (TIME | N period) | "before" (TIME | N period)
               | "on the" ("first" | "last" | ranks) period
               | "on" DAY [("-" | "to" | "through") DAY] ("," ...)*
               | "of" MONTH ranges | "in" YEAR ranges | ("at" | "@") TIME ("and" TIME)*
    period    := s|sec|second(s) | m|min|minute(s) | h|hour(s) | day(s) [of the month]
               | day(s) of the week | day(s) of the year | day instance
               | week(s) [of the year] | week(s) of the month | month(s) | year(s)

N is 0..59 (with a matching st/nd/rd/th or none) or a four-digit number; TIME is
``H:MM`` (24 h) or ``H:MM am|pm`` (``12:00 am`` is midnight; later.js reads it as
noon). Days of the week count from Sunday = 1, "last" is 0. Each phrase adds values to
one constraint of the current schedule, as later.js's ``recur()`` builder does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from conveyor.schedules.laterplan import LaterPlan, Spec

_T = {
    "rank": r"((\d\d\d\d)|([2-5]?1(st)?|[2-5]?2(nd)?|[2-5]?3(rd)?"
            r"|(0|[1-5]?[4-9]|[1-5]0|1[1-3])(th)?))\b",
    "time": r"((([0]?[1-9]|1[0-2]):[0-5]\d(\s)?(am|pm))|(([0]?\d|1\d|2[0-3]):[0-5]\d))\b",
    "dayName": r"((sun|mon|tue(s)?|wed(nes)?|thu(r(s)?)?|fri|sat(ur)?)(day)?)\b",
    "monthName": r"(jan(uary)?|feb(ruary)?|ma((r(ch)?)?|y)|apr(il)?|ju(ly|ne)|aug(ust)?"
                 r"|oct(ober)?|(sept|nov|dec)(ember)?)\b",
    "yearIndex": r"(\d\d\d\d)\b", "every": r"every\b", "after": r"after\b",
    "before": r"before\b", "second": r"(s|sec(ond)?(s)?)\b", "minute": r"(m|min(ute)?(s)?)\b",
    "hour": r"(h|hour(s)?)\b", "day": r"(day(s)?( of the month)?)\b",
    "dayInstance": r"day instance\b", "dayOfWeek": r"day(s)? of the week\b",
    "dayOfYear": r"day(s)? of the year\b", "weekOfYear": r"week(s)?( of the year)?\b",
    "weekOfMonth": r"week(s)? of the month\b", "weekday": r"weekday\b",
    "weekend": r"weekend\b", "month": r"month(s)?\b", "year": r"year(s)?\b",
    "between": r"between (the)?\b", "start": r"(start(ing)? (at|on( the)?)?)\b",
    "at": r"(at|@)\b", "and": r"(,|and\b)", "except": r"(except\b)", "also": r"(also)\b",
    "first": r"(first)\b", "last": r"last\b", "in": r"in\b", "of": r"of\b",
    "onthe": r"on the\b", "on": r"on\b", "through": r"(-|(to|through)\b)",
}  # fmt: skip
_RE = {name: re.compile(pattern, re.ASCII) for name, pattern in _T.items()}
_SPACE = re.compile(r"\s+")
_NAMES = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
          "sep": 9, "oct": 10, "nov": 11, "dec": 12, "sun": 1, "mon": 2, "tue": 3, "wed": 4,
          "thu": 5, "fri": 6, "sat": 7}  # fmt: skip
#: period token -> (constraint key, lowest value, highest value, highest when "last")
PERIODS = {
    "second": ("s", 0, 59, 59), "minute": ("m", 0, 59, 59), "hour": ("h", 0, 23, 23),
    "dayOfYear": ("dy", 1, 366, 0), "dayOfWeek": ("d", 1, 7, 7), "dayInstance": ("dc", 1, 5, 0),
    "day": ("D", 1, 31, 0), "month": ("M", 1, 12, 12), "year": ("Y", 1970, 2450, 2450),
    "weekOfMonth": ("wm", 1, 5, 0), "weekOfYear": ("wy", 1, 53, 0),
}  # fmt: skip
_WRAPS = {"dayName": 7, "monthName": 12}  # names: ranges wrap around the week or year
_RANGED = ("second", "minute", "hour", "day")  # "every 2 hours between the 5th and 10th hour"
_CLAUSES = ("every", "after", "before", "onthe", "on", "of", "in", "at", "and", "except", "also")


class LaterSyntaxError(Exception):
    """later.js could not read the text at character ``pos`` (of the lower-cased text)."""

    def __init__(self, pos: int, expected: str) -> None:
        super().__init__(pos, expected)
        self.pos, self.expected = pos, expected


@dataclass
class _Builder:
    """later.js's ``recur()``: pending values/modifiers applied when a period is named."""

    schedules: list[dict[str, list[int]]] = field(default_factory=list)
    exceptions: list[dict[str, list[int]]] = field(default_factory=list)
    in_exceptions: bool = False
    cur: dict[str, list[int]] | None = None
    values: list[int] = field(default_factory=list)
    every: int = 0
    modifier: str = ""
    edge: str = ""  # "min" (first) or "max" (last)
    last: tuple[str, int, int, int] | None = None  # key, step, kept count, highest

    def add(self, key: str, low: int, high: int) -> None:
        key = f"{key}_{self.modifier}" if self.modifier else key
        if self.cur is None:
            target = self.exceptions if self.in_exceptions else self.schedules
            target.append({})
            self.cur = target[0]
        values = self.cur.setdefault(key, [])
        if self.every:
            self.values = list(range(low, high + 1, self.every))
            self.last = (key, self.every, len(values), high)
        pending = [low] if self.edge == "min" else [high] if self.edge == "max" else self.values
        for value in pending:
            if value not in values:
                values.append(value)
        self.values, self.every, self.modifier, self.edge = [], 0, "", ""

    def period(self, name: str) -> None:
        key, low, high, top = PERIODS[name]
        self.add(key, low, top if self.edge == "max" else high)

    def between(self, low: int, high: int) -> None:
        assert self.last is not None and self.cur is not None
        key, step, kept, _ = self.last
        self.cur[key] = self.cur[key][:kept]
        self.every = step
        self.add(key, low, high)

    def also(self) -> None:
        target = self.exceptions if self.in_exceptions else self.schedules
        target.append({})
        self.cur = target[-1]

    def plan(self) -> LaterPlan:
        def specs(items: list[dict[str, list[int]]]) -> tuple[Spec, ...]:
            return tuple(tuple((k, tuple(v)) for k, v in item.items()) for item in items)

        return LaterPlan(specs(self.schedules), specs(self.exceptions))


class _Parser:
    def __init__(self, text: str) -> None:
        self.input = text.lower()
        self.pos = 0
        self.r = _Builder()

    def peek(self, *kinds: str) -> tuple[str, int, str]:
        """(kind or "", end, text) of the longest token of ``kinds`` after whitespace."""
        start = self.pos
        rest = self.input[start:]
        space = _SPACE.match(rest)
        if space:
            start += space.end()
            rest = rest[space.end():]
        best, end = "", start
        for kind in kinds:
            m = _RE[kind].match(rest)
            if m and start + m.end() > end:
                best, end = kind, start + m.end()
        return best, end, self.input[start:end]

    def take(self, *kinds: str) -> tuple[str, str]:
        kind, end, text = self.peek(*kinds)
        if not kind:
            self.pos = end
            raise LaterSyntaxError(end, " or ".join(kinds))
        self.pos = end
        return kind, text

    def accept(self, kind: str) -> bool:
        if self.peek(kind)[0]:
            self.take(kind)
            return True
        return False

    def value(self, kind: str) -> int:
        _, text = self.take(kind)
        if kind == "time":
            hours, rest = text.split(":", 1)
            h, minutes = int(hours), int(rest[:2])
            if rest.endswith("pm") and h < 12:
                h += 12
            elif rest.endswith("am") and h == 12:  # midnight (later.js: noon)
                h = 0
            return h * 3600 + minutes * 60
        if kind in ("dayName", "monthName"):
            return _NAMES[text[:3]]
        digits = re.match(r"\d+", text)
        assert digits is not None
        return int(digits.group())

    def ranges(self, kind: str) -> list[int]:
        values: list[int] = []
        while True:
            low = self.value(kind)
            high = self.value(kind) if self.accept("through") else low
            if kind in _WRAPS and high < low:  # "fri-mon", "nov-feb" (later.js: sat, dec)
                values += [*range(1, high + 1), *range(low, _WRAPS[kind] + 1)]  # in order
            else:
                values += range(low, high + 1)
            if not self.accept("and"):  # in order (later.js skips some of "mon,sun")
                return sorted(values, key=lambda v: (v == 0 and values[-1] == 0, v))

    def parse(self) -> LaterPlan:
        r = self.r
        while self.pos < len(self.input):
            kind, _ = self.take(*_CLAUSES)
            if kind == "every":
                self.every()
            elif kind in ("after", "before"):
                r.modifier = kind[0]
                if self.peek("time")[0]:
                    r.values = [self.value("time")]
                    r.add("t", 0, 0)
                else:
                    r.values = [self.value("rank")]
                    self.period()
            elif kind == "onthe":
                if self.accept("first"):
                    r.edge = "min"
                elif self.accept("last"):
                    r.edge = "max"
                else:
                    r.values = self.ranges("rank")
                self.period()
            elif kind in ("on", "of", "in"):
                names = {"on": ("dayName", "d", 1, 7), "of": ("monthName", "M", 1, 12),
                         "in": ("yearIndex", "Y", 1970, 2450)}  # fmt: skip
                token, key, low, high = names[kind]
                r.values = self.ranges(token)
                r.add(key, low, high)
            elif kind == "at":  # several times fire on each, as other lists do
                r.values = [self.value("time")]
                while self.accept("and"):
                    r.values.append(self.value("time"))
                r.values.sort()
                r.add("t", 0, 0)
            elif kind == "also":
                r.also()
            elif kind == "except":
                r.in_exceptions, r.cur = True, None
        return r.plan()

    def period(self) -> str:
        kind, _ = self.take(*PERIODS)
        self.r.period(kind)
        return kind

    def every(self) -> None:
        r = self.r
        if self.accept("weekend"):
            r.values = [1, 7]
            r.add("d", 1, 7)
        elif self.accept("weekday"):
            r.values = [2, 3, 4, 5, 6]
            r.add("d", 1, 7)
        else:
            r.every = self.value("rank") or 1
            period = self.period()
            if self.accept("start"):
                low = self.value("rank")
                assert r.last is not None
                r.between(low, r.last[3])
                self.take(period)
            elif self.accept("between"):
                low = self.value("rank")
                if self.accept("and"):
                    r.between(low, self.value("rank"))
                    if period in _RANGED:  # "... and the 10th hour": conveyor's extension
                        self.accept(period)


def parse_later(text: str) -> LaterPlan:
    """Read later.js text; raises LaterSyntaxError where later.js stops reading."""
    return _Parser(text).parse()
