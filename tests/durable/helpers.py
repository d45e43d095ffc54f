"""Helpers for durable-run tests: an app on a manual clock, burst workers run until a run
finishes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from conveyor import Conveyor, JobHandle, JobRecord
from conveyor.testing.conformance.helpers import ManualClock

# The runs sleep on a clock that moves only when finish() moves it: a burst worker always
# leaves them asleep (settle), however slow the machine, and no test waits for the nap.
NAP = 30
T0 = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(name="app")
def clocked_app(store_url: str) -> Iterator[Conveyor]:
    """``app``, where a module imports this: a Conveyor app on an empty store of each kind,
    on a :class:`ManualClock` at ``T0``."""
    application = Conveyor(store_url, lease=2, clock=ManualClock(T0))
    yield application
    application.close()


def finish(app: Conveyor, handle: JobHandle, timeout: float = 10.0) -> JobRecord:
    """Run burst workers (waits included) until the run finishes; returns its record. On
    an app with a :class:`ManualClock` the clock moves a minute between the workers (past
    the sleeps and retry delays of these tests) instead of the test sleeping."""
    deadline = time.monotonic() + timeout
    while True:
        app.run_worker(burst=True)
        record = app.get_job(handle.id)
        assert record is not None
        if record.finished:
            return record
        if time.monotonic() > deadline:
            pytest.fail(f"run {handle.id} did not finish within {timeout} s ({record.state})")
        if isinstance(app.clock, ManualClock):
            app.clock.advance(minutes=1)
        else:
            time.sleep(0.02)


def settle(app: Conveyor, handle: JobHandle) -> JobRecord:
    """Run one burst worker and return the run's record (e.g. asleep in ``waiting``)."""
    app.run_worker(burst=True)
    record = app.get_job(handle.id)
    assert record is not None
    return record
