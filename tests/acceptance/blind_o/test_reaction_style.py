"""§2/§3 the Reaction-style surface: ``schedule_job`` with Reaction's retry shape (wait in
milliseconds), ``cancel_repeats``, ``add_worker`` outcomes and handles, ``include``."""

from __future__ import annotations

import asyncio
import types
from datetime import timedelta

from conveyor import Conveyor, Fail
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def test_schedule_job_without_a_schedule_runs_once_with_data_as_the_argument(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job("saveImage/local")
    def save(data):  # type: ignore[no-untyped-def]
        return data

    handle = app.schedule_job(type="saveImage/local", data={"path": "ü.png", "n": 2**65})
    run_until_idle(app)
    assert handle.result(timeout=5) == {"path": "ü.png", "n": 2**65}
    clock.advance(2, "days")
    run_until_idle(app)
    assert app.count(job="saveImage/local") == 1


def test_reaction_retry_waits_are_milliseconds_and_back_off(
    app: Conveyor, clock: FakeClock
) -> None:
    def always_fails(job):  # type: ignore[no-untyped-def]
        job.fail(f"no luck with {job.data['n']}")

    app.add_worker(type="flakyType", worker=always_fails)
    handle = app.schedule_job(
        type="flakyType",
        data={"n": 1},
        retry={"retries": 2, "wait": 1500, "backoff": "exponential"},
    )
    waits = []
    for _ in range(2):
        run_until_idle(app)
        record = record_of(app, handle.id)
        assert record.state == "scheduled"
        waits.append(record.run_at - clock.now())
        clock.move_to(record.run_at)
    run_until_idle(app)
    assert waits == [timedelta(seconds=1.5), timedelta(seconds=3)]
    record = record_of(app, handle.id)
    assert record.state == "failed" and record.attempts == 3
    assert record.error is not None and "no luck with 1" in record.error["message"]


def test_cancel_repeats_cancels_the_pending_jobs_of_that_type(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job("syncShop")
    def sync_shop(data):  # type: ignore[no-untyped-def]
        return data

    older = app.schedule_job(type="syncShop", data={"shop_id": 1}, schedule="every day")
    other = app.schedule_job(type="syncShop", data={"shop_id": 2}, schedule="every day")
    newest = app.schedule_job(
        type="syncShop", data={"shop_id": 3}, schedule="every day", cancel_repeats=True
    )
    states = [record_of(app, h.id).state for h in (older, other, newest)]
    assert states == ["cancelled", "cancelled", "scheduled"]


def test_add_worker_outcomes_done_exception_and_fail(app: Conveyor) -> None:
    def work(job):  # type: ignore[no-untyped-def]
        kind = job.data["kind"]
        if kind == "done":
            job.done("all good ✓")
        elif kind == "raise":
            raise ValueError("bad input: 42")
        else:
            raise Fail("for good")

    app.add_worker(type="outcomes", worker=work)
    handles = {
        kind: app.schedule_job(type="outcomes", data={"kind": kind}, retry={"retries": 0})
        for kind in ("done", "raise", "fail")
    }
    run_until_idle(app)
    records = {kind: record_of(app, h.id) for kind, h in handles.items()}
    assert records["done"].state == "completed"
    assert records["raise"].state == "failed"
    assert (
        records["raise"].error is not None and "bad input: 42" in records["raise"].error["message"]
    )
    assert records["fail"].state == "failed" and records["fail"].attempts == 1


def test_an_async_worker_sees_id_type_and_data(app: Conveyor) -> None:
    seen: list[tuple[object, ...]] = []

    async def work(job):  # type: ignore[no-untyped-def]
        seen.append((job.id, job.type, job.data))
        job.done()

    app.add_worker(type="async/type", worker=work)
    handle = app.schedule_job(type="async/type", data={"ключ": [1, 2.5, None]})
    run_until_idle(app)
    assert seen == [(handle.id, "async/type", {"ключ": [1, 2.5, None]})]
    assert record_of(app, handle.id).state == "completed"


def test_a_paused_worker_type_holds_its_jobs_until_resumed(app: Conveyor) -> None:
    ran: list[object] = []

    def work(job):  # type: ignore[no-untyped-def]
        ran.append(job.data)
        job.done()

    worker = app.add_worker(type="pausable", worker=work)
    worker.pause()
    handle = app.schedule_job(type="pausable", data={"n": 1})
    run_until_idle(app)
    assert ran == [] and record_of(app, handle.id).state == "queued"
    worker.resume()
    run_until_idle(app)
    assert ran == [{"n": 1}] and record_of(app, handle.id).state == "completed"


def test_include_registers_camel_case_jobs_and_their_cleanup(
    app: Conveyor, clock: FakeClock
) -> None:
    plugin = types.ModuleType("image_plugin")
    plugin.jobs = {"saveImage/local": lambda data: {"saved": data["path"]}}  # type: ignore[attr-defined]
    plugin.cleanup = [{"type": "saveImage/local", "purgeAfterDays": 7}]  # type: ignore[attr-defined]
    app.include(plugin)
    handle = app.schedule_job(type="saveImage/local", data={"path": "a.png"})
    run_until_idle(app)
    assert handle.result(timeout=5) == {"saved": "a.png"}
    clock.advance(6, "days")
    app.purge(expired=True)
    assert app.get_job(handle.id) is not None
    clock.advance(1, "day")
    run_until_idle(app)
    app.purge(expired=True)
    assert app.get_job(handle.id) is None


def test_reaction_calls_awaited_in_async_code_give_their_handles(app: Conveyor) -> None:
    @app.job("report")
    def report(data):  # type: ignore[no-untyped-def]
        return data

    @app.job("nightly")
    def nightly(data):  # type: ignore[no-untyped-def]
        return data

    async def trigger() -> list[object]:
        once = await app.schedule_job(type="report", data={"n": 1})
        cron = await app.schedule_cron_job("nightly", "0 4 * * *", data={"n": 2})
        return [once, cron]

    once, cron = asyncio.run(trigger())
    assert record_of(app, once.id).state == "queued"  # type: ignore[attr-defined]
    assert record_of(app, cron.id).state == "scheduled"  # type: ignore[attr-defined]


def test_a_stopped_worker_type_can_be_registered_again(app: Conveyor) -> None:
    def old(job):  # type: ignore[no-untyped-def]
        job.done("old")

    def new(job):  # type: ignore[no-untyped-def]
        job.done("new")

    app.add_worker(type="swapped", worker=old).stop()
    handle = app.schedule_job(type="swapped", data={})
    app.add_worker(type="swapped", worker=new)
    run_until_idle(app)
    assert record_of(app, handle.id).state == "completed"
