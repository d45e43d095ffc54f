"""Priorities: the level names and :class:`Priority`, the int a record gives back."""

from __future__ import annotations

from typing import Any

from conveyor.errors import ConfigurationError

LEVELS = {"low": -10, "normal": 0, "medium": 5, "high": 10, "critical": 20}
_NAMES = {value: name for name, value in LEVELS.items()}
_HELP = (
    "accepted: low, normal, medium, high, critical or an int from -2147483648 to "
    "2147483647 (higher runs first)"
)


def priority_value(value: object) -> int:
    """A priority name (low < normal < medium < high < critical, any case) or an int
    that every store holds (int32); None is normal."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
        return int(value)
    if isinstance(value, str) and value.strip().lower() in LEVELS:
        return LEVELS[value.strip().lower()]
    raise ConfigurationError(f"invalid priority {value!r}; {_HELP}")


def _level(other: object) -> int | None:
    """``other`` as a number to compare with: an int, or a level name's value."""
    if isinstance(other, str):
        return LEVELS.get(other.strip().lower())
    if isinstance(other, int) and not isinstance(other, bool):
        return int(other)
    return None


def _number(other: Any) -> Any:
    """``other`` for an int comparison: a level name as its value, anything else as is."""
    level = _level(other) if isinstance(other, str) else None
    return other if level is None else level


class Priority(int):
    """A stored priority: an int (it sorts, adds and serialises as its number) that also
    equals its level name when it is one: ``Priority(10) == 10 == "high"``; ``.name`` is
    that name (None for other numbers). Sets and dicts hash it as the int."""

    __slots__ = ()

    def __new__(cls, value: int | str | None = 0) -> Priority:
        return super().__new__(cls, priority_value(value))

    @property
    def name(self) -> str | None:
        """The level name (low, normal, medium, high, critical), or None."""
        return _NAMES.get(int(self))

    @property
    def label(self) -> str:
        """The level name, else the number as text (what lists show)."""
        return self.name or str(int(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return _level(other) == int(self)
        return int.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = int.__hash__

    def __lt__(self, other: Any) -> bool:
        return int.__lt__(self, _number(other))

    def __le__(self, other: Any) -> bool:
        return int.__le__(self, _number(other))

    def __gt__(self, other: Any) -> bool:
        return int.__gt__(self, _number(other))

    def __ge__(self, other: Any) -> bool:
        return int.__ge__(self, _number(other))

    def __repr__(self) -> str:
        return f"Priority({self.name!r})" if self.name else f"Priority({int(self)})"

    __str__ = int.__repr__  # as IntEnum: str() and f-strings give the number


__all__ = ["LEVELS", "Priority", "priority_value"]
