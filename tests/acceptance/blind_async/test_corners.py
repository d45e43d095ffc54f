"""Blind probes of the async API and inline mode: corners SPEC's examples do not show."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import inline, run_until_idle
from tests.acceptance.blind_async.support import (
    Abort,
    Ticker,
    _await,
    _maybe,
    state,
)


def test_inline_stores_a_base_exception_as_a_failure_without_raising_it(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def aborts() -> None:
        raise Abort("inline abort ✗")

    with inline(app):
        handle = aborts().run_now()
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=30)
    assert "inline abort ✗" in str(caught.value)


def test_inline_ends_with_its_block_and_hook_errors_stay_in_the_log(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.on("completed")
    async def broken(record: Any, error: Any = None) -> None:
        raise RuntimeError("inline hook ✗")

    @app.job
    def plain(n: int) -> int:
        return n + 1

    with caplog.at_level(logging.ERROR, logger="conveyor"), inline(app):
        inside = plain(1).run_now()
    assert inside.result(timeout=0) == 2
    assert "inline hook ✗" in caplog.text
    outside = plain(2).run_now()
    assert state(app, outside) == "queued"


async def test_a_blocking_sync_hook_never_blocks_the_async_worker_loop(app: Conveyor) -> None:
    @app.on("completed")
    def slow_sync_hook(record: Any, error: Any = None) -> None:
        time.sleep(0.5)

    @app.job
    async def quick(n: int) -> int:
        return n

    handles = [await quick(n).run_now() for n in range(3)]
    async with Ticker() as ticker:
        await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert ticker.max_gap < 0.3, ticker.max_gap
    assert [await h.wait(timeout=30) for h in handles] == [0, 1, 2]


async def test_cancelling_a_running_async_worker_releases_its_jobs(app: Conveyor) -> None:
    started = asyncio.Event()

    @app.job
    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    @app.job
    async def short(n: int) -> int:
        return -n

    handle = await short(4).run_now()
    stuck = await endless().run_now()
    # grace (a worker option): how long a stopping worker lets running jobs finish.
    worker = asyncio.create_task(app.run_worker_async(concurrency=2, grace=0.5))
    assert await handle.wait(timeout=20) == -4
    await asyncio.wait_for(started.wait(), 20)
    worker.cancel()
    with _maybe(asyncio.CancelledError):
        await asyncio.wait_for(worker, 20)
    assert state(app, stuck) in ("queued", "scheduled")  # released for another worker
    app.cancel(stuck.id)
    again = await short(5).run_now()
    await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert await again.wait(timeout=30) == -5


async def test_an_idle_burst_worker_returns_at_once(app: Conveyor) -> None:
    @app.job
    def far_off() -> None: ...

    await far_off().run_in(1, "year")
    began = time.monotonic()
    await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert time.monotonic() - began < 10  # not the year; a bound a loaded machine keeps


async def test_async_with_closes_even_when_the_block_raises(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store does not outlive its app")
    with pytest.raises(LookupError):
        async with Conveyor(store_url) as first:
            @first.job
            def kept() -> None: ...

            handle = await kept().run_now()
            raise LookupError("inside")
    async with Conveyor(store_url) as second:
        assert state(second, handle) == "queued"


def test_metrics_show_a_lifespan_worker_alive(app: Conveyor) -> None:
    web = Starlette(lifespan=app.lifespan(worker=True, concurrency=1),
                    routes=[Mount("/ops", app=app.asgi(prefix="/ops"))])
    with TestClient(web) as client:
        deadline = time.monotonic() + 10
        while True:
            text = client.get("/ops/metrics").text
            alive = [line for line in text.splitlines() if not line.startswith("#")
                     and "worker" in line.split("{")[0].split(" ")[0]]
            if any(float(line.rsplit(" ", 1)[1]) >= 1 for line in alive):
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.1)


async def test_one_bad_payload_among_concurrent_awaited_triggers_fails_alone(
        app: Conveyor) -> None:
    from conveyor import PayloadError

    @app.job
    def mixed(x: Any) -> None: ...

    results = await asyncio.gather(*(_await(mixed(n if n != 4 else {"bad": {1, 2}}))
                                     for n in range(10)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], PayloadError), results
    assert "bad" in str(errors[0])
    assert app.count() == 9


async def test_an_awaited_trigger_on_a_closed_app_raises_at_once(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store holds no connection to release")
    closed = Conveyor(store_url)

    @closed.job
    def late() -> None: ...

    closed.close()
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(_await(late()), 10)
    assert not isinstance(caught.value, TimeoutError), "the trigger hung on a closed app"


def test_run_until_idle_returns_while_a_durable_run_awaits_an_event(app: Conveyor) -> None:
    @app.job
    async def awaiting(io: Any) -> Any:
        await io.wait("pause", 1, "week")
        return "woke"

    handle = awaiting().run_now()
    began = time.monotonic()
    run_until_idle(app)
    assert time.monotonic() - began < 10
    assert state(app, handle) == "waiting"
