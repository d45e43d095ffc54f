"""SPEC §12 helpers on both stores (and the plugin's memory app): ``inline`` with errors,
durable waits and dedupe options, ``FakeClock.advance`` over calendar units and bad
amounts, ``enqueued`` with unicode payload subsets, ``run_until_idle`` with a clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle


@pytest.fixture
def clock(app: Conveyor) -> FakeClock:
    return FakeClock(app, start=datetime(2027, 1, 31, 12, tzinfo=UTC))


@pytest.mark.parametrize("n, unit, expected", [
    (1, "month", datetime(2027, 2, 28, 12, tzinfo=UTC)),
    (1, "quarter", datetime(2027, 4, 30, 12, tzinfo=UTC)),
    (1, "year", datetime(2028, 1, 31, 12, tzinfo=UTC)),
    (0, "seconds", datetime(2027, 1, 31, 12, tzinfo=UTC)),
    (1.5, "hours", datetime(2027, 1, 31, 13, 30, tzinfo=UTC)),
    (0.5, "week", datetime(2027, 2, 4, tzinfo=UTC)),
    (250, "milliseconds", datetime(2027, 1, 31, 12, 0, 0, 250000, tzinfo=UTC)),
])
def test_advance_moves_by_fixed_and_calendar_steps(clock: FakeClock, n: float, unit: str,
                                                   expected: datetime) -> None:
    clock.advance(n, unit)
    assert clock.now() == expected


@pytest.mark.parametrize("n, unit", [(-1, "second"), (float("nan"), "second"),
                                     (float("inf"), "day"), (1, "fortnight"),
                                     (1.5, "months")])
def test_advance_refuses_bad_amounts_listing_what_is_accepted(clock: FakeClock, n: float,
                                                              unit: str) -> None:
    before = clock.now()
    with pytest.raises(ValueError) as caught:
        clock.advance(n, unit)
    assert "accepted" in str(caught.value) or "whole number" in str(caught.value)
    assert clock.now() == before


def test_the_clock_drives_delays_retries_and_durable_waits(app: Conveyor,
                                                           clock: FakeClock) -> None:
    @app.job(retry=Retry(retries=1, wait="1 day"))
    def flaky(meta: Any) -> int:
        if meta.attempt == 1:
            raise ValueError("pas encore ✗")
        return meta.attempt

    @app.job
    async def patient(io: Any) -> str:
        await io.wait("month", 1, "month")
        return "réveillé"

    delayed, retried, slept = flaky().run_in(2, "quarters"), flaky().run_now(), patient().run_now()
    run_until_idle(app, clock=clock)
    assert [app.get_job(h.id).state for h in (delayed, retried, slept)] == [
        "scheduled", "scheduled", "waiting"]

    clock.advance(1, "day")
    run_until_idle(app, clock=clock)
    assert retried.result(timeout=30) == 2
    clock.advance(1, "month")
    run_until_idle(app, clock=clock)
    assert slept.result(timeout=30) == "réveillé"
    assert app.get_job(delayed.id).state == "scheduled"
    clock.advance(2, "quarters")
    run_until_idle(app, clock=clock)
    after = app.get_job(delayed.id)  # attempt 1 failed; its retry is a day out
    assert (after.state, after.attempts) == ("scheduled", 1)


def test_enqueued_filters_by_job_and_unicode_payload_subset(app: Conveyor) -> None:
    @app.job("ïmport")
    def importer(payload: Any) -> None: ...

    @app.job
    def keyworded(shop: str = "", n: int = 0) -> None: ...

    a = importer({"shop": "Café ☕", "n": 0, "deep": {"x": 1}}).run_now()
    b = keyworded(shop="Café ☕", n=1).run_now()
    importer({"shop": "other"}).run_in(1, "day")

    assert [r.id for r in enqueued(app, job="ïmport", shop="Café ☕")] == [a.id]
    assert sorted(r.id for r in enqueued(app, shop="Café ☕")) == sorted([a.id, b.id])
    assert [r.id for r in enqueued(app, n=0)] == [a.id]
    assert [r.id for r in enqueued(app, deep={"x": 1})] == [a.id]
    assert enqueued(app, shop="nobody") == []
    assert len(enqueued(app, job="ïmport")) == 2


def test_inline_runs_each_trigger_inside_the_call(app: Conveyor) -> None:
    @app.job
    def double(x: int) -> int:
        return x * 2

    @app.job
    def broken() -> None:
        raise ValueError("cassé ✗")

    @app.job
    async def sleepy(x: int, io: Any) -> int:
        await io.wait("long", 365, "days")
        return int(await io.task("t", double_it, x))

    def double_it(x: int) -> int:
        return x * 2

    with inline(app):
        assert double(0).run_now().result(timeout=30) == 0
        assert double(-4).run_in(3, "years").result(timeout=30) == -8
        assert sleepy(21).run_now().result(timeout=30) == 42
        failed = broken().run_now()
        with pytest.raises(JobFailed, match="cassé ✗"):
            failed.result(timeout=30)
    record = app.get_job(failed.id)
    assert record.state == "failed" and record.error["type"] == "ValueError"


def test_the_plugin_fixture_is_a_memory_app(conveyor_app: Conveyor) -> None:
    @conveyor_app.job("ünï")
    def uni(x: Any) -> Any:
        return x

    handle = uni({"✓": None}).run_now()
    run_until_idle(conveyor_app)
    assert handle.result(timeout=30) == {"✓": None}
