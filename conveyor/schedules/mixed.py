"""``also`` / ``except`` between parts written in either grammar.

``every day at noon also at 18:00 except on sat`` mixes conveyor's phrasings with
later.js's: each part between the joiners is read with later.js's grammar or, failing
that, with conveyor's, whose ``Phrase`` is turned into later.js constraints. Parts that
only conveyor's plans can say (``every 90 minutes``, ``between 9 am and 5 pm``, ``once``)
cannot be joined this way.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from conveyor.errors import ScheduleError
from conveyor.schedules.build import compile_phrase, later_daily
from conveyor.schedules.english import parse_english
from conveyor.schedules.laterplan import LaterPlan, Spec
from conveyor.schedules.latertext import LaterSyntaxError, parse_later
from conveyor.schedules.phrase import Phrase

_JOINERS = ("also", "except")
_STEPS = {"second": ("s", 0, 59), "minute": ("m", 0, 59), "hour": ("h", 0, 23),
          "day": ("D", 1, 31), "month": ("M", 1, 12), "year": ("Y", 1970, 2450)}  # fmt: skip
_PERIODS = {"second": 60, "minute": 60, "hour": 24, "day": 27, "month": 12, "year": 480}
_UTC, _CHECKED = ZoneInfo("UTC"), datetime(2000, 1, 1, tzinfo=UTC)


def read_mixed(text: str) -> LaterPlan | None:
    """The plan of ``text`` when it joins readable parts with also/except, else None."""
    words = text.split()
    if not any(word.lower() in _JOINERS for word in words):
        return None
    schedules: list[Spec] = []
    exceptions: list[Spec] = []
    target, part = schedules, []
    for word in [*words, "also"]:
        if word.lower() not in _JOINERS:
            part.append(word)
            continue
        if part:
            specs = _part_specs(" ".join(part))
            if specs is None:
                return None
            target.extend(specs)
        part = []
        if word.lower() == "except":
            target = exceptions
    return LaterPlan(tuple(schedules), tuple(exceptions)) if schedules else None


_IN_YEARS = re.compile(r"^(?P<head>.*\S)\s+in\s+(?P<years>\d{4}(?:\s*(?:,|and)\s*\d{4})*)$",
                       re.IGNORECASE)


def read_in_years(text: str) -> LaterPlan | None:
    """``every day at 9:00 in 2027``: a part either grammar reads, limited to some years
    (later.js's ``in YEAR``); None when ``text`` is not such a part."""
    found = _IN_YEARS.match(text)
    if found is None:
        return None
    years = tuple(sorted({int(y) for y in re.findall(r"\d{4}", found["years"])}))
    specs = _part_specs(found["head"]) if all(1970 <= y <= 2450 for y in years) else None
    if specs is None:
        return None
    return LaterPlan(tuple((*spec, ("Y", years)) for spec in specs))


def _part_specs(text: str) -> list[Spec] | None:
    try:
        plan = parse_later(text)
    except LaterSyntaxError:
        try:
            phrase = parse_english(text)
            compile_phrase(phrase, _UTC, _CHECKED)  # conveyor's own checks (clashes...)
        except ScheduleError:
            return None
        return phrase_specs(phrase)
    return [spec for spec in plan.schedules if spec] or None


def phrase_specs(p: Phrase) -> list[Spec] | None:
    """later.js constraints meaning the same as a conveyor phrase (None: they cannot)."""
    if p.once or p.delay or p.between:
        return None
    base: list[tuple[str, tuple[int, ...]]] = []
    if p.every is not None:
        n, unit = p.every
        if unit not in _STEPS or n > _PERIODS[unit] or (p.times and unit in ("second",
                                                                              "minute", "hour")):
            return None  # counted from creation, or a clash conveyor reports itself
        key, low, high = _STEPS[unit]
        base.append((key, tuple(range(low, high + 1, n))))
        if unit == "month" and not (p.monthdays or p.nth or p.weekdays or later_daily(p)):
            base.append(("D", (1,)))
    if p.months:
        base.append(("M", tuple(sorted(p.months))))
    if p.times:
        base.append(("t", tuple(sorted(h * 3600 + m * 60 + s for h, m, s in p.times))))
    days = sorted((d + 1) % 7 + 1 for d in p.weekdays) if len(p.weekdays) < 7 else []
    specs: list[Spec] = []
    # "the 5th and last day": the last day (0) in a spec of its own, as later.js's search
    # skips a 0 listed with other days on a month's last day
    numbered = tuple(sorted(d for d in p.monthdays if d != -1))
    for monthdays in [v for v in (numbered, (0,) * (-1 in p.monthdays)) if v] or [()]:
        if not (monthdays or days or not p.nth):
            continue
        plain = [*base, *([("D", monthdays)] if monthdays else [])]
        if days:
            plain.append(("d", tuple(days)))
        specs.append(tuple(plain) or (("D", tuple(range(1, 32))),))
    for weekday, n in sorted(p.nth):  # "the 3rd friday": a day instance of that day
        specs.append((*base, ("dc", (0 if n == -1 else n,)), ("d", ((weekday + 1) % 7 + 1,))))
    return specs


def mixed_error_word(text: str) -> str | None:
    """The first joined part neither grammar reads, for error messages."""
    for part in re.split(r"\b(?:also|except)\b", text, flags=re.IGNORECASE):
        if part.strip() and _part_specs(part.strip()) is None:
            return part.strip()
    return None
