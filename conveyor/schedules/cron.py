"""Cron expressions, read and explained by cronsim.

Five fields (minute hour day-of-month month day-of-week) or six with the seconds
field FIRST (cronsim's order); ``@hourly``-style aliases; names (``MON``, ``JAN``);
``L`` (last day of the month, or ``5L`` = last Friday), ``LW`` and ``#``
(``MON#2`` = second Monday); ``?`` is read as ``*``.
"""

from __future__ import annotations

import re
from datetime import datetime

from cronsim import CronSim, CronSimError

from conveyor.errors import ScheduleError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "L", "W", "LW",
}  # fmt: skip
_FIELD = re.compile(r"[0-9*?/,#A-Za-z-]+")
_FIELDS = ["minute", "hour", "day-of-month", "month", "day-of-week"]
_SHAPE = "minute hour day-of-month month day-of-week, optionally preceded by second"


def looks_like_cron(text: str) -> bool:
    """True for ``@word…``, or 3+ cron-character fields all but one of them cron-like."""
    fields = text.split()
    if fields and fields[0].startswith("@") and fields[0][1:].isalpha():
        return True
    if len(fields) < 3 or not all(_FIELD.fullmatch(f) for f in fields):
        return False
    return sum(not _is_field(f) for f in fields) <= 1 and _is_field(fields[0])


def _is_field(text: str) -> bool:
    return all(word.upper() in _NAMES for word in re.findall(r"[A-Za-z]+", text))


def parse_cron(text: str) -> str:
    """Validate cron text; return it with whitespace collapsed and any alias expanded."""
    fields = text.split()
    if fields and fields[0].startswith("@"):
        alias = fields[0].lower()
        if alias not in ALIASES or len(fields) > 1:
            known = ", ".join(ALIASES)
            raise _error(text, f'unknown alias "{fields[0]}"; aliases: {known}')
        return ALIASES[alias]
    if len(fields) not in (5, 6):
        raise _error(text, f"expected 5 or 6 fields ({_SHAPE}), got {len(fields)}")
    expr = " ".join("*" if f == "?" else f for f in fields)
    try:
        CronSim(expr, datetime(2000, 1, 1))
    except CronSimError as exc:
        names = (["second"] if len(fields) == 6 else []) + _FIELDS
        bad = str(exc).removeprefix("Bad ").strip()
        if bad in names:
            value = fields[names.index(bad)]
            raise _error(text, f'bad {bad} field "{value}"') from None
        raise _error(text, str(exc)) from None
    return expr


def explain_cron(expr: str) -> str:
    """cronsim's English sentence for a validated expression, e.g. "At 03:00 every day"
    (its "21th", "22th", "23th", "31th" spelled right)."""
    text = str(CronSim(expr, datetime(2000, 1, 1)).explain())
    return _WRONG_ORDINAL.sub(lambda m: m[1] + m[2] + {"1": "st", "2": "nd", "3": "rd"}[m[2]], text)


# 1th 2th 3th after a tens digit other than 1 (cronsim writes every ordinal with "th").
_WRONG_ORDINAL = re.compile(r"\b((?:\d*[02-9])?)([123])th\b")


def _error(text: str, detail: str) -> ScheduleError:
    return ScheduleError(f'cannot read cron expression "{text.strip()}": {detail}; examples: '
                         f'{_EXAMPLES}')


_EXAMPLES = '"0 3 * * *" (03:00 every day), "*/15 * * * *", "0 9 * * 1-5", "@daily"'
