"""FakeClock: move an app's time forward without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.timeunits import add_interval, check_amount, fixed_seconds, normalize_unit, to_utc

if TYPE_CHECKING:
    from conveyor.app import Conveyor

# Clocks started and not stopped yet (the pytest plugin stops them after each test).
ACTIVE: list[FakeClock] = []


class FakeClock:
    """Time for an app's schedules, delays, retries, leases and durable waits, moved by
    :meth:`advance` instead of by sleeping, on every store.

    ``FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC))`` becomes the app's clock at
    once (default start: now) and stands still until advanced. Stop it with :meth:`stop`
    or use it as a context manager (the pytest plugin stops clocks a test left running).
    With ``time-machine`` installed (the ``testing`` extra) Python's own clock in this
    process (``time.time``, ``datetime.now``) shows the same time, so job code that reads
    it agrees; ``patch_python=False`` leaves Python's clock alone.
    """

    def __init__(
        self, app: Conveyor, start: datetime | None = None, *, patch_python: bool = True
    ) -> None:
        self.app = app
        self._at = to_utc(start, app.timezone) if start is not None else datetime.now(UTC)
        self._previous = app.clock
        self._traveller: Any = None
        if patch_python:
            try:
                import time_machine
            except ImportError:
                pass
            else:
                self._traveller = time_machine.travel(self._at, tick=False)
                self._coordinates: Any = self._traveller.start()
        app.use_clock(self)
        ACTIVE.append(self)

    def now(self) -> datetime:
        """The current fake time (aware, UTC)."""
        return self._at

    def advance(self, n: float | timedelta, unit: str = "seconds") -> datetime:
        """Move time forward ``n`` units (the units of ``run_in``; month and longer are
        calendar steps) or by a ``timedelta``; returns the new time. Run what became due
        with ``run_until_idle(app)``."""
        if isinstance(n, timedelta):
            if n < timedelta(0):
                raise ConfigurationError(f"cannot advance by {n!r}: time only moves forward; "
                                         "accepted: a timedelta >= 0 or advance(n, unit)")
            return self.move_to(self._at + n)
        unit = normalize_unit(unit)
        check_amount(n, unit)
        seconds = fixed_seconds(n, unit)
        target = self._at + timedelta(seconds=seconds) if seconds is not None else (
            add_interval(self._at, n, unit)
        )
        return self.move_to(target)

    def move_to(self, when: datetime) -> datetime:
        """Move time to ``when`` (never backwards)."""
        target = to_utc(when, self.app.timezone).astimezone(UTC)
        if target > self._at:
            self._at = target
            if self._traveller is not None:
                self._coordinates.move_to(target)
            if self.app.clock is self:
                self.app.store.wake()  # a running worker looks at once, not at its next poll
        return self._at

    def stop(self) -> None:
        """Give the app (and Python) the real clock back."""
        if self in ACTIVE:
            ACTIVE.remove(self)
            if self.app.clock is self:
                self.app.use_clock(self._previous)
            if self._traveller is not None:
                self._traveller.stop()

    def __enter__(self) -> FakeClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def clock_of(app: Conveyor) -> FakeClock | None:
    """The running FakeClock of ``app``, if any."""
    for clock in reversed(ACTIVE):
        if clock.app is app:
            return clock
    return None


def stop_all() -> None:
    """Stop every FakeClock still running (newest first)."""
    for clock in reversed(list(ACTIVE)):
        clock.stop()
