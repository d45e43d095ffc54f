"""Blind acceptance tests of SPEC §5 (durable runs, replay, events) and §10 (workflows),
written from SPEC and the user docs alone, with inputs their examples do not use: crashes
mid-run, failing then succeeding steps, long waits, events before and after a wait,
duplicate, huge and unicode keys, nested and failing children. Every in-process test runs
on the memory, SQLite and PostgreSQL stores; the crash tests on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import conveyor
from conveyor import Conveyor, JobFailed, JobHandle, JobRecord, Retry, StepFailed, chain, group
from conveyor.testing import FakeClock, run_until_idle
from tests.conformance.helpers import ManualClock, drain, rescued_while_running
from tests.process.helpers import spawn_worker, stop, wait_until

START = datetime(2032, 2, 29, 12, 0, tzinfo=UTC)  # a leap day


@pytest.fixture
def make(new_app: Callable[..., Conveyor]) -> Callable[..., Conveyor]:
    return new_app


@pytest.fixture
def app(make: Callable[..., Conveyor]) -> Conveyor:
    return make()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def capp(make: Callable[..., Conveyor], clock: ManualClock) -> Conveyor:
    return make(clock=clock)


def rec(app: Conveyor, handle: JobHandle | int) -> JobRecord:
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found


def error_of(app: Conveyor, handle: JobHandle | int) -> str:
    error = rec(app, handle).error
    assert error is not None
    get = error.get if isinstance(error, dict) else lambda k: getattr(error, k, None)
    return f"{get('type')}: {get('message')}"


def child_ids(record: JobRecord) -> list[int]:
    return [c if isinstance(c, int) else c.id for c in record.children]


# -- §5 tasks: retries, failures, keys, results ---------------------------------------------------


def test_a_task_that_raises_waits_durably_then_succeeds(capp: Conveyor,
                                                        clock: ManualClock) -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("net down ☹")
        return "ok"

    @capp.job
    async def flow(io: Any) -> Any:
        return await io.task("flaky", flaky, retry=Retry(retries=2, wait="1 hour"))

    h = flow().run_now()
    drain(capp)
    assert rec(capp, h).state == "waiting" and calls == [1]
    clock.advance(minutes=59)
    drain(capp)
    assert calls == [1]
    clock.advance(minutes=1)
    drain(capp)
    assert h.result(timeout=5) == "ok" and len(calls) == 2
    [step] = [s for s in capp.steps(h.id) if s.key == "flaky"]
    assert step.state == "completed" and step.attempts == 2
    assert "net down" in str(step.history)


def test_a_step_that_failed_for_good_takes_the_same_path_on_replay(capp: Conveyor,
                                                                   clock: ManualClock) -> None:
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise ValueError("bad ✗")

    @capp.job
    async def flow(io: Any) -> Any:
        try:
            await io.task("broken", broken)
        except StepFailed as exc:
            outcome = f"caught {exc.error['type']}"
        else:
            outcome = "no error"
        await io.wait("later", 1, "day")
        return outcome

    h = flow().run_now()
    drain(capp)
    assert rec(capp, h).state == "waiting"
    clock.advance(days=1)
    drain(capp)
    assert h.result(timeout=5) == "caught ValueError"
    assert calls == ["broken"]


def test_the_same_key_with_the_same_arguments_runs_once(app: Conveyor) -> None:
    calls: list[Any] = []

    def load(x: Any) -> Any:
        calls.append(x)
        return {"got": x}

    @app.job
    async def flow(io: Any) -> Any:
        first = await io.task("load", load, {"a": [1, "ü"]})
        second = await io.task("load", load, {"a": [1, "ü"]})
        return [first, second]

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=5) == [{"got": {"a": [1, "ü"]}}] * 2
    assert len(calls) == 1


def test_one_key_for_two_kinds_of_step_is_an_error(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def flow(io: Any) -> None:
        await io.task("k", lambda: 1)
        await io.wait("k", 0, "seconds")

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "k" in error_of(app, h)


def test_a_task_result_json_cannot_hold_is_a_clear_error(app: Conveyor) -> None:
    results = [datetime(2030, 1, 1), b"bytes", object(), float("nan"), {1: "int key"}]
    calls: list[int] = []

    def give(n: int) -> Any:
        calls.append(n)
        return results[n]

    @app.job(retry=Retry(retries=0))
    async def flow(n: int, io: Any) -> str:
        await io.task("not-json-ü", give, n)
        return "went on"

    handles = [flow(n).run_now() for n in range(len(results))]
    drain(app)
    for h in handles:
        assert rec(app, h).state == "failed", rec(app, h).result
        text = error_of(app, h)
        assert "PayloadError" in text or "JSON" in text, text
    assert sorted(calls) == list(range(len(results)))


def test_huge_and_unicode_keys_are_distinct_and_replayed(capp: Conveyor,
                                                         clock: ManualClock) -> None:
    prefix = "ключ-🔑-" * 2000
    keys = [prefix + "a", prefix + "b", "😀", "😀 ", "\u00e9", "e\u0301", "a/b\\c'\"%_"]
    calls: list[str] = []

    def note(key: str) -> str:
        calls.append(key)
        return key[-3:]

    @capp.job
    async def flow(io: Any) -> Any:
        out = [await io.task(k, note, k) for k in keys]
        await io.wait(prefix + "wait", 1, "hour")
        return out

    h = flow().run_now()
    drain(capp)
    assert rec(capp, h).state == "waiting"
    clock.advance(hours=1)
    drain(capp)
    assert h.result(timeout=5) == [k[-3:] for k in keys]
    assert calls == keys


def test_code_between_steps_runs_again_and_steps_do_not(capp: Conveyor,
                                                        clock: ManualClock) -> None:
    executions: list[int] = []
    calls: list[int] = []

    def tenfold(n: int) -> int:
        calls.append(n)
        return n * 10

    @capp.job
    async def flow(io: Any) -> Any:
        executions.append(1)
        total = 0
        for n in range(3):
            total += await io.task(f"step-{n}", tenfold, n)
            await io.wait(f"wait-{n}", 1, "hour")
        return total

    h = flow().run_now()
    for _ in range(3):
        drain(capp)
        clock.advance(hours=1)
    drain(capp)
    assert h.result(timeout=5) == 30
    assert calls == [0, 1, 2]
    assert len(executions) == 4


def test_changed_steps_are_a_non_determinism_error_not_retried(capp: Conveyor,
                                                               clock: ManualClock) -> None:
    variant = {"key": "original"}

    @capp.job(retry=Retry(retries=3, wait=0))
    async def flow(io: Any) -> str:
        await io.task(variant["key"], lambda: 1)
        await io.wait("nap", 1, "hour")
        return "done"

    h = flow().run_now()
    drain(capp)
    variant["key"] = "renamed"
    clock.advance(hours=1)
    drain(capp)
    record = rec(capp, h)
    assert record.state == "failed"
    assert "NonDeterminism" in error_of(capp, h)
    assert "original" in error_of(capp, h) and "renamed" in error_of(capp, h)
    assert record.attempts == 2 or len(record.history) <= 2


def test_returning_before_a_stored_step_is_a_non_determinism_error(
        capp: Conveyor, clock: ManualClock) -> None:
    short = {"on": False}

    @capp.job(retry=Retry(retries=2, wait=0))
    async def flow(io: Any) -> str:
        if short["on"]:
            return "cut short"
        await io.task("before", lambda: 1)
        await io.wait("nap", 5, "minutes")
        return "full"

    h = flow().run_now()
    drain(capp)
    short["on"] = True
    clock.advance(minutes=5)
    drain(capp)
    assert rec(capp, h).state == "failed"
    assert "NonDeterminism" in error_of(capp, h)


# -- §5 gather -----------------------------------------------------------------------------------


def test_gather_of_a_wait_and_a_task_is_right_or_refused(capp: Conveyor,
                                                         clock: ManualClock) -> None:
    calls: list[str] = []

    def note() -> str:
        calls.append("t")
        return "T"

    @capp.job(retry=Retry(retries=0))
    async def flow(io: Any) -> Any:
        res = await asyncio.gather(io.wait("w", 1, "hour"),
                                   io.task("t", note))
        return list(res)

    h = flow().run_now()
    for _ in range(3):
        drain(capp)
        clock.advance(hours=1)
    record = rec(capp, h)
    if record.state == "completed":
        assert record.result == [None, "T"]
    else:
        assert record.state == "failed"
        assert "'t'" in error_of(capp, h) or "gather" in error_of(capp, h)
    assert calls.count("t") <= 1


def test_gather_of_child_runs_never_starts_a_child_twice(app: Conveyor) -> None:
    @app.job
    def kid(n: int) -> int:
        return n * 2

    @app.job(retry=Retry(retries=2, wait=0))
    async def parent(io: Any) -> Any:
        return list(await asyncio.gather(io.run_job("a", kid(1)), io.run_job("b", kid(2))))

    h = parent().run_now()
    drain(app)
    record = rec(app, h)
    if record.state == "completed":
        assert record.result == [2, 4]
    else:
        assert record.state == "failed" and error_of(app, h)
    assert len(app.jobs_list(job="kid")) <= 2


# -- §5 long waits with FakeClock ----------------------------------------------------------------


def test_a_year_long_wait_from_a_leap_day_is_a_calendar_step(app: Conveyor) -> None:
    @app.job
    async def yearly(io: Any) -> str:
        await io.wait("year", 1, "year")
        return "anniversary"

    with FakeClock(app, start=START) as fake:
        h = yearly().run_now()
        run_until_idle(app, clock=fake)
        fake.move_to(datetime(2033, 2, 28, 11, 59, tzinfo=UTC))
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(1, "minute")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "completed"
    assert h.result(timeout=5) == "anniversary"


def test_fractional_and_tiny_waits_resume_in_order(app: Conveyor) -> None:
    @app.job
    async def flow(io: Any) -> list[str]:
        await io.wait("half-second", 0.5, "seconds")
        await io.wait("ms", 1, "millisecond")
        await io.wait("weeks", 1.5, "weeks")
        return ["done"]

    with FakeClock(app, start=START) as fake:
        h = flow().run_now()
        run_until_idle(app, clock=fake)
        fake.advance(1, "second")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(10, "days")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"  # the 1.5 weeks count from when it was reached
        fake.advance(10.4, "days")
        run_until_idle(app, clock=fake)
        assert rec(app, h).state == "waiting"
        fake.advance(0.1, "days")
        run_until_idle(app, clock=fake)
    assert h.result(timeout=5) == ["done"]


# -- §5 events -----------------------------------------------------------------------------------


def test_wait_for_event_wakes_on_a_matching_event_after_the_wait(capp: Conveyor) -> None:
    @capp.job
    async def flow(order: int, io: Any) -> Any:
        got = await io.wait_for_event("paid", "order.paid", filter={"order": [order]})
        return got["payload"]

    h = flow(7).run_now()
    drain(capp)
    assert rec(capp, h).state == "waiting"
    capp.send_event("order.paid", {"order": 8, "note": "other"})
    capp.send_event("order.päid", {"order": 7})
    drain(capp)
    assert rec(capp, h).state == "waiting"
    capp.send_event("order.paid", {"order": 7, "note": "✓"}, id="pay-7")
    drain(capp)
    assert h.result(timeout=5) == {"order": 7, "note": "✓"}


def test_an_event_sent_before_the_wait_wakes_it_once_at_most(capp: Conveyor) -> None:
    @capp.job
    async def flow(io: Any) -> Any:
        got = await io.wait_for_event("ev", "early.bird")
        return got["id"]

    capp.send_event("early.bird", {"n": 1}, id="early")
    h = flow().run_now()
    drain(capp)
    if rec(capp, h).state == "waiting":
        capp.send_event("early.bird", {"n": 2}, id="late")
        drain(capp)
        assert h.result(timeout=5) == "late"
    else:
        assert h.result(timeout=5) == "early"


def test_wait_for_event_times_out_with_none_and_a_late_event_changes_nothing(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def flow(io: Any) -> Any:
        got = await io.wait_for_event("ev", "maybe.later", timeout="2 hours")
        await io.wait("after", 1, "hour")
        return got

    h = flow().run_now()
    drain(capp)
    clock.advance(hours=2, seconds=1)
    drain(capp)
    capp.send_event("maybe.later", {"too": "late"})
    clock.advance(hours=1)
    drain(capp)
    assert h.result(timeout=5) is None


def test_one_event_wakes_every_waiting_run_and_starts_triggered_ones(capp: Conveyor) -> None:
    started: list[Any] = []

    @capp.job
    async def waiter(n: int, io: Any) -> Any:
        got = await io.wait_for_event("e", "fan.out", filter={"kind": [{"prefix": "gö"}]})
        return [n, got["payload"]["kind"]]

    @capp.job("triggered", trigger=capp.event("fan.out", filter={"kind": ["göod"]}))
    async def triggered(payload: Any, io: Any, ctx: Any) -> None:
        started.append(ctx.trigger)

    handles = [waiter(n).run_now() for n in range(3)]
    drain(capp)
    capp.send_event("fan.out", {"kind": "göod"}, id="fan-1")
    capp.send_event("fan.out", {"kind": "göod"}, id="fan-1")
    drain(capp)
    assert [h.result(timeout=5) for h in handles] == [[n, "göod"] for n in range(3)]
    assert len(started) == 1 and started[0]["event_id"] == "fan-1"


def test_io_send_event_starts_triggered_runs_and_wakes_waiters(capp: Conveyor,
                                                               clock: ManualClock) -> None:
    got: list[Any] = []

    @capp.job("listener", trigger=capp.event("ping.🏓"))
    async def listener(payload: Any, io: Any) -> None:
        got.append(payload)

    @capp.job
    async def waiter(io: Any) -> Any:
        return (await io.wait_for_event("w", "ping.🏓"))["payload"]

    @capp.job
    async def sender(io: Any) -> str:
        await io.wait("first", 1, "minute")
        return str(await io.send_event("send", "ping.🏓", {"from": "sender"}))

    w = waiter().run_now()
    s = sender().run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    assert w.result(timeout=5) == {"from": "sender"}
    assert got == [{"from": "sender"}]
    sent_id = s.result(timeout=5)
    assert str(s.id) in sent_id


def test_an_event_triggered_durable_run_waits_and_resumes(capp: Conveyor,
                                                          clock: ManualClock) -> None:
    @capp.job("welcome", trigger=capp.event("user.created", filter={"plan": ["pro"]}))
    async def welcome(payload: Any, io: Any) -> str:
        name = await io.task("load", lambda: payload["name"].upper())
        await io.wait("cool-off", 3, "days")
        return f"hi {name}"

    capp.send_event("user.created", {"plan": "pro", "name": "zoë"}, id="u-1")
    drain(capp)
    [run] = capp.jobs_list(job="welcome")
    assert run.state == "waiting"
    capp.send_event("user.created", {"plan": "pro", "name": "zoë"}, id="u-1")
    clock.advance(days=3)
    drain(capp)
    [run] = capp.jobs_list(job="welcome")
    assert run.state == "completed" and run.result == "hi ZOË"


# -- §10 child runs ------------------------------------------------------------------------------


def test_nested_child_runs_three_levels_deep(app: Conveyor) -> None:
    @app.job("leaf-ü")
    def leaf(n: int) -> int:
        return n + 1

    @app.job
    async def middle(n: int, io: Any) -> int:
        return sum(await io.run_jobs("leaves", [leaf(n), leaf(n * 10)]))

    @app.job
    async def top(io: Any) -> Any:
        a = await io.run_job("m1", middle(1))
        b = await io.run_job("m2", middle(a))
        return [a, b]

    h = top().run_now()
    drain(app)
    assert h.result(timeout=10) == [13, 13 + 1 + 130 + 1]
    top_rec = rec(app, h)
    middles = [rec(app, c) for c in child_ids(top_rec)]
    assert [m.parent_id for m in middles] == [h.id, h.id]
    leaves = [rec(app, c) for m in middles for c in child_ids(m)]
    assert len(leaves) == 4 and {lf.parent_id for lf in leaves} == {m.id for m in middles}
    assert len(app.jobs_list(job="middle")) == 2


def test_a_failing_child_raises_job_failed_the_parent_can_catch(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise RuntimeError("kid broke ✗")

    @app.job
    async def parent(io: Any) -> Any:
        try:
            await io.run_job("kid", kid())
        except JobFailed as exc:
            return {"id": exc.job_id, "state": exc.state, "msg": str(exc)}
        return "no error"

    h = parent().run_now()
    drain(app)
    out = h.result(timeout=10)
    [kid_rec] = app.jobs_list(job="kid")
    assert out["id"] == kid_rec.id and out["state"] == "failed"
    assert "kid broke" in out["msg"]


def test_an_uncaught_failing_child_fails_the_parent(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise conveyor.Fail("nope")

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> None:
        await io.run_job("kid", kid())

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "JobFailed" in error_of(app, h)
    with pytest.raises(JobFailed):
        h.result(timeout=5)


def test_run_jobs_waits_for_all_then_raises_for_the_first_failure_in_order(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def maybe(n: int) -> int:
        if n in (2, 4):
            raise ValueError(f"bad {n}")
        return n

    @app.job
    async def parent(io: Any) -> Any:
        try:
            await io.run_jobs("all", [maybe(n) for n in range(6)])
        except JobFailed as exc:
            return exc.job_id
        return None

    h = parent().run_now()
    drain(app)
    failed_id = h.result(timeout=10)
    kids = sorted(app.jobs_list(job="maybe"), key=lambda r: r.id)
    assert [k.state for k in kids] == ["completed", "completed", "failed", "completed",
                                       "failed", "completed"]
    assert failed_id == kids[2].id


def test_a_child_that_succeeds_on_retry_gives_the_parent_its_result(capp: Conveyor,
                                                                    clock: ManualClock) -> None:
    @capp.job(retry=Retry(retries=2, wait=60))
    def wobbly(meta: Any) -> int:
        if meta.attempt < 3:
            raise OSError("try again")
        return int(meta.attempt)

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", wobbly())

    h = parent().run_now()
    for _ in range(3):
        drain(capp)
        assert rec(capp, h).state in ("waiting", "completed")
        clock.advance(seconds=61)
    drain(capp)
    assert h.result(timeout=5) == 3
    assert len(capp.jobs_list(job="wobbly")) == 1


def test_replays_never_start_a_child_twice(capp: Conveyor, clock: ManualClock) -> None:
    runs: list[int] = []

    @capp.job
    def kid(n: int) -> int:
        runs.append(n)
        return n

    @capp.job
    async def parent(io: Any) -> Any:
        a = await io.run_job("one", kid(1))
        await io.wait("nap", 1, "day")
        b = await io.run_jobs("two", [kid(2), kid(3)])
        await io.wait("nap2", 1, "day")
        return [a, *b]

    h = parent().run_now()
    for _ in range(3):
        drain(capp)
        clock.advance(days=1)
    drain(capp)
    assert h.result(timeout=5) == [1, 2, 3]
    assert sorted(runs) == [1, 2, 3]
    assert len(capp.jobs_list(job="kid")) == 3


def test_cancelling_a_waiting_parent_with_cascade_cancels_its_children(
        app: Conveyor) -> None:
    @app.job
    def slow_kid(n: int) -> int:
        return n

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [slow_kid(1), slow_kid(2)])

    app.pause(job="slow_kid")
    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "waiting"
    app.cancel(h.id, cascade=True)
    app.resume(job="slow_kid")
    drain(app)
    assert rec(app, h).state == "cancelled"
    assert {k.state for k in app.jobs_list(job="slow_kid")} == {"cancelled"}
    with pytest.raises(JobFailed):
        h.result(timeout=5)


def test_cancelling_the_child_raises_job_failed_in_the_parent(app: Conveyor) -> None:
    @app.job
    def kid() -> int:
        return 1

    @app.job
    async def parent(io: Any) -> Any:
        try:
            return await io.run_job("kid", kid())
        except JobFailed as exc:
            return exc.state

    app.pause(job="kid")
    h = parent().run_now()
    drain(app)
    [kid_rec] = app.jobs_list(job="kid")
    app.cancel(kid_rec.id)
    drain(app)
    assert h.result(timeout=5) == "cancelled"


def test_child_payloads_and_results_with_unicode_and_big_values(app: Conveyor) -> None:
    big = {"text": "ü🎉" * 50_000, "nested": [[["deep"]]]}

    @app.job("子")
    def kid(payload: Any) -> Any:
        return {"len": len(payload["text"]), "echo": payload["nested"]}

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_job("子-step-🔑" * 50, kid(big))

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=10) == {"len": 100_000, "echo": [[["deep"]]]}


def test_a_child_payload_json_cannot_hold_fails_the_parent_clearly(app: Conveyor) -> None:
    @app.job
    def kid(x: Any) -> Any:
        return x

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid({"when": datetime(2030, 1, 1)}))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "when" in error_of(app, h)
    assert app.jobs_list(job="kid") == []


# -- §10 dependencies, chains and groups ---------------------------------------------------------


def test_a_dependent_of_a_durable_run_waits_out_its_sleep(capp: Conveyor,
                                                          clock: ManualClock) -> None:
    @capp.job
    async def durable(io: Any) -> str:
        await io.wait("nap", 2, "hours")
        return "rested"

    @capp.job
    def after(x: Any = None) -> str:
        return "after"

    a = durable().run_now()
    b = after().run_now(depends_on=[a])
    drain(capp)
    assert rec(capp, b).state == "blocked"
    clock.advance(hours=2)
    drain(capp)
    assert b.result(timeout=5) == "after"


def test_a_group_of_chains_and_a_failing_group_member(app: Conveyor) -> None:
    @app.job
    def start(x: int) -> int:
        return x

    @app.job
    def double(x: int) -> int:
        return 2 * x

    h = group(chain(start(1), double()), chain(start(-5), double(), double())).run_now()
    drain(app)
    assert h.result(timeout=10) == [2, -20]

    @app.job(retry=Retry(retries=0))
    def fails(x: int = 0) -> None:
        raise RuntimeError("member broke")

    @app.job
    def last(xs: Any) -> Any:
        return xs

    flow = chain(start(3), group(double(), fails()), last()).run_now()
    drain(app)
    with pytest.raises(JobFailed):
        flow.result(timeout=10)
    [last_rec] = app.jobs_list(job="last")
    assert last_rec.state == "cancelled"


def test_a_chain_whose_middle_fails_then_is_retried_completes(app: Conveyor) -> None:
    attempts: list[int] = []

    @app.job
    def first(x: int) -> int:
        return x + 1

    @app.job(retry=Retry(retries=0))
    def shaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("once")
        return x * 100

    @app.job
    def final(x: int) -> str:
        return f"got {x}"

    flow = chain(first(1), shaky(), final()).run_now()
    drain(app)
    with pytest.raises(JobFailed):
        flow.result(timeout=5)
    [shaky_rec] = app.jobs_list(job="shaky")
    app.retry(shaky_rec.id)
    drain(app)
    assert flow.result(timeout=10) == "got 200"
    assert attempts == [2, 2]


def test_a_durable_chain_member_receives_the_previous_result(capp: Conveyor,
                                                             clock: ManualClock) -> None:
    @capp.job
    def produce(x: str) -> str:
        return x + "→"

    @capp.job
    async def slow_step(value: str, io: Any) -> str:
        await io.wait("nap", 1, "hour")
        return value + "✓"

    flow = chain(produce("α"), slow_step(), produce()).run_now()
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert flow.result(timeout=5) == "α→✓→"


# -- crashes: kill -9 mid-run (SQLite and PostgreSQL) ---------------------------------------------

CRASH_APP = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ["CONVEYOR_TEST_LEASE"]))
    LEDGER = Path(os.environ["BLIND_LEDGER"])

    def note(word):
        with LEDGER.open("a") as f:
            f.write(word + "\\n")

    def hang():
        while True:
            time.sleep(0.05)

    def first(x):
        note("first")
        return x + 1

    def second(x):
        note("second")
        hang()

    @app.job("crashy", retry=Retry(retries=3, wait=0))
    async def crashy(payload, io):
        a = await io.task("first-ü", first, payload["n"])
        b = await io.task("second", second, a)
        return [a, b]

    @app.job("kid", retry=Retry(retries=3, wait=0))
    def kid(n):
        note("kid")
        hang()

    @app.job("parent", retry=Retry(retries=3, wait=0))
    async def parent(io):
        return await io.run_job("kid", kid(5))
''')


def _ledger(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _kill_mid_run(url: str, tmp_path: Path, word: str) -> Path:
    """Start a worker on the crash app, wait until it is inside ``word``, kill -9 it."""
    app_file = tmp_path / "crash_app.py"
    app_file.write_text(CRASH_APP)
    ledger = tmp_path / "blind-ledger"
    worker = spawn_worker(url, tmp_path, lease=1.0, app_file=app_file, concurrency=2,
                          env={"BLIND_LEDGER": str(ledger)})
    try:
        wait_until(lambda: word in _ledger(ledger), 60, f"the worker reaching {word}", tmp_path)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        stop(worker)
    time.sleep(1.2)  # the killed worker's lease expires
    return ledger


def _define_crash_jobs(app: Conveyor, ledger: Path) -> tuple[Any, Any]:
    def note(word: str) -> None:
        with ledger.open("a") as f:
            f.write(word + "\n")

    def first(x: int) -> int:
        note("first")
        return x + 1

    def second(x: int) -> str:
        note("second")
        return f"second got {x}"

    @app.job("crashy", retry=Retry(retries=3, wait=0))
    async def crashy(payload: Any, io: Any) -> Any:
        a = await io.task("first-ü", first, payload["n"])
        b = await io.task("second", second, a)
        return [a, b]

    @app.job("kid", retry=Retry(retries=3, wait=0))
    def kid(n: int) -> int:
        note("kid")
        return n * 2

    @app.job("parent", retry=Retry(retries=3, wait=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(5))

    return crashy, parent


@pytest.mark.slow
def test_a_durable_run_killed_mid_task_keeps_its_finished_steps(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "blind-ledger"
    crashy, _ = _define_crash_jobs(app, ledger)
    h = crashy({"n": 41}).run_now()
    _kill_mid_run(url, tmp_path, "second")
    drain(app)
    assert h.result(timeout=10) == [42, "second got 42"]
    assert _ledger(ledger).count("first") == 1
    assert _ledger(ledger).count("second") == 2
    record = rec(app, h)
    assert record.state == "completed" and record.attempts >= 2


@pytest.mark.slow
def test_a_killed_child_is_rescued_and_its_waiting_parent_completes(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "blind-ledger"
    _, parent = _define_crash_jobs(app, ledger)
    h = parent().run_now()
    _kill_mid_run(url, tmp_path, "kid")
    drain(app)
    assert h.result(timeout=10) == 10
    assert len(app.jobs_list(job="kid")) == 1
    assert _ledger(ledger).count("kid") == 2


# -- second pass: equality traps, timeouts across waits, calendars, nesting, cascades ------------


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
    assert h.result(timeout=5) == {"pair": [1, 2], "n": 1.0}


def test_an_async_task_and_keyword_arguments(app: Conveyor) -> None:
    async def fetch(a: int, *, b: str) -> str:
        await asyncio.sleep(0)
        return f"{a}-{b}"

    @app.job
    async def flow(io: Any) -> Any:
        return await io.task("async-ü", fetch, 1, b="ß")

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=5) == "1-ß"


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
    assert h.result(timeout=5) == [1, 1, 1, 1]
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
    assert h.result(timeout=5) == ["A", "B"]
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
    assert h.result(timeout=5) == [1, 2]
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
    assert h.result(timeout=5) == sum(range(100))
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


# -- second pass: events ---------------------------------------------------------------------------


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
    assert w.result(timeout=5) == {"n": "ü"}


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
    assert [h.result(timeout=5) for h in handles] == [None] * 4


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


# -- second pass: workflows ------------------------------------------------------------------------


def test_a_cascade_from_the_top_reaches_grandchildren(app: Conveyor) -> None:
    @app.job
    def leaf() -> int:
        return 1

    @app.job
    async def middle(io: Any) -> Any:
        return await io.run_job("leaf", leaf())

    @app.job
    async def top(io: Any) -> Any:
        return await io.run_job("middle", middle())

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
    assert h.result(timeout=5) == [3, 1]


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
    out = h.result(timeout=5)
    assert out["charged"] is False and "card declined for 9" in out["why"]


def test_empty_chain_and_group_are_right_or_refused() -> None:
    for build in (chain, group):
        try:
            flow = build()
        except (TypeError, ValueError) as exc:
            assert str(exc)
        else:
            assert flow is not None


# -- third pass: versions, child arguments, workflow handles, fan-out, crash of many ---------------


def test_ctx_names_the_run_and_the_job(app: Conveyor) -> None:
    @app.job("ctx-ü-job")
    async def flow(io: Any, ctx: Any) -> Any:
        return [ctx.run_id, ctx.job_id, ctx.trigger]

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=5) == [h.id, "ctx-ü-job", {"type": "invoke"}]


def test_an_old_version_keeps_replaying_its_own_code(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    clock = ManualClock(START)
    with Conveyor(store_url, clock=clock) as old:
        @old.job("evolving", version="1.0.0")
        async def v1(io: Any) -> str:
            await io.task("load", lambda: "v1-load")
            await io.wait("nap", 1, "day")
            return "v1 done"

        waiting = v1().run_now()
        drain(old)
        assert rec(old, waiting).state == "waiting"
    clock.advance(days=1)
    with Conveyor(store_url, clock=clock) as new:
        @new.job("evolving", version="2.0.0")
        async def v2(io: Any) -> str:
            await io.task("fetch", lambda: "v2")
            return "v2 done"

        @new.job_version("evolving", "1.0.0")
        async def v1_again(io: Any) -> str:
            await io.task("load", lambda: "v1-load")
            await io.wait("nap", 1, "day")
            return "v1 done"

        fresh = v2().run_now()
        drain(new)
        assert rec(new, waiting.id).result == "v1 done"
        assert fresh.result(timeout=5) == "v2 done"
        assert rec(new, fresh).version == "2.0.0" and rec(new, waiting).version == "1.0.0"


def test_an_unregistered_old_version_fails_naming_both(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    clock = ManualClock(START)
    with Conveyor(store_url, clock=clock) as old:
        @old.job("evolving", version="1.0.0")
        async def v1(io: Any) -> str:
            await io.wait("nap", 1, "day")
            return "v1"

        h = v1().run_now()
        drain(old)
    clock.advance(days=1)
    with Conveyor(store_url, clock=clock) as new:
        @new.job("evolving", version="1.1.0")
        async def v11(io: Any) -> str:
            await io.task("other", lambda: 1)
            return "v1.1"

        drain(new)
        assert rec(new, h).state == "failed"
        text = error_of(new, h)
        assert "1.0.0" in text and "1.1.0" in text


def test_a_child_call_with_wrong_arguments_fails_the_parent_and_stores_nothing(
        app: Conveyor) -> None:
    @app.job
    def kid(a: int, b: int) -> int:
        return a + b

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(1))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert app.jobs_list(job="kid") == []


def test_the_same_call_twice_in_run_jobs_starts_two_children(app: Conveyor) -> None:
    @app.job
    def kid(n: int) -> int:
        return n

    @app.job
    async def parent(io: Any) -> Any:
        call = kid(7)
        return await io.run_jobs("pair", [call, call])

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=5) == [7, 7]
    assert len(app.jobs_list(job="kid")) == 2


def test_a_step_key_reused_for_another_child_is_an_error(app: Conveyor) -> None:
    @app.job
    def kid(n: int) -> int:
        return n

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        await io.run_job("k", kid(1))
        return await io.run_job("k", kid(2))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert len(app.jobs_list(job="kid")) == 1


def test_a_parent_retried_by_policy_after_a_failed_child_starts_no_new_child(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise RuntimeError("kid down")

    @app.job(retry=Retry(retries=2, wait=0))
    async def parent(io: Any) -> None:
        await io.run_job("kid", kid())

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert len(app.jobs_list(job="kid")) == 1


def test_a_retried_child_wakes_its_waiting_parent_with_the_new_result(app: Conveyor) -> None:
    broken = {"on": True}

    @app.job(retry=Retry(retries=0))
    def shaky() -> str:
        if broken["on"]:
            raise RuntimeError("not yet")
        return "fixed"

    @app.job
    def held() -> str:
        return "held"

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [shaky(), held()])

    app.pause(job="held")
    h = parent().run_now()
    drain(app)
    [shaky_rec] = app.jobs_list(job="shaky")
    assert shaky_rec.state == "failed" and rec(app, h).state == "waiting"
    broken["on"] = False
    app.retry(shaky_rec.id)
    drain(app)
    app.resume(job="held")
    drain(app)
    assert h.result(timeout=5) == ["fixed", "held"]
    assert len(app.jobs_list(job="shaky")) == 1


def test_a_non_json_run_output_fails_it_and_a_retry_reruns_no_step(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job(retry=Retry(retries=1, wait=0))
    async def flow(io: Any) -> Any:
        await io.task("once", lambda: calls.append(1))
        return {"when": datetime(2030, 1, 1)}

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "PayloadError" in error_of(app, h) and "when" in error_of(app, h)
    assert calls == [1]


def test_a_wide_fan_out_returns_every_result_in_order(app: Conveyor) -> None:
    @app.job
    def square(n: int) -> int:
        return n * n

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("many", [square(n) for n in range(150, 0, -1)])

    h = parent().run_now()
    drain(app, concurrency=16)
    assert h.result(timeout=10) == [n * n for n in range(150, 0, -1)]


def test_a_chain_of_a_chain_and_a_group_handle_as_a_dependency(app: Conveyor) -> None:
    @app.job
    def inc(x: int) -> int:
        return x + 1

    @app.job
    def report(xs: Any = None) -> str:
        return "reported"

    nested = chain(chain(inc(0), inc()), inc(), chain(inc(), inc())).run_now()
    g = group(inc(10), inc(20)).run_now()
    after = report().run_now(depends_on=[g])
    assert rec(app, after).state == "blocked"
    drain(app)
    assert nested.result(timeout=10) == 5
    assert after.result(timeout=10) == "reported"
    assert len(nested.ids) == 5


def test_cancelling_a_workflow_handle_cancels_every_unfinished_member(app: Conveyor) -> None:
    @app.job
    def step(x: Any = None) -> int:
        return 1

    flow = chain(step(), step(), group(step(), step())).run_now()
    flow.cancel()
    drain(app)
    assert {rec(app, i).state for i in flow.ids} == {"cancelled"}
    with pytest.raises(JobFailed):
        flow.result(timeout=5)


def test_a_failing_durable_dependency_cancels_its_dependent(capp: Conveyor,
                                                           clock: ManualClock) -> None:
    @capp.job(retry=Retry(retries=0))
    async def durable(io: Any) -> None:
        await io.wait("nap", 1, "hour")
        raise RuntimeError("woke up broken")

    @capp.job
    def after() -> str:
        return "never"

    a = durable().run_now()
    b = after().run_now(depends_on=[a])
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert rec(capp, a).state == "failed"
    assert rec(capp, b).state == "cancelled" and str(a.id) in error_of(capp, b)


def test_a_filtered_trigger_ignores_payloads_that_are_not_objects(capp: Conveyor) -> None:
    got: list[Any] = []
    payloads = ["just text", ["a", "list"], None, 42, [{"kind": "y"}]]

    @capp.job("filtered", trigger=capp.event("shape.any", filter={"kind": ["x"]}))
    async def filtered(p: Any, io: Any) -> None:
        got.append(p)

    @capp.job("unfiltered", trigger=capp.event("shape.any"))
    async def unfiltered(p: Any, io: Any) -> None:
        got.append(["all", p])

    for payload in payloads:
        capp.send_event("shape.any", payload)
    drain(capp)
    assert sorted(map(repr, got)) == sorted(repr(["all", p]) for p in payloads)


# -- fourth pass: limits and pauses around waiting runs, events into children --------------


def test_a_waiting_run_holds_no_concurrency_slot(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job(concurrency=1)
    async def solo(n: int, io: Any) -> int:
        if n == 0:
            await io.wait("nap", 1, "hour")
        return n

    first = solo(0).run_now()
    drain(capp)
    second = solo(1).run_now()
    drain(capp)
    assert rec(capp, first).state == "waiting"
    assert second.result(timeout=5) == 1
    clock.advance(hours=1)
    drain(capp)
    assert first.result(timeout=5) == 0


def test_a_parent_limited_to_one_can_wait_for_a_child_of_its_own_job(app: Conveyor) -> None:
    @app.job(concurrency=1)
    async def recurse(depth: int, io: Any) -> int:
        if depth == 0:
            return 0
        return 1 + int(await io.run_job(f"down-{depth}", recurse(depth - 1)))

    h = recurse(3).run_now()
    drain(app)
    assert h.result(timeout=10) == 3
    assert len(app.jobs_list(job="recurse")) == 4


def test_a_job_paused_while_its_run_sleeps_does_not_resume_until_resumed(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job("sleepy-ü")
    async def sleepy(io: Any) -> str:
        await io.wait("nap", 1, "hour")
        return "awake"

    h = sleepy().run_now()
    drain(capp)
    capp.pause(job="sleepy-ü")
    clock.advance(hours=2)
    drain(capp)
    assert rec(capp, h).state != "completed"
    capp.resume(job="sleepy-ü")
    drain(capp)
    assert h.result(timeout=5) == "awake"


def test_an_event_wakes_a_child_and_then_its_parent(capp: Conveyor) -> None:
    @capp.job
    async def approver(order: int, io: Any) -> Any:
        got = await io.wait_for_event("ok", "order.approved", filter={"order": [order]})
        return got["payload"]["by"]

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("approvals", [approver(1), approver(2)])

    h = parent().run_now()
    drain(capp)
    capp.send_event("order.approved", {"order": 2, "by": "zoë"})
    drain(capp)
    assert rec(capp, h).state == "waiting"
    capp.send_event("order.approved", {"order": 1, "by": "ümit"})
    drain(capp)
    assert h.result(timeout=5) == ["ümit", "zoë"]


def test_io_send_event_with_an_id_already_sent_starts_nothing_again(capp: Conveyor) -> None:
    started: list[Any] = []

    @capp.job("on-ping", trigger=capp.event("dup.ping"))
    async def on_ping(payload: Any, io: Any) -> None:
        started.append(payload)

    @capp.job
    async def sender(io: Any) -> Any:
        first = await io.send_event("a", "dup.ping", {"n": 1}, id="fixed-id-ü")
        second = await io.send_event("b", "dup.ping", {"n": 2}, id="fixed-id-ü")
        return [first, second]

    h = sender().run_now()
    drain(capp)
    assert h.result(timeout=5) == ["fixed-id-ü", "fixed-id-ü"]
    assert started == [{"n": 1}]


# -- crashes of several workers at once ----------------------------------------------------------

MANY_APP = textwrap.dedent('''
    import os
    from pathlib import Path
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ["CONVEYOR_TEST_LEASE"]))
    LEDGER = Path(os.environ["BLIND_LEDGER"])

    def note(word):
        with open(f"{LEDGER}.{os.getpid()}", "a") as f:
            f.write(word + "\\n")
        return word

    @app.job("multi", retry=Retry(retries=5, wait=0))
    async def multi(n, io):
        a = await io.task("a", note, f"a{n}")
        await io.wait("w", 0.05, "seconds")
        b = await io.task("b", note, f"b{n}")
        return [a, b]
''')


@pytest.mark.slow
def test_durable_runs_survive_a_worker_killed_among_several(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app_file = tmp_path / "many_app.py"
    app_file.write_text(MANY_APP)
    ledger = tmp_path / "ledger-many"
    app = open_app(lease=1)

    @app.job("multi", retry=Retry(retries=5, wait=0))
    async def multi(n: int, io: Any) -> Any:
        raise AssertionError("only the worker processes run this")

    handles = [multi(n).run_now() for n in range(40)]
    env = {"BLIND_LEDGER": str(ledger)}
    workers = [spawn_worker(url, tmp_path, lease=1.0, app_file=app_file, concurrency=4,
                            env=env) for _ in range(2)]
    try:
        wait_until(lambda: sum(len(p.read_text().split())
                               for p in tmp_path.glob("ledger-many.*")) >= 10,
                   60, "some steps done", tmp_path)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        wait_until(lambda: all(rec(app, h).state in ("completed", "failed") for h in handles),
                   60, "every run finished", tmp_path)
    finally:
        for worker in workers:
            stop(worker)
    assert [h.result(timeout=5) for h in handles] == [[f"a{n}", f"b{n}"] for n in range(40)]
    words = [w for p in tmp_path.glob("ledger-many.*") for w in p.read_text().split()]
    repeated = {w for w in words if words.count(w) > 1}
    assert len(repeated) <= 4, repeated  # only steps in flight in the killed worker (4 slots)


# -- fifth pass: keys no store can hold, long keys that derive ids ----------------------------


def test_a_step_key_with_nul_or_a_lone_surrogate_is_one_clear_error_on_every_store(
        app: Conveyor) -> None:
    keys = ["a\x00b", "a\ud800b", "\udfff"]

    @app.job(retry=Retry(retries=0))
    async def flow(i: int, io: Any) -> Any:
        return await io.task(keys[i], lambda: 1)

    handles = [flow(i).run_now() for i in range(len(keys))]
    drain(app)
    for h in handles:
        assert rec(app, h).state == "failed"
        text = error_of(app, h)
        assert text.startswith("ConfigurationError") and "key" in text, text


def test_a_long_key_can_send_an_event_once(capp: Conveyor, clock: ManualClock) -> None:
    key = "🔑" * 2000  # 8000 bytes: longer than an event id may be
    started: list[Any] = []

    @capp.job("on-long", trigger=capp.event("long.key"))
    async def on_long(payload: Any, io: Any) -> None:
        started.append(payload)

    @capp.job
    async def sender(io: Any) -> Any:
        sent = await io.send_event(key, "long.key", {"n": 1})
        await io.wait("nap", 1, "minute")
        return sent

    h = sender().run_now()
    drain(capp)
    clock.advance(minutes=1)
    drain(capp)
    sent_id = h.result(timeout=5)
    assert capp.get_event(sent_id) is not None
    assert started == [{"n": 1}]


def test_two_workers_at_once_take_each_step_once(make: Callable[..., Conveyor]) -> None:
    import threading

    apps = [make(), make()]
    calls: list[str] = []
    lock = threading.Lock()

    def note(word: str) -> str:
        with lock:
            calls.append(word)
        return word

    for app in apps:
        @app.job("raced")
        async def raced(n: int, io: Any) -> Any:
            a = await io.task("a", note, f"a{n}")
            await io.wait("w", 0, "seconds")
            b = await io.task("b", note, f"b{n}")
            return [a, b]

    handles = [apps[0].jobs["raced"](n).run_now() for n in range(30)]
    errors: list[BaseException] = []

    def work(app: Conveyor) -> None:
        try:
            drain(app, concurrency=4)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    drain(apps[0])
    assert not errors
    assert [rec(apps[0], h).result for h in handles] == [[f"a{n}", f"b{n}"] for n in range(30)]
    assert sorted(calls) == sorted(f"{x}{n}" for x in "ab" for n in range(30))


def test_cancelling_a_middle_child_with_cascade_reaches_down_and_fails_up(
        app: Conveyor) -> None:
    @app.job
    def leaf() -> int:
        return 1

    @app.job
    async def middle(io: Any) -> Any:
        return await io.run_job("leaf", leaf())

    @app.job
    async def top(io: Any) -> Any:
        try:
            return await io.run_job("middle", middle())
        except JobFailed as exc:
            return exc.state

    app.pause(job="leaf")
    h = top().run_now()
    drain(app)
    [middle_rec] = app.jobs_list(job="middle")
    app.cancel(middle_rec.id, cascade=True)
    app.resume(job="leaf")
    drain(app)
    assert [r.state for r in app.jobs_list(job="leaf")] == ["cancelled"]
    assert h.result(timeout=5) == "cancelled"


def test_task_retries_back_off_durably_by_the_policy(capp: Conveyor, clock: ManualClock) -> None:
    calls: list[datetime] = []

    def flaky() -> str:
        calls.append(clock.now())
        if len(calls) < 4:
            raise TimeoutError(f"try {len(calls)}")
        return "finally"

    @capp.job
    async def flow(io: Any) -> Any:
        return await io.task("flaky", flaky,
                             retry=Retry(retries=3, wait=10, backoff="exponential"))

    h = flow().run_now()
    for step in (9, 1, 19, 1, 39, 1):
        drain(capp)
        clock.advance(seconds=step)
    drain(capp)
    assert h.result(timeout=5) == "finally"
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(calls)]
    assert gaps == [10, 20, 40]


def test_a_step_failed_for_good_is_not_run_again_by_the_jobs_own_retries(app: Conveyor) -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise RuntimeError("always")

    @app.job(retry=Retry(retries=2, wait=0))
    async def flow(io: Any) -> None:
        await io.task("always", always, retry=Retry(retries=1, wait=0))

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "StepFailed" in error_of(app, h) or "always" in error_of(app, h)
    assert len(calls) == 2


def test_a_task_longer_than_the_lease_runs_once(make: Callable[..., Conveyor]) -> None:
    app = make(lease=1)
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(2.2)
        return "slow"

    @app.job
    async def flow(io: Any) -> Any:
        first = await io.task("slow", slow)
        return [first, await io.task("after", lambda: "after")]

    h = flow().run_now()
    assert rescued_while_running(app, h) == 0
    assert h.result(timeout=5) == ["slow", "after"] and calls == [1]


def test_a_running_worker_is_woken_when_a_fake_clock_ends_a_long_wait(app: Conveyor) -> None:
    from tests.conformance.helpers import worker_thread

    @app.job
    async def long_nap(io: Any) -> str:
        await io.wait("nap", 30, "days")
        return "rested"

    with FakeClock(app, start=START) as fake, worker_thread(app, poll_interval=5,
                                                            maintenance_interval=5):
        h = long_nap().run_now()
        deadline = time.monotonic() + 10
        while rec(app, h).state != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        fake.advance(30, "days")
        assert h.result(timeout=4) == "rested"


def test_a_timed_out_attempts_abandoned_task_never_stores_its_late_result(
        app: Conveyor) -> None:
    calls: list[int] = []

    def work() -> str:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.2)  # outlives the attempt's timeout; its thread is abandoned
            return "stale"
        return "fresh"

    @app.job(timeout=0.3, retry=Retry(retries=1, wait=0))
    async def flow(io: Any) -> Any:
        return await io.task("work", work)

    h = flow().run_now()
    drain(app)
    time.sleep(1.2)
    drain(app)
    assert h.result(timeout=5) == "fresh"
    assert [s.output for s in app.steps(h.id) if s.key == "work"] in (["fresh"], ['"fresh"'])


def test_swallowing_the_suspend_cannot_make_a_run_skip_its_wait(capp: Conveyor,
                                                                clock: ManualClock) -> None:
    after: list[int] = []

    @capp.job
    async def sneaky(io: Any) -> str:
        with contextlib.suppress(BaseException):  # what a careless user writes
            await io.wait("nap", 1, "day")
        after.append(1)
        with contextlib.suppress(BaseException):
            await io.task("next", lambda: "ran")
        return "skipped ahead"

    h = sneaky().run_now()
    drain(capp)
    record = rec(capp, h)
    assert record.state == "waiting" and record.result is None
    assert [s.key for s in capp.steps(h.id)] == ["nap"]
    clock.advance(days=1)
    drain(capp)
    assert h.result(timeout=5) == "skipped ahead"
    assert [s.key for s in capp.steps(h.id)] == ["nap", "next"]


def test_catching_a_non_determinism_error_does_not_save_the_run(capp: Conveyor,
                                                               clock: ManualClock) -> None:
    variant = {"key": "first"}

    @capp.job(retry=Retry(retries=0))
    async def flow(io: Any) -> str:
        try:
            await io.task(variant["key"], lambda: 1)
        except Exception:
            return "caught it"
        await io.wait("nap", 1, "hour")
        return "done"

    h = flow().run_now()
    drain(capp)
    variant["key"] = "second"
    clock.advance(hours=1)
    drain(capp)
    assert rec(capp, h).state == "failed"
    assert "NonDeterminism" in error_of(capp, h)
