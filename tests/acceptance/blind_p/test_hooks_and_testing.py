"""SPEC §11 hooks and logs, §12 testing helpers, each in its sync and async form."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, chain
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2031, 1, 31, 9, 0, tzinfo=UTC)


def test_hooks_see_the_stored_state_and_may_trigger_jobs(app: Conveyor) -> None:
    seen: list[tuple[str, str, str, bool]] = []

    def note(event: str) -> Any:
        def hook(record: Any, error: Any = None) -> None:
            seen.append((event, record.job, record.state, error is not None))
        return hook

    for event in ("started", "completed", "failed", "retrying"):
        app.on(event)(note(event))

    @app.on("failed")
    async def alert(record: Any, error: Any = None) -> None:
        notify(record.id).run_now()

    @app.job
    def notify(run_id):
        return f"alerted about {run_id}"

    @app.job(retry=Retry(retries=1, wait=30))
    def doomed():
        raise RuntimeError("always")

    clock = FakeClock(app, start=START)
    handle = doomed().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "scheduled"  # the hook ran after it was stored
    clock.advance(30, "seconds")
    run_until_idle(app)
    mine = [s for s in seen if s[1] == "doomed"]
    assert mine == [("started", "doomed", "running", False),
                    ("retrying", "doomed", "scheduled", True),
                    ("started", "doomed", "running", False),
                    ("failed", "doomed", "failed", True)]
    assert [r.result for r in app.jobs_list(job="notify")] == [f"alerted about {handle.id}"]
    assert ("completed", "notify", "completed", False) in seen


def test_the_worker_logs_each_outcome_under_conveyor(app: Conveyor,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=1, wait=90))
    def bumpy(meta):
        if meta.attempt == 1:
            raise RuntimeError("bump-one")
        raise Fail("bump-two")

    @app.job
    def smooth():
        return 1

    clock = FakeClock(app, start=START)
    caplog.set_level(logging.DEBUG, logger="conveyor")
    bumpy().run_now()
    smooth().run_now()
    run_until_idle(app)
    clock.advance(90, "seconds")
    run_until_idle(app)
    lines = [r for r in caplog.records if r.name.startswith("conveyor")]
    text = "\n".join(r.getMessage() for r in lines)
    assert "bump-one" in text and "bump-two" in text
    retrying = next(r.getMessage() for r in lines if "bump-one" in r.getMessage())
    assert "2031" in retrying or "90" in retrying  # says when the retry runs
    assert any("smooth" in r.getMessage() and r.levelno == logging.DEBUG for r in lines)


def test_inline_is_synchronous_in_sync_and_async_code(app: Conveyor) -> None:
    @app.job
    def double(x):
        return 2 * x

    @app.job
    async def sleepy(x, io):
        await io.wait("nap", 2, "quarters")
        return await io.run_job("child", double(x))

    @app.job(retry=Retry(retries=0))
    def grumpy():
        raise Fail("grumpy says no")

    with inline(app):
        assert double(2).run_now().result(timeout=0) == 4
        assert sleepy(5).run_now().result(timeout=0) == 10
        assert chain(double(1), double()).run_now().result(timeout=0) == 4
        with pytest.raises(JobFailed, match="grumpy says no"):
            grumpy().run_now().result(timeout=0)

    async def in_async() -> Any:
        with inline(app):
            handle = await sleepy(7).run_now()
            return await handle.wait(timeout=0)

    assert asyncio.run(in_async()) == 14
    outside = double(3).run_now()
    assert record_of(app, outside.id).state == "queued"  # the block is over


def test_run_until_idle_works_from_async_code_and_leaves_future_work(app: Conveyor) -> None:
    @app.job
    def ping(n):
        return n

    async def scenario() -> tuple[int, int]:
        now = await ping(1).run_now()
        later = await ping(2).run_in(1, "day")
        run_until_idle(app)
        return now.id, later.id

    now_id, later_id = asyncio.run(scenario())
    assert record_of(app, now_id).state == "completed"
    assert record_of(app, later_id).state == "scheduled"


def test_fake_clock_drives_async_triggers_waits_and_workers(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job
    async def month_end(io):
        await io.wait("to-next-month", 1, "month")
        return "done"

    async def scenario() -> Any:
        handle = await month_end().run_now()
        await app.run_worker_async(burst=True)
        assert record_of(app, handle.id).state == "waiting"
        clock.advance(27, "days")  # Feb 27: a calendar month from Jan 31 is Feb 28
        await app.run_worker_async(burst=True)
        assert record_of(app, handle.id).state == "waiting"
        clock.advance(1, "day")
        await app.run_worker_async(burst=True)
        return await handle.wait(timeout=5)

    assert asyncio.run(scenario()) == "done"
    assert clock.now() == datetime(2031, 2, 28, 9, 0, tzinfo=UTC)


def test_fake_clock_drives_exponential_backoff_exactly(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job(retry=Retry(retries=3, wait=60, backoff="exponential"))
    def unlucky(meta):
        if meta.attempt < 4:
            raise RuntimeError("again")
        return meta.attempt

    handle = unlucky().run_now()
    for delay in (60, 120, 240):
        run_until_idle(app)
        record = record_of(app, handle.id)
        assert (record.run_at - clock.now()).total_seconds() == delay
        clock.advance(delay, "seconds")
    run_until_idle(app)
    assert handle.result(timeout=5) == 4


def test_enqueued_matches_job_and_payload_subsets(app: Conveyor) -> None:
    @app.job
    def ship(order):
        return order

    @app.job
    def mail(to, subject="hi"):
        return to

    ship({"shop_id": 1, "order": 10}).run_now()
    ship({"shop_id": 2, "order": 11}).run_in(1, "hour")
    mail(to="a@x", subject="s").run_now()
    assert len(enqueued(app)) == 3
    assert [r.job for r in enqueued(app, job="ship")] == ["ship", "ship"]
    assert [r.payload for r in enqueued(app, job="ship", shop_id=2)] == [
        {"shop_id": 2, "order": 11}]
    assert [r.job for r in enqueued(app, to="a@x")] == ["mail"]
    assert enqueued(app, job="mail", to="b@x") == []
