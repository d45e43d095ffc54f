"""§3-4 lifecycle: waiting for results, owners, retention / remove_delay / purge on a fake
clock, and timeouts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def _jobs(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("keep", retention="2 hours")
    def keep(x):  # type: ignore[no-untyped-def]
        if x == "fail":
            raise ValueError("nope")
        return x

    return keep


def test_result_and_wait_on_pending_and_finished_jobs(app: Conveyor) -> None:
    keep = _jobs(app)
    pending = keep(1).run_in(1, "hour")
    with pytest.raises(TimeoutError):
        pending.result(timeout=0)

    async def waited() -> object:
        handle = await keep(2).run_now()
        with pytest.raises(TimeoutError):
            await pending.wait(timeout=0)
        await asyncio.to_thread(run_until_idle, app)
        return await handle.wait(timeout=30)

    assert asyncio.run(waited()) == 2
    failed = keep("fail").run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed) as caught:
        failed.result(timeout=30)
    assert "nope" in str(caught.value)


def test_owner_zero_none_and_empty_mean_the_system(app: Conveyor) -> None:
    keep = _jobs(app)
    for system in (0, None, ""):
        assert record_of(app, keep(1).run_now(owner=system).id).owner is None
    keep(2).run_now(owner=7)
    assert app.count(owner=None) == app.count(owner=0) == 3


def test_retention_from_job_trigger_and_app(app: Conveyor, clock: FakeClock) -> None:
    keep = _jobs(app)
    by_job = keep("a").run_now()
    by_trigger = keep("b").run_now(retention="30 minutes")
    failed = keep("fail").run_now()
    pending = keep("c").run_in(1, "day")
    run_until_idle(app)
    clock.advance(31, "minutes")
    run_until_idle(app)
    assert app.get_job(by_trigger.id) is None
    assert app.get_job(by_job.id) is not None
    clock.advance(90, "minutes")
    run_until_idle(app)
    assert app.get_job(by_job.id) is None
    assert app.get_job(failed.id) is None, "retention applies to every finished job"
    assert record_of(app, pending.id).state == "scheduled"


def test_remove_delay_only_removes_completed_jobs(app: Conveyor, clock: FakeClock) -> None:
    @app.job("short-lived")
    def short_lived(x):  # type: ignore[no-untyped-def]
        if x == "fail":
            raise ValueError("kept for inspection")
        return x

    done = short_lived(1).run_now(remove_delay=timedelta(minutes=5))
    failed = short_lived("fail").run_now(remove_delay=300)
    run_until_idle(app)
    clock.advance(6, "minutes")
    run_until_idle(app)
    assert app.get_job(done.id) is None
    assert record_of(app, failed.id).state == "failed"


def test_purge_on_demand_touches_only_finished_jobs(app: Conveyor, clock: FakeClock) -> None:
    keep = _jobs(app)
    finished = [keep(n).run_now() for n in range(3)]
    failed = keep("fail").run_now()
    run_until_idle(app)
    pending = keep("later").run_in(1, "hour")
    cancelled = keep("c").run_in(1, "hour")
    app.cancel(cancelled.id)
    app.purge(state="failed")
    assert app.get_job(failed.id) is None
    assert all(app.get_job(h.id) is not None for h in finished)
    app.purge()
    assert [app.get_job(h.id) for h in (*finished, cancelled)] == [None] * 4
    assert record_of(app, pending.id).state == "scheduled"


def test_app_wide_retention_default(store_url: str) -> None:
    with Conveyor(store_url, retention="1 hour") as app:
        clock = FakeClock(app)

        @app.job("plain")
        def plain(x):  # type: ignore[no-untyped-def]
            return x

        handle = plain(1).run_now()
        run_until_idle(app)
        clock.advance(61, "minutes")
        run_until_idle(app)
        assert app.get_job(handle.id) is None
        clock.stop()


def test_an_attempt_past_its_timeout_fails_and_retries(app: Conveyor, clock: FakeClock) -> None:
    @app.job("stuck", timeout=0.2, retry=Retry(retries=1, wait=1))
    async def stuck(meta):  # type: ignore[no-untyped-def]
        if meta.attempt == 1:
            await asyncio.Event().wait()
        return "second time lucky"

    handle = stuck().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "scheduled"
    assert "time" in record.error["message"].lower()
    clock.advance(1, "second")
    run_until_idle(app)
    assert handle.result(timeout=30) == "second time lucky"
