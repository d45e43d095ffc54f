"""Features together: a retry keeps its priority, schedule_job while its job is paused,
and what JobFailed carries for a failed and for a cancelled durable run."""

from __future__ import annotations

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def test_a_retry_keeps_its_priority_over_newer_jobs(app: Conveyor, clock: FakeClock) -> None:
    order: list[str] = []

    @app.job("work", retry=Retry(retries=1, wait=60))
    def work(name, meta):  # type: ignore[no-untyped-def]
        order.append(f"{name}#{meta.attempt}")
        if name == "urgent" and meta.attempt == 1:
            raise RuntimeError("first try fails")

    work("urgent").run_now(priority="critical")
    run_until_idle(app, concurrency=1)
    for n in range(3):
        work(f"normal{n}").run_in(30, "seconds")
    clock.advance(1, "minute")
    run_until_idle(app, concurrency=1)
    assert order == ["urgent#1", "urgent#2", "normal0#1", "normal1#1", "normal2#1"]


def test_schedule_job_while_its_job_is_paused(app: Conveyor, clock: FakeClock) -> None:
    ran: list[object] = []

    @app.job("sync")
    def sync(data):  # type: ignore[no-untyped-def]
        ran.append(data)

    app.pause(job="sync")
    first = app.schedule_job(type="sync", data={"shop": 1}, schedule="every hour", unique=True)
    again = app.schedule_job(type="sync", data={"shop": 1}, schedule="every hour", unique=True)
    assert again.id == first.id
    clock.advance(3, "hours")
    run_until_idle(app)
    assert ran == []
    app.resume(job="sync")
    run_until_idle(app)
    assert ran == [{"shop": 1}], "missed occurrences run once"
    assert app.count(job="sync", state="scheduled") == 1


def test_job_failed_carries_state_and_stored_error(app: Conveyor, clock: FakeClock) -> None:
    @app.job("broken")
    def broken():  # type: ignore[no-untyped-def]
        raise KeyError("missing thing")

    @app.job("sleeper")
    async def sleeper(io):  # type: ignore[no-untyped-def]
        await io.wait("nap", 1, "day")

    failed, sleeping = broken().run_now(), sleeper().run_now()
    run_until_idle(app)
    assert app.cancel(sleeping.id) is True
    with pytest.raises(JobFailed) as caught:
        failed.result(timeout=30)
    assert caught.value.error["type"] == "KeyError"
    assert "missing thing" in caught.value.error["message"]
    assert "missing thing" in caught.value.error["traceback"]
    with pytest.raises(JobFailed) as cancelled:
        sleeping.result(timeout=30)
    assert "cancelled" in str(cancelled.value)
    assert record_of(app, sleeping.id).state == "cancelled"
