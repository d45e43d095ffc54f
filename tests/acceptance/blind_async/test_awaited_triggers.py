"""Blind acceptance tests of SPEC §3 in async code: every trigger awaited, many at once
from one loop, waits and their timeouts; every store."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, Retry, chain, group
from tests.acceptance.blind_async.support import (
    Ticker,
    _await,
    state,
)


async def test_awaited_run_at_and_run_in_are_stored_before_they_return(app: Conveyor) -> None:
    @app.job
    def later(x: Any) -> None: ...

    india = timezone(timedelta(hours=5, minutes=30))
    at = await later({"é": [1]}).run_at(datetime(2040, 2, 29, 12, 0, 0, 123000, tzinfo=india))
    found = app.get_job(at.id)
    assert found is not None and found.state == "scheduled"
    assert found.run_at == datetime(2040, 2, 29, 6, 30, 0, 123000, tzinfo=UTC)
    before = datetime.now(UTC)
    soon = await later(None).run_in(1.5, "weeks")
    found = app.get_job(soon.id)
    assert found is not None and found.state == "scheduled" and found.run_at is not None
    delta = found.run_at - before
    assert timedelta(weeks=1.5) - timedelta(seconds=5) < delta < timedelta(weeks=1.5, seconds=30)


async def test_many_concurrent_awaited_triggers_lose_nothing(app: Conveyor) -> None:
    @app.job
    def many(n: int) -> int:
        return n

    async def later(n: int) -> JobHandle:
        handle: JobHandle = await many(-n).run_in(n, "minutes")
        return handle

    handles = await asyncio.gather(*(_await(many(n)) for n in range(150)),
                                   *(later(n) for n in range(1, 51)))
    ids = [h.id for h in handles]
    assert len(set(ids)) == 200
    assert app.count() == 200
    assert sorted(app.get_job(i).args[0] for i in ids) == sorted(  # type: ignore[union-attr]
        [*range(150), *(-n for n in range(1, 51))])


async def test_concurrent_awaited_unique_triggers_share_one_job(app: Conveyor) -> None:
    @app.job
    def once(n: int) -> None: ...

    async def trigger(n: int) -> JobHandle:
        handle: JobHandle = await once(n).run_now(key="ü", unique=True)
        return handle

    handles = await asyncio.gather(*(trigger(n) for n in range(40)))
    assert len({h.id for h in handles}) == 1
    assert app.count(state="queued") == 1


async def test_awaited_replace_leaves_one_pending_job(app: Conveyor) -> None:
    @app.job
    def replaced(n: int) -> None: ...

    first = await replaced(1).run_in(1, "hour", key="k")
    second = await replaced(2).run_in(2, "hours", key="k", replace=True)
    assert state(app, first) == "cancelled"
    assert state(app, second) == "scheduled"


async def test_awaited_batch_triggers_give_handles_that_can_be_waited(app: Conveyor) -> None:
    @app.job
    def add(x: int, y: int = 1) -> int:
        return x + y

    @app.job
    async def total(xs: list[int]) -> int:
        return sum(xs)

    grouped = await group(add(1), add(2), add(3)).run_now()
    chained = await chain(add(10), group(add(y=2), add(y=3)), total()).run_now()
    scheduled = await app.schedule_job(type="add", data=41)
    assert isinstance(scheduled, JobHandle)
    worker = asyncio.create_task(app.run_worker_async(burst=True))
    assert await grouped.wait(timeout=30) == [2, 3, 4]
    assert await chained.wait(timeout=30) == 13 + 14
    assert await scheduled.wait(timeout=30) == 42
    await asyncio.wait_for(worker, 30)


async def test_wait_raises_job_failed_with_the_stored_error(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def broken(text: str) -> None:
        raise LookupError(text)

    failed = await broken("χάος\n🙃").run_now()
    cancelled = await broken("never").run_in(3, "days")
    app.cancel(cancelled.id)
    await app.run_worker_async(burst=True)
    with pytest.raises(JobFailed) as caught:
        await failed.wait(timeout=30)
    assert "χάος" in str(caught.value) and "LookupError" in str(caught.value)
    with pytest.raises(JobFailed):
        await cancelled.wait(timeout=30)


async def test_wait_with_zero_timeout_checks_once(app: Conveyor) -> None:
    @app.job
    async def quick() -> dict[str, int]:
        return {"n": 0}

    handle = await quick().run_now()
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0)
    await app.run_worker_async(burst=True)
    assert await handle.wait(timeout=0) == {"n": 0}
    assert await handle.wait(timeout=math.inf) == {"n": 0}


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan])
async def test_negative_or_nan_timeouts_are_a_clear_error(app: Conveyor, timeout: float) -> None:
    @app.job
    def never() -> None: ...

    handle = await never().run_in(1, "day")
    with pytest.raises(ValueError, match="timeout"):
        await handle.wait(timeout=timeout)
    with pytest.raises(ValueError, match="timeout"):
        handle.result(timeout=timeout)


async def test_waiting_never_blocks_the_event_loop(app: Conveyor) -> None:
    @app.job
    def idle() -> None: ...

    handle = await idle().run_in(1, "hour")
    async with Ticker() as ticker:
        with pytest.raises(TimeoutError):
            await handle.wait(timeout=0.6)
    assert ticker.max_gap < 0.25, ticker.max_gap


async def test_cancelling_the_waiting_task_leaves_the_job_alone(app: Conveyor) -> None:
    @app.job
    async def survivor() -> str:
        return "still here"

    handle = await survivor().run_now()
    waiter = asyncio.create_task(handle.wait())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(handle.wait(), 0.05)
    assert state(app, handle) == "queued"
    await app.run_worker_async(burst=True)
    assert await handle.wait(timeout=30) == "still here"


async def test_cancelled_trigger_tasks_never_return_a_handle_that_is_not_stored(
        app: Conveyor) -> None:
    @app.job
    def maybe(n: int) -> int:
        return n

    tasks = [asyncio.create_task(_await(maybe(n))) for n in range(30)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    handles = [h for h in done if isinstance(h, JobHandle)]
    assert len(handles) >= 15
    for handle in handles:
        assert state(app, handle) == "queued"
    after = await maybe(99).run_now()
    assert state(app, after) == "queued"


async def test_async_with_runs_a_burst_worker_and_reopens(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store does not outlive its app")
    async with Conveyor(store_url) as first:
        @first.job
        async def stored(x: int) -> int:
            await asyncio.sleep(0.01)
            return x * 3

        handle = await stored(-7).run_now()
        await first.run_worker_async(burst=True)
    async with Conveyor(store_url) as second:
        found = second.get_job(handle.id)
        assert found is not None and found.state == "completed" and found.result == -21


async def test_a_burst_async_worker_runs_sync_and_async_jobs_off_the_loop(app: Conveyor) -> None:
    @app.job
    def blocking(seconds: float) -> str:
        time.sleep(seconds)
        return threading.current_thread().name

    @app.job
    async def cooperative(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    sync_handle = await blocking(0.4).run_now()
    async_handle = await cooperative(0.2).run_now()
    async with Ticker() as ticker:
        await asyncio.wait_for(app.run_worker_async(burst=True, concurrency=2), 30)
    assert ticker.max_gap < 0.3, ticker.max_gap
    assert await sync_handle.wait(timeout=30) != threading.current_thread().name
    assert await async_handle.wait(timeout=30) == 0.2
