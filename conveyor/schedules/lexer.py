"""Vocabulary and tokenizer for plain-English schedules.

Text is split into whitespace-separated words (``pos`` counts them from 1, as error
messages do), and each word into pieces: times (``9:30``), ordinals (``1st``), numbers,
vocabulary words (``3pm`` is ``3`` + ``pm``; ``a.m.`` is ``am``) and punctuation.
Words outside the vocabulary become ``unknown`` tokens for the parser to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

Time = tuple[int, int, int]
UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "second"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minute"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hour"),
    **dict.fromkeys(("day", "days"), "day"),
    **dict.fromkeys(("wk", "wks", "week", "weeks"), "week"),
    **dict.fromkeys(("month", "months"), "month"),
    **dict.fromkeys(("yr", "yrs", "year", "years"), "year"),
}
_DAY_STEMS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYNAMES = {
    **{stem: i for i, stem in enumerate(_DAY_STEMS)},
    **{name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday",
                                         "friday", "saturday", "sunday"))},
    "tues": 1, "weds": 2, "thur": 3, "thurs": 3,
}  # fmt: skip
DAYNAMES |= {name + "s": day for name, day in DAYNAMES.items() if name.endswith("day")}
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july",
                "august", "september", "october", "november", "december")  # fmt: skip
MONTHS = {name: i + 1 for i, name in enumerate(_MONTH_NAMES)}
MONTHS |= {name[:3]: i + 1 for i, name in enumerate(_MONTH_NAMES)} | {"sept": 9}
_NUMBER_NAMES = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve")  # fmt: skip
NUMBERS = {name: i + 1 for i, name in enumerate(_NUMBER_NAMES)}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1}
_KEYWORDS = {
    "every", "each", "other", "at", "@", "on", "the", "of", "in", "and", "or", "&", ",", "-",
    "to", "through", "thru", "until", "till", "between", "from", "am", "pm", "noon", "midnight",
    "oclock", "once", "daily", "everyday", "hourly", "weekly", "monthly", "yearly", "annually",
    "weekday", "weekdays", "weekend", "weekends",
}  # fmt: skip
VOCABULARY = _KEYWORDS | set(UNITS) | set(DAYNAMES) | set(MONTHS) | set(NUMBERS) | set(ORDINALS)
_PIECE = re.compile(
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)|(?P<ord>\d+(?:st|nd|rd|th))(?![a-z])|(?P<num>\d+)"
    r"|(?P<word>[a-z](?:[a-z.']*[a-z])?\.?)|(?P<punct>[,&@-])|(?P<other>\S+)"
)


@dataclass(frozen=True)
class Token:
    """One piece of the text: kind is time, ord, num, word, unknown; pos counts words from 1."""

    kind: str
    text: str
    pos: int
    start: int
    end: int
    word: str = ""
    number: int = 0
    time: Time = (0, 0, 0)


def _suffix(n: int) -> str:
    """The ordinal suffix of ``n``: 1st, 2nd, 3rd, 4th, 11th, 21st..."""
    if n % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; words outside the vocabulary become ``unknown`` tokens."""
    tokens: list[Token] = []
    for pos, chunk in enumerate(re.finditer(r"\S+", text.lower()), start=1):
        for m in _PIECE.finditer(chunk.group()):
            kind, piece = m.lastgroup or "other", m.group()
            start, end = chunk.start() + m.start(), chunk.start() + m.end()
            token = Token(kind, text[start:end], pos, start, end)
            if kind == "time":
                h, mi, *sec = (int(part) for part in piece.split(":"))
                token = replace(token, time=(h, mi, sec[0] if sec else 0))
            elif kind in ("ord", "num"):
                number = int(piece.rstrip("stndrh"))
                fits = kind == "num" or piece.endswith(_suffix(number))  # not "2th", "11st"
                token = replace(token, number=number, kind=kind if fits else "unknown")
            elif kind in ("word", "punct"):
                word = piece.replace(".", "").replace("'", "")
                token = replace(token, kind="word" if word in VOCABULARY else "unknown", word=word)
            else:
                token = replace(token, kind="unknown", text=text[chunk.start() : chunk.end()])
            tokens.append(token)
    return tokens
