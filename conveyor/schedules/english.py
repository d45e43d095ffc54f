"""Plain-English schedule text: a recursive-descent parser over ``lexer.py``'s tokens.

``parse_english`` turns text into a ``Phrase`` (what was said); ``build.py`` turns a
phrase into cron, rrule, interval or one-off plans. The grammar, case-insensitive,
clauses in any order, optionally joined by ``and`` or commas::

    schedule := "once" | "in" count unit | clause+
    clause   := every | at | on | between | months | days | nths | times
              | "daily" | "everyday" | "hourly" | "weekly" | "monthly" | "yearly"
    every    := ("every" | "each") ([count | "other"] unit | days)
    count    := NUMBER | "one" .. "twelve"
    unit     := second(s) | minute(s) | hour(s) | day(s) | week(s) | month(s) | year(s)
    days     := day ({"," | "and" | "or"} day)*
    day      := "day" | "weekday" | "weekend" | DAYNAME [("-" | "to" | "through") DAYNAME]
    at       := ("at" | "@") times
    times    := time ({"," | "and"} time)*
    time     := H[:MM[:SS]] ["am" | "pm"] ["o'clock"] | "noon" | "midnight"
    on       := "on" ["the" | "every" | "each"] (days | nths)
    nths     := nth ({"," | "and"} nth)* ["day" | "days"] [months]
    nth      := ["the"] (ORDINAL | "first" .. "fifth" | "last") [DAYNAME | "day"]
    months   := ("of" | "in") ["the" | "every" | "each"] ("month" | MONTH ({"," | "and"} MONTH)*)
    between  := ("between" | "from") ["the"] bound ("and" | "to" | "-") ["the"] bound [unit]
    bound    := time | ORDINAL | NUMBER
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from conveyor.schedules.lexer import (
    DAYNAMES,
    MONTHS,
    NUMBERS,
    ORDINALS,
    UNITS,
    Time,
    Token,
    tokenize,
)
from conveyor.schedules.phrase import Between, Phrase, Span, WordError, error

_CONNECTORS = (",", "and", "or", "&")
_ADVERBS = {"hourly": "hour", "weekly": "week", "monthly": "month"}
_MONTH_LEADS = ("the", "every", "each", "month", "months")
_OF_YEAR_WEEK = (("of", "year"), ("of", "week"))  # "on the 59th day of the year": later.js
_LATER_DAYS = {"year": "day of the year", "week": "day of the week", "": "day instance"}
_MAX_COUNT = 1_000_000_000  # "every N units": far past any useful N, within a timedelta


def parse_english(text: str) -> Phrase:
    """Parse plain-English schedule text; raises ScheduleError naming the first bad word."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.phrase = Phrase(text)

    # -- token helpers -------------------------------------------------------------------
    def tok(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str:
        token = self.tok(ahead)
        return token.word if token is not None and token.kind == "word" else ""

    def take(self) -> Token:
        token = self.tok()
        if token is None:
            self.fail("more words")
        self.i += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.word() in words:
            self.i += 1
            return True
        return False

    def fail(self, expected: str) -> NoReturn:
        token = self.tok()
        if token is None:
            last = self.tokens[-1].text if self.tokens else ""
            detail = f'it ends too early, after "{last}" (expected {expected})'
        elif token.kind == "unknown":
            detail = f'unknown word "{token.text}" at position {token.pos}'
        else:
            detail = f'unexpected word "{token.text}" at position {token.pos} (expected {expected})'
        raise error(self.text, detail, WordError)

    def invalid(self, what: str, token: Token) -> NoReturn:
        raise error(self.text, f'{what} "{token.text}" at position {token.pos}')

    def continues(self, starts: Callable[[int], bool]) -> bool:
        """Consume a run of connectors if the token after it starts another list item."""
        j = 0
        while self.word(j) in _CONNECTORS:
            j += 1
        if j and starts(j):
            self.i += j
            return True
        return False

    def span_from(self, first: int) -> Span:
        start, end = self.tokens[first], self.tokens[self.i - 1]
        return Span(start.pos, self.text[start.start : end.end])

    def claim(self, kind: str, first: int) -> None:
        span = self.span_from(first)
        earlier = self.phrase.spans.get(kind)
        if earlier is not None:
            raise error(self.text, f'"{span.text}" at position {span.pos} repeats the '
                        f'{kind} already given by "{earlier.text}"', WordError)  # fmt: skip
        self.phrase.spans[kind] = span

    # -- predicates on upcoming tokens ---------------------------------------------------
    def is_count(self, ahead: int = 0) -> bool:
        token = self.tok(ahead)
        return token is not None and (token.kind == "num" or self.word(ahead) in NUMBERS)

    def is_day(self, ahead: int = 0) -> bool:
        w = self.word(ahead)
        return w in DAYNAMES or w in ("day", "days", "weekday", "weekdays", "weekend", "weekends")

    def is_time(self, ahead: int = 0) -> bool:
        token = self.tok(ahead)
        if token is None:
            return False
        return token.kind in ("time", "num") or self.word(ahead) in ("noon", "midnight")

    def is_nth(self, ahead: int = 0) -> bool:
        if self.word(ahead) == "the":
            ahead += 1
        token = self.tok(ahead)
        return token is not None and (token.kind == "ord" or self.word(ahead) in ORDINALS)

    def is_month(self, ahead: int = 0) -> bool:
        return self.word(ahead) in MONTHS

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Phrase:
        if not self.tokens:
            raise error(self.text, "it is empty")
        if self.accept("once"):
            self.phrase.once = True
        elif self.word() == "in" and self.is_count(1) and self.word(2) in UNITS:
            self.take()
            self.phrase.delay = (self.count(), self.unit())
        else:
            self.clause()
            while self.tok() is not None:
                while self.word() in _CONNECTORS and self.tok(1) is not None:
                    self.take()
                self.clause()
        if self.tok() is not None:
            self.fail("the end of the schedule")
        return self.phrase

    def clause(self) -> None:
        first, w = self.i, self.word()
        if w in ("every", "each"):
            self.take()
            self.every(first)
        elif w in ("daily", "everyday"):
            self.take()
            self.phrase.weekdays |= set(range(7))
            self.claim("days", first)
        elif w in ("hourly", "weekly", "monthly", "yearly", "annually"):
            self.take()
            self.set_every(1, _ADVERBS.get(w, "year"), first)
        elif w in ("at", "@"):
            self.take()
            self.times(first)
        elif w == "on":
            self.take()
            if not self.accept("every", "each"):
                self.accept("the")
                if self.word() in ("day", "days"):  # "on the day": which day? (as later.js)
                    self.fail('a rank such as "15th" before "day"')
            self.on(first)
        elif w in ("between", "from"):
            self.between(first)
        elif w in ("of", "in"):
            self.months(first)
        elif self.is_day() or self.is_nth():
            self.on(first)
        elif self.is_time():
            self.times(first)
        else:
            self.fail('"every", "at", "on" or a day such as "monday"')

    def every(self, first: int) -> None:
        if self.accept("other"):
            self.set_every(2, self.unit(), first)
        elif self.is_count():
            self.set_every(self.count(), self.unit(), first)
        elif self.is_day() and self.word() != "days":  # "every days" lacks N
            self.on(first)
        elif self.word() in UNITS and not (self.word().endswith("s") and self.word() != "s"):
            self.set_every(1, self.unit(), first)  # "every minute"; "every minutes" lacks N
        else:
            self.fail('a number, a unit such as "minutes" or a day such as "monday"')

    def set_every(self, n: int, unit: str, first: int) -> None:
        self.phrase.every = (n, unit)
        self.claim("interval", first)

    def count(self) -> int:
        token = self.take()
        n = token.number if token.kind == "num" else NUMBERS[token.word]
        if n < 1:
            raise error(self.text, f'"{token.text}" at position {token.pos} must be at least 1')
        if n > _MAX_COUNT:  # past any date a schedule can reach (and past a timedelta)
            raise error(self.text, f'"{token.text}" at position {token.pos} must be at most '
                        f"{_MAX_COUNT}")
        return n

    def unit(self) -> str:
        if self.word() not in UNITS:
            self.fail('a unit such as "minutes", "hours" or "days"')
        return UNITS[self.take().word]

    def on(self, first: int) -> None:
        if self.is_day():
            self.phrase.weekdays |= self.days()
            self.claim("days", first)
        elif self.is_nth():
            self.nths(first)
        else:
            self.fail('a day such as "monday" or "the 1st"')

    def days(self) -> set[int]:
        found = self.day()
        while self.continues(self.is_day):
            found |= self.day()
        return found

    def day(self) -> set[int]:
        w = self.take().word
        if w in ("day", "days"):
            return set(range(7))
        if w in ("weekday", "weekdays"):
            return set(range(5))
        if w in ("weekend", "weekends"):
            return {5, 6}
        return self.name_range(DAYNAMES[w], DAYNAMES, 7, 'a day such as "friday"')

    def name_range(self, lo: int, names: dict[str, int], size: int, expected: str) -> set[int]:
        """``lo`` alone, or ``lo - hi`` / ``lo to hi`` (wrapping around the week or year)."""
        if not self.accept("-", "to", "through", "thru", "until", "till"):
            return {lo}
        if self.word() not in names:
            self.fail(expected)
        hi = names[self.take().word]
        base = min(names.values())
        return {base + (lo - base + k) % size for k in range((hi - lo) % size + 1)}

    def times(self, first: int) -> None:
        self.phrase.times.append(self.time())
        while self.continues(self.is_time):
            self.phrase.times.append(self.time())
        self.claim("times", first)

    def time(self) -> Time:
        token = self.tok()
        if token is None or not self.is_time():
            self.fail('a time such as "9:30 am", "17:00" or "noon"')
        self.take()
        if token.word in ("noon", "midnight"):
            return (12 if token.word == "noon" else 0, 0, 0)
        h, m, s = token.time if token.kind == "time" else (token.number, 0, 0)
        suffix = self.word() if self.word() in ("am", "pm") else ""
        self.accept("am", "pm")
        self.accept("oclock")
        if (suffix and not 1 <= h <= 12) or h > 23 or m > 59 or s > 59:
            self.invalid("invalid time", token)
        if suffix:
            h = h % 12 + (12 if suffix == "pm" else 0)
        return (h, m, s)

    def nths(self, first: int) -> None:
        self.nth()
        while self.continues(self.is_nth):
            self.nth()
        self.accept("day", "days")
        self.claim("days of the month", first)
        if self.word() in ("of", "in") and (self.is_month(1) or self.word(1) in _MONTH_LEADS):
            self.months(self.i)

    def nth(self) -> None:
        self.accept("the")
        token = self.take()
        n = token.number if token.kind == "ord" else ORDINALS[token.word]
        after = self.tok(1)  # "instance" is no word of conveyor's grammar
        instance = after is not None and after.text.lower() == "instance"
        later_unit = instance or (self.word(1), self.word(3)) in _OF_YEAR_WEEK
        if later_unit and n > 59:  # later.js's numbers stop at 59
            self.invalid(f"invalid {_LATER_DAYS[self.word(3)]} (0 to 59)", token)
        if UNITS.get(self.word(), "day") != "day" or later_unit:  # "on the 15th minute",
            self.fail('"day" or a day such as "monday"')  # "... day of the year": later.js's
        if self.word() in DAYNAMES:
            if not (1 <= n <= 5 or n == -1):
                self.invalid("invalid week of the month", token)
            self.phrase.nth.add((DAYNAMES[self.take().word], n))
            return
        self.accept("day")
        if not (1 <= n <= 31 or n == -1):
            self.invalid("invalid day of the month", token)
        self.phrase.monthdays.add(n)

    def months(self, first: int) -> None:
        self.take()  # "of" / "in"
        self.accept(*_MONTH_LEADS[:3])
        if self.word() in ("month", "months"):  # "every 5 days of the month"
            if self.phrase.every and self.phrase.every[1] == "week":  # later.js's weeks
                self.fail('a month such as "january"')
            self.take()
            return
        if not self.is_month():
            self.fail('a month such as "january"')
        found = self.month()
        while self.continues(self.is_month):
            found |= self.month()
        self.phrase.months |= found
        self.claim("months", first)

    def month(self) -> set[int]:
        lo = MONTHS[self.take().word]
        return self.name_range(lo, MONTHS, 12, 'a month such as "march"')

    def between(self, first: int) -> None:
        self.take()
        self.accept("the")
        lo = self.bound()
        if not self.accept("and", "to", "-", "until", "till", "through", "thru"):
            self.fail('"and" followed by the end of the range')
        self.accept("the")
        hi = self.bound()
        unit = UNITS[self.take().word] if self.word() in UNITS else None
        if isinstance(lo[0], int) != isinstance(hi[0], int):  # "between 9 and 5 pm": times
            lo, hi = self.as_time(*lo), self.as_time(*hi)
        self.claim("range", first)
        self.phrase.between = Between(lo[0], hi[0], unit, self.phrase.spans["range"])

    def bound(self) -> tuple[int | Time, Token]:
        token = self.tok()
        if token is None or not (token.kind == "ord" or self.is_time()):
            self.fail('a time such as "9 am" or a rank such as "5th"')
        if token.kind in ("ord", "num") and self.word(1) not in ("am", "pm", "oclock"):
            self.take()
            if self.word() in UNITS and self.word(1) in ("and", "to", "-", "until", "till"):
                self.take()  # "between the 5th hour and the 10th hour"
            return token.number, token
        return self.time(), token

    def as_time(self, bound: int | Time, token: Token) -> tuple[Time, Token]:
        if not isinstance(bound, int):
            return bound, token
        if token.kind != "num" or bound > 23:
            self.invalid("invalid time", token)
        return (bound, 0, 0), token
