"""SPEC §12: inline, run_until_idle, FakeClock and enqueued, exactly as written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)


def test_inline_runs_nested_triggers_durable_waits_and_failures(app: Conveyor) -> None:
    @app.job
    def double(x):
        return 2 * x

    @app.job
    def fan(x, meta):
        return meta.jobs.double(x).run_now().result(timeout=10)

    @app.job
    async def patient(x, io):
        await io.wait("nap", 3, "days")
        return await io.task("step", lambda: x + 1)

    @app.job(retry=Retry(retries=3, wait=3600))
    def hopeless():
        raise Fail("no way")

    with inline(app):
        assert fan(4).run_now().result(timeout=0) == 8
        assert patient(1).run_now().result(timeout=0) == 2
        failed = hopeless().run_now()
        with pytest.raises(JobFailed):
            failed.result(timeout=0)
    assert record_of(app, failed.id).state == "failed"
    assert record_of(app, failed.id).attempts == 1
    assert app.count(state="completed") == 3


def test_run_until_idle_runs_only_what_is_due(open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=START)

    @app.job
    def step(n, meta):
        if n:
            meta.jobs.step(n - 1).run_now()
        return n

    later = step(0).run_in(1, "second")
    step(3).run_now()
    run_until_idle(app)
    assert app.count(state="completed") == 4
    assert record_of(app, later.id).state == "scheduled"
    clock.advance(999, "milliseconds")
    run_until_idle(app)
    assert record_of(app, later.id).state == "scheduled"
    clock.advance(1, "millisecond")
    run_until_idle(app, clock=clock)
    assert record_of(app, later.id).state == "completed"


def test_fake_clock_moves_calendar_units_and_refuses_nonsense(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    assert clock.now() == START
    clock.advance(1, "month")  # Jan 31 + 1 month = Feb 28 (2030 is not a leap year)
    assert clock.now() == datetime(2030, 2, 28, 12, 0, tzinfo=UTC)
    clock.advance(1.5, "hours")
    assert clock.now() == datetime(2030, 2, 28, 13, 30, tzinfo=UTC)
    clock.advance(1, "quarter")
    clock.advance(2, "weeks")
    assert clock.now() == datetime(2030, 5, 28, 13, 30, tzinfo=UTC) + timedelta(weeks=2)
    for n, unit in ((1, "fortnight"), (-1, "second"), (float("nan"), "second"),
                    (float("inf"), "day")):
        with pytest.raises(ValueError):
            clock.advance(n, unit)
    assert clock.now() == datetime(2030, 6, 11, 13, 30, tzinfo=UTC)


def test_fake_clock_drives_retries_schedules_and_durable_waits(
        open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=datetime(2030, 1, 7, 8, 0, tzinfo=UTC))
    ticks: list[datetime] = []

    @app.job(trigger=app.every("15 minutes"))
    def tick():
        ticks.append(clock.now())

    @app.job(retry=Retry(retries=1, wait=120))
    def flaky(meta):
        if meta.attempt == 1:
            raise RuntimeError("once")
        return "second"

    @app.job
    async def sleeper(io):
        await io.wait("rest", 2, "days")
        return "rested"

    retried = flaky().run_now()
    slept = sleeper().run_now()
    run_until_idle(app)
    assert record_of(app, retried.id).state == "scheduled"
    assert record_of(app, slept.id).state == "waiting"
    clock.advance(2, "minutes")
    run_until_idle(app)
    assert retried.result(timeout=0) == "second"
    clock.advance(2, "days")
    run_until_idle(app)
    assert slept.result(timeout=0) == "rested"
    assert ticks == [clock.now()]  # the missed occurrences run once, not once per miss


def test_enqueued_filters_by_job_and_payload_subset(app: Conveyor) -> None:
    @app.job
    def mail(payload):
        return payload

    @app.job
    def ship(order_id, express=False):
        return order_id

    first = mail({"to": "ann", "shop": {"id": 1}}).run_now()
    mail({"to": "bob"}).run_in(1, "day")
    ship(order_id=7, express=True).run_now()
    assert [r.id for r in enqueued(app, mail, to="ann")] == [first.id]
    assert len(enqueued(app, "mail")) == 2
    assert len(enqueued(app)) == 3
    assert enqueued(app, ship, order_id=7)[0].kwargs == {"order_id": 7, "express": True}
    assert enqueued(app, ship, order_id=8) == []
    assert enqueued(app, mail, shop={"id": 1})[0].id == first.id
    assert enqueued(app, mail, to="nobody") == []

