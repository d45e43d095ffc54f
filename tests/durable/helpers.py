"""Helpers for durable-run tests: run burst workers until a run finishes."""

from __future__ import annotations

import time

import pytest

from conveyor import Conveyor, JobHandle, JobRecord
from conveyor.testing.conformance.helpers import ManualClock


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
