"""Blind acceptance tests: jobs raising BaseException subclasses (SystemExit, their own
CancelledError, a user's subclass) fail only their attempt; every store."""

from __future__ import annotations

import asyncio
import sys

from conveyor import Conveyor, Retry
from tests.acceptance.blind_async.support import (
    Abort,
    _maybe,
    error_type,
    state,
)
from tests.conformance.helpers import drain


async def test_a_base_exception_subclass_fails_the_attempt_and_the_worker_goes_on(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def sync_abort() -> None:
        raise Abort("sync ✗")

    @app.job(retry=Retry(retries=0))
    async def async_abort() -> None:
        raise Abort("async ✗")

    @app.job
    def afterwards() -> str:
        return "ran"

    one = await sync_abort().run_now()
    two = await async_abort().run_now()
    three = await afterwards().run_now(priority="low")
    await asyncio.wait_for(app.run_worker_async(burst=True, concurrency=1), 30)
    assert state(app, one) == "failed" and "Abort" in error_type(app, one)
    assert state(app, two) == "failed" and "Abort" in error_type(app, two)
    assert await three.wait(timeout=30) == "ran"


def test_sys_exit_in_a_sync_job_fails_only_that_attempt(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def exits() -> None:
        sys.exit("leaving ✗")

    @app.job
    def next_one() -> int:
        return 1

    bad = exits().run_now()
    good = next_one().run_now(priority="low")
    drain(app, concurrency=1)
    assert state(app, bad) == "failed"
    assert "SystemExit" in error_type(app, bad)
    assert good.result(timeout=30) == 1


def test_keyboard_interrupt_in_a_sync_job_never_leaves_it_running(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def interrupted() -> None:
        raise KeyboardInterrupt

    handle = interrupted().run_now()
    with _maybe(KeyboardInterrupt):
        drain(app)
    assert state(app, handle) in ("failed", "queued", "scheduled")


async def test_an_async_job_raising_cancelled_error_itself_does_not_hang(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def self_cancelling() -> None:
        raise asyncio.CancelledError("by the job")

    handle = await self_cancelling().run_now()
    with _maybe(asyncio.CancelledError):
        await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert state(app, handle) in ("failed", "cancelled", "queued", "scheduled")
