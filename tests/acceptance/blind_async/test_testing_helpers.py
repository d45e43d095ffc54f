"""Blind acceptance tests of SPEC §12 (testing helpers) from async code; every store."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta, timezone
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.blind_async.support import (
    START,
    state,
)


def test_inline_runs_retries_at_once_and_keeps_the_history(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=3, wait=0))
    def shaky(meta: Any) -> int:
        if meta.attempt < 3:
            raise ConnectionError(f"attempt {meta.attempt}")
        return int(meta.attempt)

    with inline(app):
        handle = shaky().run_now()
        assert handle.result(timeout=0) == 3
    found = app.get_job(handle.id)
    assert found is not None and found.state == "completed" and found.attempts == 3
    assert len(found.history) == 3
    assert "attempt 2" in str(found.history[1])


def test_inline_failure_after_retries_raises_on_result_not_on_trigger(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def hopeless() -> None:
        raise ZeroDivisionError("always ÷0")

    with inline(app):
        handle = hopeless().run_now()
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=30)
    assert "÷0" in str(caught.value)
    found = app.get_job(handle.id)
    assert found is not None and found.state == "failed" and found.attempts == 2


def test_inline_skips_durable_waits_and_runs_tasks_once(app: Conveyor) -> None:
    calls: list[str] = []

    def load(name: str) -> dict[str, str]:
        calls.append(name)
        return {"name": name}

    @app.job
    async def durable_flow(name: str, io: Any) -> dict[str, Any]:
        user = await io.task("load", load, name)
        await io.wait("cool-off", 3, "days")
        await io.wait("cool-off-more", 1, "year")
        again = await io.task("load-again", load, name + "²")
        return {"user": user, "again": again}

    began = time.monotonic()
    with inline(app):
        handle = durable_flow("zoë").run_now()
    assert time.monotonic() - began < 10
    assert handle.result(timeout=30) == {"user": {"name": "zoë"}, "again": {"name": "zoë²"}}
    assert calls == ["zoë", "zoë²"]


async def test_inline_runs_async_jobs_from_inside_a_running_loop(app: Conveyor) -> None:
    @app.job
    async def halve(x: float) -> float:
        await asyncio.sleep(0)
        return x / 2

    @app.job
    async def parent(meta: Any) -> Any:
        child = await meta.jobs.halve(-3).run_now()
        return await child.wait(timeout=30)

    with inline(app):
        direct = await halve(5).run_now()
        nested = await parent().run_now()
    assert await direct.wait(timeout=30) == 2.5
    assert await nested.wait(timeout=30) == -1.5


def test_inline_runs_async_hooks(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.on("failed")
    async def alert(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0.01)
        seen.append(record.id)

    @app.job(retry=Retry(retries=0))
    def refuses() -> None:
        raise Fail("no")

    with inline(app):
        handle = refuses().run_now()
    assert seen == [handle.id]


def test_fake_clock_drives_a_worker_in_async_code(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait="1.5 days"))
    async def eventually(meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("not yet")
        return int(meta.attempt)

    async def main(clock: FakeClock) -> Any:
        handle = await eventually().run_in(1, "quarter")
        await app.run_worker_async(burst=True)
        assert state(app, handle) == "scheduled"
        clock.advance(1, "quarter")
        await app.run_worker_async(burst=True)
        assert state(app, handle) == "scheduled"
        clock.advance(36, "hours")
        await app.run_worker_async(burst=True)
        return await handle.wait(timeout=30)

    began = time.monotonic()
    with FakeClock(app, start=START) as clock:
        assert asyncio.run(main(clock)) == 2
    assert time.monotonic() - began < 20


def test_fake_clock_takes_an_aware_start_in_any_timezone(app: Conveyor) -> None:
    tokyo = START.astimezone(timezone(timedelta(hours=9)))

    @app.job
    def tick() -> None: ...

    with FakeClock(app, start=tokyo) as clock:
        handle = tick().run_in(90, "minutes")
        found = app.get_job(handle.id)
        assert found is not None and found.run_at == START + timedelta(minutes=90)
        clock.advance(89.5, "minutes")
        run_until_idle(app, clock=clock)
        assert state(app, handle) == "scheduled"
        clock.advance(30, "seconds")
        run_until_idle(app, clock=clock)
        assert state(app, handle) == "completed"


def test_run_until_idle_runs_every_retry_that_becomes_due_at_once(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=4, wait=0))
    def stubborn() -> None:
        raise RuntimeError("never")

    handle = stubborn().run_now()
    run_until_idle(app)
    found = app.get_job(handle.id)
    assert found is not None and found.state == "failed" and found.attempts == 5


async def test_run_until_idle_works_inside_an_async_test(app: Conveyor) -> None:
    @app.job
    async def in_loop() -> str:
        return "ran"

    handle = await in_loop().run_now()
    run_until_idle(app)
    assert await handle.wait(timeout=30) == "ran"


def test_enqueued_lists_pending_jobs_with_nested_payload_subsets(app: Conveyor) -> None:
    @app.job
    def notify(payload: Any) -> None: ...

    @app.job
    def other(payload: Any) -> None: ...

    notify({"user": {"id": 7, "tags": ["a"]}, "n": None}).run_in(1, "day")
    notify({"user": {"id": 8}, "n": 0}).run_now()
    other({"user": {"id": 7}}).run_in(1, "hour")
    assert len(enqueued(app)) == 3
    assert len(enqueued(app, job="notify")) == 2
    assert len(enqueued(app, user={"id": 7})) == 2
    assert len(enqueued(app, job="notify", n=None)) == 1
    assert len(enqueued(app, job="notify", n=0)) == 1
    assert enqueued(app, job="notify", n=False) == []
    assert enqueued(app, job="nobody") == []
