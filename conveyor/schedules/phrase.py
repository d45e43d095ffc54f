"""What plain-English schedule text says (``Phrase``), and the errors reading it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from conveyor.errors import ScheduleError
from conveyor.schedules.lexer import Time

EXAMPLES = '"every 15 minutes", "every weekday at 9:30 am", "0 3 * * *"'


@dataclass(frozen=True)
class Span:
    """Where a clause was written: its first word's position and its text."""

    pos: int
    text: str


@dataclass(frozen=True)
class Between:
    """``between A and B``: ranks of ``unit`` (None = the interval's unit) or times of day."""

    lo: int | Time
    hi: int | Time
    unit: str | None
    span: Span


@dataclass
class Phrase:
    """What the text says, before it is turned into a plan."""

    text: str
    every: tuple[int, str] | None = None  # (count, unit)
    weekdays: set[int] = field(default_factory=set)  # Monday=0
    nth: set[tuple[int, int]] = field(default_factory=set)  # (weekday, 1..5 or -1)
    monthdays: set[int] = field(default_factory=set)  # 1..31, -1 = last
    months: set[int] = field(default_factory=set)
    times: list[Time] = field(default_factory=list)
    between: Between | None = None
    once: bool = False
    delay: tuple[int, str] | None = None
    spans: dict[str, Span] = field(default_factory=dict)  # clause kind -> where it was said


class WordError(ScheduleError):
    """A word the English grammar could not read (the later.js grammar may still read it)."""


def error(text: str, detail: str, cls: type[ScheduleError] = ScheduleError) -> ScheduleError:
    """The user-facing error for unreadable English."""
    return cls(f'cannot read schedule "{text}": {detail}; examples: {EXAMPLES}')
