"""SPEC §4 — timeouts: async jobs cancelled on time (even when they ignore cancellation or
return once cancelled), their own errors kept, sync jobs failed on time, burst workers not
held by an abandoned attempt."""

from __future__ import annotations

import asyncio
import contextlib

from conveyor import Conveyor, Retry
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


async def test_an_async_job_past_its_timeout_is_failed(app: Conveyor) -> None:
    @app.job(timeout=0.1, retry=Retry(retries=1, wait=0))
    async def slow() -> None:
        await asyncio.sleep(10)

    handle = await slow().run_now()
    await asyncio.to_thread(run_until_idle, app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.attempts == 2  # retried per policy
    assert "time" in str(record.error).lower()


async def test_an_async_job_that_ignores_cancellation_is_still_failed_on_time(
        app: Conveyor) -> None:
    """Like a sync job's thread, a coroutine that swallows the cancel a timeout sends it
    cannot be stopped: its attempt is failed anyway (and retried), the worker goes on."""
    done = asyncio.Event()  # set by the test at its end: the event loop may then close

    @app.job(timeout=0.1, retry=Retry(retries=1, wait=0))
    async def stubborn() -> None:
        while not done.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    handle = await stubborn().run_now()
    try:
        await asyncio.wait_for(app.run_worker_async(burst=True, grace=0), 60)
    finally:
        done.set()
    record = record_of(app, handle.id)
    assert (record.state, record.attempts) == ("failed", 2)
    assert "timed out" in record.error["message"]


async def test_an_async_job_that_returns_once_its_timeout_cancels_it_is_failed(
        app: Conveyor) -> None:
    """Catching the cancel and returning does not make an attempt past its timeout a
    success."""

    @app.job(timeout=0.1, retry=Retry(retries=0))
    async def partial() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return "partial"
        return "whole"

    handle = await partial().run_now()
    await asyncio.wait_for(app.run_worker_async(burst=True), 60)
    record = record_of(app, handle.id)
    assert record.state == "failed" and "timed out" in record.error["message"]


async def test_an_async_jobs_own_errors_under_a_timeout_are_its_own(app: Conveyor) -> None:
    @app.job(timeout=30, retry=Retry(retries=0))
    async def gives_up() -> None:
        raise asyncio.CancelledError("mine")

    @app.job(timeout=30, retry=Retry(retries=0))
    async def late() -> None:
        raise TimeoutError("upstream was slow")

    first, second = await gives_up().run_now(), await late().run_now()
    await app.run_worker_async(burst=True)
    assert record_of(app, first.id).error["type"] == "CancelledError"
    assert record_of(app, second.id).error["message"] == "upstream was slow"


def test_a_burst_worker_ends_past_an_abandoned_async_job(app: Conveyor) -> None:
    @app.job(timeout=0.1, retry=Retry(retries=0))
    async def stubborn() -> None:
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    handle = stubborn().run_now()
    run_until_idle(app)  # returns: the abandoned coroutine does not hold its loop open
    assert record_of(app, handle.id).state == "failed"


def test_a_sync_job_past_its_timeout_is_failed_on_time(app: Conveyor) -> None:
    import threading

    release = threading.Event()

    @app.job(timeout=0.1)
    def stuck() -> None:
        release.wait(2)

    handle = stuck().run_now()
    try:
        run_until_idle(app)
        assert record_of(app, handle.id).state == "failed"
    finally:
        release.set()
