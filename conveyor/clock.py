"""The clock seam: every time decision reads one clock.

``Conveyor(clock=None)`` (the default) decides due times and leases on the database clock,
in SQL (SQLite's is this host's). A clock given to ``Conveyor(clock=...)`` replaces it in
every decision: Python reads it here, and the stores pass it to SQL as a parameter, so
moving the clock (``conveyor.testing.FakeClock``) moves schedules, delays, retries,
leases, rescue, durable waits and purges together.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from conveyor.errors import ConfigurationError


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning an aware datetime."""

    def now(self) -> datetime: ...


def check(clock: object) -> Clock | None:
    """``clock`` if it is None or a usable clock; else a ConfigurationError."""
    if clock is None:
        return None
    if not callable(getattr(clock, "now", None)):
        raise ConfigurationError(
            f"invalid clock {clock!r}: give an object whose now() returns an aware datetime "
            "(e.g. conveyor.testing.FakeClock), or None for the database clock"
        )
    return clock  # type: ignore[return-value]


def epoch(clock: Clock | None) -> float:
    """Seconds since the epoch on ``clock`` (None: this host's clock)."""
    if clock is None:
        return time.time()
    value = clock.now()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ConfigurationError(
            f"clock.now() returned {value!r}: it must return an aware datetime, "
            "e.g. datetime.now(UTC)"
        )
    return value.timestamp()


def after_delay(now: float, delay: float) -> float:
    """``now`` + ``delay`` epoch seconds, on a whole microsecond: ``now`` and ``delay``
    are each rounded to whole microseconds before they are added, as a clock moved by
    ``timedelta(seconds=delay)`` (or ``FakeClock.advance``) moves, so that a job due in
    ``delay`` is due exactly ``delay`` on. Rounding their float sum instead could land a
    microsecond later (60.944099443 s from a whole second: 1 µs past the clock). The
    stores' SQL adds alike (``DUE_SQL``)."""
    at = now + delay
    if not math.isfinite(at):
        return at
    return (round(now * 1_000_000) + round(delay * 1_000_000)) / 1_000_000


#: ``after_delay`` in SQL, of the SQL expressions ``now`` and ``delay`` (PostgreSQL, SQLite).
DUE_SQL = "(round({now} * 1000000) + round({delay} * 1000000)) / 1000000"


def now(clock: Clock | None) -> datetime:
    """The current aware UTC datetime on ``clock`` (None: this host's clock)."""
    return datetime.fromtimestamp(epoch(clock), UTC)


__all__ = ["Clock", "check", "epoch", "now"]
