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
    """Time for an app's schedules, delays, retries and durable waits, moved by
    :meth:`advance` instead of by sleeping.

    ``FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC))`` starts at once (default
    start: now); time then flows normally from ``start`` until advanced. Stop it with
    :meth:`stop` or use it as a context manager (the pytest plugin stops clocks a test
    left running). It moves Python's clock in this process (``time.time``,
    ``datetime.now``) with ``time-machine``; the memory and SQLite stores decide due times
    on that clock.
    """

    def __init__(self, app: Conveyor, start: datetime | None = None) -> None:
        try:
            import time_machine
        except ImportError:  # pragma: no cover - the testing extra installs it
            raise ConfigurationError(
                "FakeClock needs time-machine: pip install 'conveyor[testing]'"
            ) from None
        if app.url.startswith(("postgresql:", "postgres:")):
            raise ConfigurationError(
                "FakeClock moves the Python clock, which PostgreSQL does not read; "
                "use Conveyor('memory://') or a SQLite URL in tests that move time"
            )
        self.app = app
        when = to_utc(start, app.timezone) if start is not None else datetime.now(UTC)
        self._traveller = time_machine.travel(when, tick=True)
        self._coordinates: Any = self._traveller.start()
        ACTIVE.append(self)

    def now(self) -> datetime:
        """The current fake time (aware, UTC)."""
        return datetime.now(UTC)

    def advance(self, n: float, unit: str = "seconds") -> datetime:
        """Move time forward ``n`` units (the units of ``run_in``; month and longer are
        calendar steps); returns the new time. Run what became due with
        ``run_until_idle(app)``."""
        unit = normalize_unit(unit)
        check_amount(n, unit)
        now = self.now()
        seconds = fixed_seconds(n, unit)
        target = now + timedelta(seconds=seconds) if seconds is not None else (
            add_interval(now, n, unit)
        )
        return self.move_to(target)

    def move_to(self, when: datetime) -> datetime:
        """Move time to ``when`` (not backwards)."""
        target = to_utc(when, self.app.timezone)
        delta = target - self.now()
        if delta > timedelta(0):
            self._coordinates.shift(delta)
        return self.now()

    def stop(self) -> None:
        """Give the process its real clock back."""
        if self in ACTIVE:
            ACTIVE.remove(self)
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
