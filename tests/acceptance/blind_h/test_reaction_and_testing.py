"""SPEC §2-§3's Reaction-style calls and §12's testing helpers taken literally, then
varied: awaited dedupe, ``retry`` waits in milliseconds per backoff, sync and async
``add_worker`` functions, and the helpers' positional and keyword forms."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import conveyor.testing
from conveyor import Conveyor, JobHandle
from tests.acceptance.blind_core.support import START, due, record
from tests.conformance.helpers import ManualClock, drain


def test_awaited_replace_and_unique(app: Conveyor) -> None:
    @app.job
    def job(x: Any = None) -> Any:
        return x

    async def triggers() -> list[JobHandle]:
        return [await job(1).run_in(1, "day", key="k"),
                await job(2).run_in(1, "day", key="k", unique=True),
                await job(3).run_in(1, "day", key="k", replace=True),
                await job(4).run_now(key="k", owner=5, replace=True)]

    first, kept, replacing, other_owner = asyncio.run(triggers())
    assert kept.id == first.id
    assert record(app, first).state == "cancelled"
    assert record(app, replacing).state == "scheduled"  # another owner's: not replaced
    assert record(app, other_owner).owner == 5


@pytest.mark.parametrize(("wait_ms", "backoff", "delays"), [
    (60000, "exponential", [60, 120]), (1500, "fixed", [1.5, 1.5]), (500, "linear", [0.5, 1])])
def test_reaction_retry_waits_are_milliseconds(capp: Conveyor, clock: ManualClock,
                                               wait_ms: int, backoff: str,
                                               delays: list[float]) -> None:
    def flaky(job: Any) -> None:
        raise RuntimeError("again")

    capp.add_worker(type="flaky", worker=flaky)
    handle = capp.schedule_job(type="flaky", data={"n": 1},
                               retry={"retries": 5, "wait": wait_ms, "backoff": backoff})
    seen = []
    for _ in delays:
        drain(capp)
        seen.append((due(capp, handle) - clock.now()).total_seconds())
        clock.advance(seconds=seen[-1])
    assert seen == delays


def test_section_three_schedule_job_verbatim(capp: Conveyor) -> None:
    got: list[Any] = []

    @capp.job("x")
    def x(data: Any) -> None:
        got.append(data)

    h = capp.schedule_job(type="x", data={"shop_id": 1}, retry={"retries": 5, "wait": 60000,
                          "backoff": "exponential"}, priority="normal", schedule="every day",
                          cancel_repeats=True)
    again = capp.schedule_job(type="x", data={"shop_id": 1}, retry={"retries": 5,
                              "wait": 60000, "backoff": "exponential"}, priority="normal",
                              schedule="every day", cancel_repeats=True)
    assert isinstance(h, JobHandle) and isinstance(again, JobHandle)
    assert capp.count(job="x", state="scheduled") == 1
    rec = record(capp, again)
    assert (rec.priority, rec.max_attempts, list(rec.args)) == ("normal", 6, [{"shop_id": 1}])
    assert rec.run_at is not None and rec.run_at > START


@pytest.mark.parametrize("keywords", [False, True])
def test_schedule_cron_job_positional_or_keyword(capp: Conveyor, keywords: bool) -> None:
    got: list[Any] = []

    def worker(job: Any) -> None:
        got.append(job.data)

    capp.add_worker(type="nightly", worker=worker)
    if keywords:
        h = capp.schedule_cron_job(type="nightly", crontab="0 4 * * *", data={"a": 1}, owner=9)
    else:
        h = capp.schedule_cron_job("nightly", "0 4 * * *", data={"a": 1}, owner=9)
    rec = record(capp, h)
    assert (rec.state, rec.owner, rec.job) == ("scheduled", 9, "nightly")
    assert due(capp, h) == START.replace(day=1, month=2, hour=4, minute=0)


def test_add_worker_sync_and_async_with_done_and_fail_spellings(app: Conveyor) -> None:
    def plain(job: Any) -> None:
        assert isinstance(job.id, int) and job.type == "plain"
        if job.data["how"] == "positional":
            job.done("ok positional")
        elif job.data["how"] == "keyword":
            job.done(message="ok keyword")
        elif job.data["how"] == "fail":
            job.fail("said no")
        else:
            job.done()

    async def coro(job: Any) -> None:
        await asyncio.sleep(0)
        job.log.info("async %s", job.data["n"])
        job.done(f"async {job.data['n']}")

    app.add_worker(type="plain", worker=plain)
    app.add_worker(type="coro", worker=coro)
    handles = {how: app.schedule_job(type="plain", data={"how": how})
               for how in ("positional", "keyword", "fail", "none")}
    handles["coro"] = app.schedule_job(type="coro", data={"n": 3})
    drain(app)
    states = {how: (record(app, h).state, record(app, h).result) for how, h in handles.items()}
    assert states["positional"] == ("completed", "ok positional")
    assert states["keyword"] == ("completed", "ok keyword")
    assert states["fail"][0] == "failed"
    assert states["none"][0] == "completed"
    assert states["coro"] == ("completed", "async 3")
    assert [line.message for line in record(app, handles["coro"]).logs] == ["async 3"]


def test_inline_runs_plain_awaited_and_event_triggers(app: Conveyor) -> None:
    @app.job
    def add(a: int, b: int = 0) -> int:
        return a + b

    @app.job(trigger=app.event("numbers.sent"))
    async def on_numbers(payload: Any, io: Any) -> int:
        await io.wait("later", 2, "days")
        return int(payload["n"])

    async def awaited() -> JobHandle:
        return await add(2, b=3).run_in(1, "week")

    with conveyor.testing.inline(app):
        plain = add(1, 2).run_now()
        assert record(app, plain).state == "completed" and plain.result() == 3
        assert record(app, asyncio.run(awaited())).result == 5
        event = app.send_event("numbers.sent", {"n": 7}, "evt-7")
        app.send_event("numbers.sent", {"n": 7}, "evt-7")
    (run,) = event.runs
    assert (record(app, run).state, record(app, run).result) == ("completed", 7)
    assert app.count(job="on_numbers") == 1


def test_fake_clock_positional_start_and_each_unit(make: Any) -> None:
    app = make()
    clock = conveyor.testing.FakeClock(app, START)
    try:
        @app.job
        async def napper(io: Any) -> str:
            await io.wait("nap", 1, "quarter")
            return "woke"

        handle = napper().run_in(90, "minutes")
        conveyor.testing.run_until_idle(app, clock)
        assert record(app, handle).state == "scheduled"
        assert clock.advance(1.5, "hours") == START + timedelta(hours=1, minutes=30)
        conveyor.testing.run_until_idle(app, clock=clock)
        assert record(app, handle).state == "waiting"
        clock.advance(1, "quarters")
        conveyor.testing.run_until_idle(app, clock=clock)
        assert handle.result(timeout=30) == "woke"
    finally:
        clock.stop()


def test_enqueued_by_definition_id_or_none_with_a_payload_subset(app: Conveyor) -> None:
    @app.job
    def charge(data: Any = None, **kwargs: Any) -> None: ...

    @app.job
    def other(data: Any) -> None: ...

    charge({"order": 8, "shop_id": 1}).run_in(1, "day")
    charge(order=9, shop_id=2).run_in(1, "day")
    other({"shop_id": 1}).run_in(1, "day")
    enqueued = conveyor.testing.enqueued
    assert len(enqueued(app)) == len(enqueued(app, None)) == 3
    assert len(enqueued(app, charge)) == len(enqueued(app, job="charge")) == 2
    assert sorted(r.job for r in enqueued(app, shop_id=1)) == ["charge", "other"]
    assert len(enqueued(app, "charge", shop_id=2)) == 1
    assert enqueued(app, charge, shop_id=1, order=9) == []
