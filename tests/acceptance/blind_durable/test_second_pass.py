"""Blind probes of SPEC §5 and §10: equality traps, timeouts across waits, calendars,
nesting, cascades, events and workflows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import conveyor
from conveyor import Conveyor, Retry, chain, group
from tests.acceptance.blind_durable.support import (
    START,
    error_of,
    rec,
    three_levels,
)
from tests.conformance.helpers import ManualClock, drain


def test_a_key_reused_with_true_instead_of_1_is_other_arguments(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def flow(io: Any) -> Any:
        first = await io.task("k", lambda x: [x], 1)
        second = await io.task("k", lambda x: [x], True)
        return [first, second]

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed", rec(app, h).result
    assert "k" in error_of(app, h)


def test_a_task_hands_back_the_same_value_first_time_and_on_replay(
        capp: Conveyor, clock: ManualClock) -> None:
    seen: list[Any] = []

    @capp.job
    async def flow(io: Any) -> Any:
        value = await io.task("shape", lambda: {"pair": (1, 2), "n": 1.0})
        seen.append(repr(value))
        await io.wait("nap", 1, "minute")
        return value

    h = flow().run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    assert len(seen) == 2 and seen[0] == seen[1], seen
    assert h.result(timeout=30) == {"pair": [1, 2], "n": 1.0}


def test_an_async_task_and_keyword_arguments(app: Conveyor) -> None:
    async def fetch(a: int, *, b: str) -> str:
        await asyncio.sleep(0)
        return f"{a}-{b}"

    @app.job
    async def flow(io: Any) -> Any:
        return await io.task("async-ü", fetch, 1, b="ß")

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=30) == "1-ß"


def test_resuming_after_waits_is_not_a_new_attempt(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job(retry=Retry(retries=0), timeout=60)
    async def patient(io: Any, ctx: Any) -> Any:
        attempts = []
        for n in range(4):
            await io.wait(f"nap-{n}", 1, "day")
            attempts.append(ctx.attempt)
        return attempts

    h = patient().run_now()
    for _ in range(5):
        drain(capp)
        clock.advance(days=1)
    assert h.result(timeout=30) == [1, 1, 1, 1]
    assert rec(capp, h).attempts == 1


def test_a_wait_beyond_the_calendar_fails_the_run_clearly(app: Conveyor) -> None:
    waits = [(10**6, "years"), (float("inf"), "days"), (float("nan"), "seconds"),
             (10**12, "weeks"), (2.6e11, "seconds"), (1, "fortnight")]

    @app.job(retry=Retry(retries=0))
    async def flow(i: int, io: Any) -> None:
        await io.wait("w", *waits[i])

    handles = [flow(i).run_now() for i in range(len(waits))]
    drain(app)
    for h in handles:
        assert rec(app, h).state == "failed"
        text = error_of(app, h)
        assert "range" in text or "finite" in text or "fortnight" in text, text


def test_an_event_delivered_beyond_the_calendar_fails_the_run_clearly(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def sender(io: Any) -> None:
        await io.send_event("s", "some.day", {}, deliver_in=1e12)

    h = sender().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "range" in error_of(app, h)
    assert app.events_list(name="some.day") == []


def test_a_run_retried_by_hand_replays_done_steps_and_reruns_the_failed_one(
        app: Conveyor) -> None:
    calls: list[str] = []
    broken = {"on": True}

    def ok() -> str:
        calls.append("ok")
        return "A"

    def shaky() -> str:
        calls.append("shaky")
        if broken["on"]:
            raise RuntimeError("down")
        return "B"

    @app.job(retry=Retry(retries=0))
    async def flow(io: Any) -> Any:
        return [await io.task("ok", ok), await io.task("shaky", shaky)]

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    broken["on"] = False
    app.retry(h.id)
    drain(app)
    assert h.result(timeout=30) == ["A", "B"]
    assert calls == ["ok", "shaky", "shaky"]


def test_an_exception_between_steps_is_retried_without_rerunning_steps(app: Conveyor) -> None:
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    @app.job(retry=Retry(retries=2, wait=0))
    async def flow(io: Any, ctx: Any) -> Any:
        value = await io.task("once", count)
        if ctx.attempt == 1:
            raise RuntimeError("between steps")
        return [value, ctx.attempt]

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=30) == [1, 2]
    assert calls == [1]


def test_many_steps_replay_quickly(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def long_run(io: Any) -> int:
        total = 0
        for n in range(100):
            total += await io.task(f"s{n}", lambda n=n: n)
        await io.wait("nap", 1, "hour")
        return total

    h = long_run().run_now()
    drain(capp)
    clock.advance(hours=1)
    started = time.monotonic()
    drain(capp)
    assert h.result(timeout=30) == sum(range(100))
    assert time.monotonic() - started < 10


def test_a_task_result_over_the_size_limit_fails_the_run_clearly(
        make: Callable[..., Conveyor]) -> None:
    app = make(max_payload=10_000)

    @app.job(retry=Retry(retries=0))
    async def flow(io: Any) -> Any:
        await io.task("big", lambda: "x" * 20_000)

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "PayloadError" in error_of(app, h)


def test_an_event_delivered_later_starts_runs_and_wakes_waiters_when_due(
        capp: Conveyor, clock: ManualClock) -> None:
    started: list[Any] = []

    @capp.job("later-run", trigger=capp.event("tick.later"))
    async def later_run(payload: Any, io: Any) -> None:
        started.append(payload)

    @capp.job
    async def waiter(io: Any) -> Any:
        return (await io.wait_for_event("e", "tick.later"))["payload"]

    w = waiter().run_now()
    drain(capp)
    capp.send_event("tick.later", {"n": "ü"}, deliver_at=START.replace(hour=13))
    drain(capp)
    assert started == [] and rec(capp, w).state == "waiting"
    clock.advance(hours=1)
    drain(capp)
    assert started == [{"n": "ü"}]
    assert w.result(timeout=30) == {"n": "ü"}


def test_a_cancelled_run_waiting_for_an_event_stays_cancelled(capp: Conveyor) -> None:
    resumed: list[int] = []

    @capp.job
    async def waiter(io: Any) -> None:
        await io.wait_for_event("e", "never.mind")
        resumed.append(1)

    h = waiter().run_now()
    drain(capp)
    assert capp.cancel(h.id) in (True, 1, None)
    capp.send_event("never.mind", {})
    drain(capp)
    assert rec(capp, h).state == "cancelled" and resumed == []


def test_wait_for_event_timeout_spellings(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def waiter(timeout: Any, io: Any) -> Any:
        return await io.wait_for_event("e", "slow.one", timeout=timeout)

    handles = [waiter(t).run_now() for t in (90, 90.0, "90 seconds", "1.5 minutes")]
    drain(capp)
    clock.advance(seconds=89)
    drain(capp)
    assert {rec(capp, h).state for h in handles} == {"waiting"}
    clock.advance(seconds=1)
    drain(capp)
    assert [h.result(timeout=30) for h in handles] == [None] * 4


def test_a_bad_wait_for_event_timeout_or_filter_fails_the_run_clearly(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def bad_timeout(io: Any) -> None:
        await io.wait_for_event("e", "x", timeout="soonish")

    @app.job(retry=Retry(retries=0))
    async def bad_filter(io: Any) -> None:
        await io.wait_for_event("e", "x", filter={"plan": "pro"})

    a, b = bad_timeout().run_now(), bad_filter().run_now()
    drain(app)
    assert rec(app, a).state == "failed" and "soonish" in error_of(app, a)
    assert rec(app, b).state == "failed" and "plan" in error_of(app, b)


def test_io_send_event_refuses_a_payload_json_cannot_hold(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def sender(io: Any) -> None:
        await io.send_event("s", "bad.payload", {"at": {1, 2}})

    h = sender().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "PayloadError" in error_of(app, h) and "at" in error_of(app, h)
    assert app.events_list(name="bad.payload") == []


def test_a_cascade_from_the_top_reaches_grandchildren(app: Conveyor) -> None:
    top = three_levels(app)
    app.pause(job="leaf")
    h = top().run_now()
    drain(app)
    assert [r.state for r in app.jobs_list(job="middle")] == ["waiting"]
    app.cancel(h.id, cascade=True)
    app.resume(job="leaf")
    drain(app)
    states = {name: [r.state for r in app.jobs_list(job=name)]
              for name in ("top", "middle", "leaf")}
    assert states == {"top": ["cancelled"], "middle": ["cancelled"], "leaf": ["cancelled"]}


def test_a_durable_child_sleeping_keeps_its_parent_waiting(capp: Conveyor,
                                                          clock: ManualClock) -> None:
    @capp.job
    async def sleepy(n: int, io: Any) -> int:
        await io.wait("nap", n, "days")
        return n

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [sleepy(3), sleepy(1)])

    h = parent().run_now()
    drain(capp)
    clock.advance(days=2)
    drain(capp)
    assert rec(capp, h).state == "waiting"
    assert sorted(r.state for r in capp.jobs_list(job="sleepy")) == ["completed", "waiting"]
    clock.advance(days=1)
    drain(capp)
    assert h.result(timeout=30) == [3, 1]


def test_try_around_a_failing_child_takes_the_error_path(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def charge(order: int) -> None:
        raise conveyor.Fail(f"card declined for {order}")

    @app.job
    async def checkout(io: Any) -> Any:
        return await io.try_(lambda: io.run_job("charge", charge(9)),
                             lambda exc: {"charged": False, "why": str(exc)})

    h = checkout().run_now()
    drain(app)
    out = h.result(timeout=30)
    assert out["charged"] is False and "card declined for 9" in out["why"]


def test_empty_chain_and_group_are_right_or_refused() -> None:
    for build in (chain, group):
        try:
            flow = build()
        except (TypeError, ValueError) as exc:
            assert str(exc)
        else:
            assert flow is not None
