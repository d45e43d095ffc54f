"""SPEC §4 — ``raise conveyor.RetryIn(...)``: every way of saying when, and a bad delay fails
that attempt (with what was wrong) instead of stopping the worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, JobRecord, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2031, 1, 31, 12, 0, tzinfo=UTC)


def _retried_once(app: Conveyor, *delay: object) -> JobRecord:
    """Run a job whose first attempt raises ``RetryIn(*delay)``; its record afterwards."""
    @app.job(retry=Retry(retries=0))
    def later(meta: object) -> int:
        if meta.attempt == 1:  # type: ignore[attr-defined]
            raise RetryIn(*delay)  # type: ignore[arg-type]
        return meta.attempt  # type: ignore[attr-defined, no-any-return]

    with FakeClock(app, start=START) as clock:
        handle = later().run_now()
        run_until_idle(app, clock)
    record = app.get_job(handle.id)
    assert record is not None
    return record


@pytest.mark.parametrize(("delay", "run_at"), [
    ((90,), START + timedelta(seconds=90)),
    ((2.5,), START + timedelta(seconds=2.5)),
    ((2, "hours"), START + timedelta(hours=2)),
    ((1, "Week"), START + timedelta(weeks=1)),
    ((timedelta(minutes=5),), START + timedelta(minutes=5)),
    (("5 minutes",), START + timedelta(minutes=5)),
    ((1, "month"), datetime(2031, 2, 28, 12, 0, tzinfo=UTC)),  # a calendar step
    ((1, "quarter"), datetime(2031, 4, 30, 12, 0, tzinfo=UTC)),
])
def test_retry_in_reschedules_after_the_delay(
    app: Conveyor, delay: tuple[object, ...], run_at: datetime
) -> None:
    record = _retried_once(app, *delay)
    assert (record.state, record.run_at, record.attempts) == ("scheduled", run_at, 1)


@pytest.mark.parametrize(("delay", "says"), [
    ((-1,), ">= 0"),
    ((float("nan"),), "finite"),
    ((1, "fortnight"), "fortnight"),
    ((1.5, "months"), "whole number"),
    (("soon",), "soon"),
    ((None,), "None"),
])
def test_a_bad_retry_in_fails_the_attempt_and_the_worker_goes_on(
    app: Conveyor, delay: tuple[object, ...], says: str
) -> None:
    record = _retried_once(app, *delay)
    assert record.state == "failed"
    assert record.error is not None
    assert "RetryIn" in record.error["message"]
    assert says in record.error["message"]

    @app.job
    def after() -> str:
        return "still working"

    handle = after().run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == "still working"
