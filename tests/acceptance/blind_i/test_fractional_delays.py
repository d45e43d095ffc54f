"""SPEC §3, §4 and §12 together: a fractional delay (``run_in(13.7, "seconds")``, a
``Retry`` wait of 7.7 s, ``RetryIn(0.7)``, a durable wait) is due once a ``FakeClock`` has
moved by that same amount, on every store. The sum of the clock's epoch seconds and the
delay used to land a hair past that instant, read back one microsecond late, so the job
was not due yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle

AMOUNTS = [0.1, 0.3, 0.7, 0.9, 1.1, 3.3, 7.7, 11.3, 13.7, 0.123]
START = datetime(2030, 1, 1, tzinfo=UTC)


def _each_amount_is_due_after_it(app: Conveyor, trigger: Any) -> None:
    late = []
    with FakeClock(app, start=START) as clock:
        for n in AMOUNTS:
            handle = trigger(n)
            run_until_idle(app, clock=clock)
            clock.advance(n, "seconds")
            run_until_idle(app, clock=clock)
            record = app.get_job(handle.id)
            assert record is not None
            if record.state != "completed":
                late.append((n, record.state, record.run_at, clock.now()))
    assert late == []


def test_run_in_a_fraction_of_seconds(app: Conveyor) -> None:
    @app.job
    def plain() -> int:
        return 1

    def trigger(n: float) -> Any:
        handle = plain().run_in(n, "seconds")
        record = app.get_job(handle.id)
        assert record is not None and record.run_at is not None
        assert record.run_at - record.created_at == timedelta(seconds=n)
        return handle

    _each_amount_is_due_after_it(app, trigger)


def test_a_fractional_retry_wait(app: Conveyor) -> None:
    def trigger(n: float) -> Any:
        @app.job(f"flaky-{n}", retry=Retry(retries=1, wait=n))
        def flaky(meta: Any) -> None:
            if meta.attempt == 1:
                raise RuntimeError("once")

        return flaky().run_now()

    _each_amount_is_due_after_it(app, trigger)


def test_a_fractional_retry_in(app: Conveyor) -> None:
    @app.job
    def again(n: float, meta: Any) -> None:
        if meta.attempt == 1:
            raise RetryIn(n, "seconds")

    _each_amount_is_due_after_it(app, lambda n: again(n).run_now())


def test_a_fractional_durable_wait(app: Conveyor) -> None:
    @app.job
    async def sleeper(n: float, io: Any) -> str:
        await io.wait("nap", n, "seconds")
        return "up"

    _each_amount_is_due_after_it(app, lambda n: sleeper(n).run_now())


@pytest.mark.parametrize("n", [13.7, 7.7])
def test_the_record_shows_the_due_time_to_the_microsecond(app: Conveyor, n: float) -> None:
    @app.job("flaky", retry=Retry(retries=1, wait=n))
    def flaky() -> None:
        raise RuntimeError("always")

    with FakeClock(app, start=START + timedelta(milliseconds=544)) as clock:
        handle = flaky().run_now()
        run_until_idle(app, clock=clock)
        record = app.get_job(handle.id)
        assert record is not None and record.history[0].finished_at is not None
        assert record.run_at == record.history[0].finished_at + timedelta(seconds=n)
