"""SPEC §5, §10: durable runs under stress — many steps with odd JSON results, durable waits
mixed with cancel, retry and timeouts, replays after the code changed, child runs that
fail. Every step body counts its executions: a completed step never runs again."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry
from conveyor.testing import FakeClock, run_until_idle

from ..support import record_of

START = datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
ODD_VALUES: list[Any] = [None, 0, -0.0, "", [], {}, False, True, "ü☃\u2028", 2**62, 1e308,
                         [[[]]], {"": None, "k": [None, {}]}, -1.5e-300, "\ufffd"]


def counted(ran: Counter[str], key: str, value: Any) -> Any:
    ran[key] += 1
    return value


def cancel_while_waiting(app: Conveyor, clock: FakeClock, job_id: int, hours: float) -> None:
    """Run ``job_id`` until it waits, cancel it, move past its wake-up: it stays cancelled."""
    run_until_idle(app)
    assert record_of(app, job_id).state == "waiting"
    assert app.cancel(job_id)
    clock.advance(hours, "hours")
    run_until_idle(app)
    assert record_of(app, job_id).state == "cancelled"


def test_many_steps_with_odd_results_replay_exactly_across_waits(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    ran: Counter[str] = Counter()
    steps = 120

    @app.job
    async def long_run(payload: Any, io: Any) -> list[Any]:
        seen = []
        for i in range(steps):
            value = ODD_VALUES[i % len(ODD_VALUES)]
            seen.append(await io.task(f"step-{i}", counted, ran, f"step-{i}", value))
            if i % 40 == 39:
                await io.wait(f"pause-{i}", 1, "hour")
        return seen

    handle = long_run({"odd": ODD_VALUES}).run_now()
    for _ in range(4):
        run_until_idle(app)
        clock.advance(61, "minutes")
    run_until_idle(app)

    expected = [ODD_VALUES[i % len(ODD_VALUES)] for i in range(steps)]
    assert handle.result(timeout=30) == expected
    assert set(ran.values()) == {1} and len(ran) == steps
    assert record_of(app, handle.id).state == "completed"


def test_a_cancelled_waiting_run_never_resumes(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    ran: Counter[str] = Counter()

    @app.job
    async def napping(payload: Any, io: Any) -> str:
        await io.task("before", counted, ran, "before", 1)
        await io.wait("nap", 3, "days")
        await io.task("after", counted, ran, "after", 2)
        return "woke"

    handle = napping(None).run_now()
    cancel_while_waiting(app, clock, handle.id, 4 * 24)
    assert ran == Counter(before=1)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_a_retried_run_replays_completed_steps_instead_of_running_them(app: Conveyor) -> None:
    ran: Counter[str] = Counter()
    broken = {"yes": True}

    def flaky() -> str:
        ran["flaky"] += 1
        if broken["yes"]:
            raise Fail("not yet")
        return "fixed"

    @app.job(retry=0)
    async def fragile(payload: Any, io: Any) -> list[Any]:
        first = await io.task("first", counted, ran, "first", {"x": [1, None]})
        second = await io.task("second", flaky)
        return [first, second]

    handle = fragile(None).run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "failed"
    broken["yes"] = False
    assert app.retry(handle.id)
    run_until_idle(app)
    assert handle.result(timeout=30) == [{"x": [1, None]}, "fixed"]
    assert ran == Counter(first=1, flaky=2)
    assert record_of(app, handle.id).attempts == 2


def test_a_long_durable_wait_is_not_a_timeout(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job(timeout=60, retry=0)
    async def patient(payload: Any, io: Any) -> str:
        await io.wait("long", 2, "days")
        return "done"

    handle = patient(None).run_now()
    run_until_idle(app)
    clock.advance(3, "days")
    run_until_idle(app)
    assert handle.result(timeout=30) == "done"


def test_a_step_past_the_timeout_fails_the_attempt_and_the_retry_skips_done_steps(
    app: Conveyor,
) -> None:
    ran: Counter[str] = Counter()

    async def hangs_the_first_time() -> str:
        ran["hang"] += 1
        if ran["hang"] == 1:
            await asyncio.Event().wait()
        return "quick now"

    @app.job(timeout=0.3, retry=1)
    async def slow_step(payload: Any, io: Any) -> list[Any]:
        first = await io.task("ok", counted, ran, "ok", 0)
        return [first, await io.task("hang", hangs_the_first_time)]

    handle = slow_step(None).run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "completed", record.error
    assert record.result == [0, "quick now"]
    assert ran == Counter(ok=1, hang=2)
    assert record.attempts == 2 and record.history[0].error is not None


def test_a_replay_hands_back_the_stored_step_whatever_its_arguments_are_now(
    app: Conveyor,
) -> None:
    """SPEC: "reusing a key with other arguments is an error" — read as a second call in
    one run (tests/durable); a replay calling the stored step with arguments that changed
    since (they may come from the clock, or a deploy) gets the stored result back."""
    clock = FakeClock(app, start=START)
    ran: Counter[str] = Counter()
    deployed = {"argument": 1}

    @app.job(retry=2)
    async def redeployed(payload: Any, io: Any) -> Any:
        value = await io.task("load", counted, ran, "load", deployed["argument"])
        await io.wait("between-deploys", 1, "hour")
        return value

    handle = redeployed(None).run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    deployed["argument"] = 2
    clock.advance(2, "hours")
    run_until_idle(app)
    assert handle.result(timeout=30) == 1
    assert ran == Counter(load=1)


def test_a_step_added_after_the_replayed_ones_runs_on_resume(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    ran: Counter[str] = Counter()
    deployed = {"extra_step": False}

    @app.job
    async def growing(payload: Any, io: Any) -> list[Any]:
        values = [await io.task("a", counted, ran, "a", "A")]
        await io.wait("w", 1, "minute")
        if deployed["extra_step"]:
            values.append(await io.task("b", counted, ran, "b", "B"))
        return values

    handle = growing(None).run_now()
    run_until_idle(app)
    deployed["extra_step"] = True
    clock.advance(2, "minutes")
    run_until_idle(app)
    assert handle.result(timeout=30) == ["A", "B"]
    assert ran == Counter(a=1, b=1)


def test_cancel_during_a_step_retry_backoff_stops_the_step_for_good(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    ran: Counter[str] = Counter()

    def always_fails() -> None:
        ran["fails"] += 1
        raise RuntimeError("down")

    @app.job(retry=0)
    async def backing_off(payload: Any, io: Any) -> None:
        await io.task("call", always_fails, retry=Retry(retries=5, wait="1 hour"))

    handle = backing_off(None).run_now()
    cancel_while_waiting(app, clock, handle.id, 6)
    assert ran == Counter(fails=1)


def test_a_cancelled_event_waiter_ignores_the_event_and_its_retry_waits_anew(
    app: Conveyor,
) -> None:
    @app.job(retry=0)
    async def awaiting(payload: Any, io: Any) -> Any:
        event = await io.wait_for_event("paid", "order.paid", timeout="1 day")
        return event and event["payload"]

    handle = awaiting(None).run_now()
    run_until_idle(app)
    assert app.cancel(handle.id)
    app.send_event("order.paid", {"order": 1})
    run_until_idle(app)
    assert record_of(app, handle.id).state == "cancelled"
    assert app.retry(handle.id)
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    app.send_event("order.paid", {"order": 2, "odd": [None, {}]})
    run_until_idle(app)
    assert handle.result(timeout=30) == {"order": 2, "odd": [None, {}]}
