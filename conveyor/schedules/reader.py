"""Plain English -> plan: conveyor's grammar first, then the whole later.js grammar.

conveyor's own grammar (``english.py`` + ``build.py``) reads the common phrasings into
cron, rrule or interval plans (and its extensions: ``every day``, ``at noon``,
``every 90 minutes``...). Text it cannot read is read with later.js's grammar
(``latertext.py``) into a ``LaterPlan``. When neither reads it, the error names the word
of whichever reading got further. Texts conveyor's grammar reads but finds wrong
(``every 0 minutes``, ``every 15 minutes at 9:00``) are errors, whatever later.js says.
Parts joined by ``also``/``except`` may each use either grammar (``mixed.py``).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from conveyor.errors import ScheduleError
from conveyor.schedules.build import Compiled, compile_phrase
from conveyor.schedules.english import parse_english
from conveyor.schedules.laterexplain import describe
from conveyor.schedules.laterplan import LaterPlan
from conveyor.schedules.latertext import LaterSyntaxError, parse_later
from conveyor.schedules.mixed import mixed_error_word, phrase_specs, read_in_years, read_mixed
from conveyor.schedules.phrase import Phrase, WordError, error

_EXPECTED = {
    "rank": 'a number such as "5" or "15th"', "time": 'a time such as "10:15 am" or "17:00"',
    "dayName": 'a day such as "mon"', "monthName": 'a month such as "may"',
    "yearIndex": 'a year such as "2027"',
}  # fmt: skip


def read_english(text: str, zone: ZoneInfo, anchor: datetime) -> Compiled:
    """The plan for plain-English ``text`` (whitespace already collapsed)."""
    try:
        phrase = parse_english(text)
        years = _later_years(phrase)
        if years is not None:
            return Compiled("rrule", years, describe(years))
        return compile_phrase(phrase, zone, anchor)
    except WordError as own:
        if "ends too early" in str(own):  # "every 2 hours between 9": unfinished
            raise
        try:
            plan = parse_later(text)
        except LaterSyntaxError as later:
            mixed = read_mixed(text) or read_in_years(text)
            if mixed is None:
                raise _further(text, own, later) from None
            plan = mixed
        if not any(plan.schedules):  # "except at 9:00": later.js's schedule never fires
            if text.split()[0].lower() == "except":
                raise error(text, '"except" at position 1 needs a schedule before it, e.g. '
                            '"at 10:00 except on sat"') from None  # fmt: skip
            raise own from None
        return Compiled("rrule", plan, describe(plan))


def _later_years(p: Phrase) -> LaterPlan | None:
    """later.js's ``every 2 years [on mon] [at 9:00]`` (a count in digits) limits the years
    only (1970, 1972...): the rest holds in all of their months and days."""
    span = p.spans.get("interval")
    if not (p.every and p.every[1] == "year" and span and re.search(r"\d", span.text)):
        return None
    specs = phrase_specs(p)
    return LaterPlan(tuple(specs)) if specs else None


def _further(text: str, own: WordError, later: LaterSyntaxError) -> ScheduleError:
    """The error of the reading that got further into ``text``."""
    own_at = re.search(r"at position (\d+)", str(own))
    own_pos = int(own_at.group(1)) if own_at else len(text.split()) + 1
    words = list(re.finditer(r"\S+", text))
    later_pos = next((i for i, w in enumerate(words, 1) if w.end() > later.pos), len(words) + 1)
    if later_pos <= own_pos:
        joiner = re.search(r'unknown word "(also|except)"', str(own))
        part = mixed_error_word(text) if joiner else None
        if joiner is None or part is None:
            return own
        return error(text, f'"{joiner.group(1)}" at position {own_pos} joins schedules, but '
                     f'"{part}" cannot be joined: write it in later.js\'s words (e.g. "every 2 '
                     'hours between the 9th and 17th" for "every 2 hours between 9 am and '
                     '5 pm") or as a schedule of its own')  # fmt: skip
    if later_pos > len(words):
        return error(text, f'it ends too early, after "{words[-1].group()}"')
    word = words[later_pos - 1].group()
    kinds = later.expected.split(" or ")
    expected = _EXPECTED.get(kinds[0], "") if len(kinds) == 1 else ""
    hint = f" (expected {expected})" if expected else ""
    return error(text, f'unexpected word "{word}" at position {later_pos}{hint}')
