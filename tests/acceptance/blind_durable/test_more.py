"""Blind probes of SPEC §5 and §10: limits and pauses around waiting runs, events into
children, keys no store can hold, long keys that derive ids."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock
from tests.acceptance.blind_durable.support import (
    START,
    error_of,
    rec,
    three_levels,
)
from tests.conformance.helpers import ManualClock, drain, rescued_while_running


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
    assert second.result(timeout=30) == 1
    clock.advance(hours=1)
    drain(capp)
    assert first.result(timeout=30) == 0


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
    assert h.result(timeout=30) == "awake"


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
    assert h.result(timeout=30) == ["ümit", "zoë"]


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
    assert h.result(timeout=30) == ["fixed-id-ü", "fixed-id-ü"]
    assert started == [{"n": 1}]


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
    sent_id = h.result(timeout=30)
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
    top = three_levels(app, top_catches=True)
    app.pause(job="leaf")
    h = top().run_now()
    drain(app)
    [middle_rec] = app.jobs_list(job="middle")
    app.cancel(middle_rec.id, cascade=True)
    app.resume(job="leaf")
    drain(app)
    assert [r.state for r in app.jobs_list(job="leaf")] == ["cancelled"]
    assert h.result(timeout=30) == "cancelled"


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
    assert h.result(timeout=30) == "finally"
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
    app = make(lease=2)  # not 1: a loaded CI machine may delay a heartbeat by a second
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(4.5)
        return "slow"

    @app.job
    async def flow(io: Any) -> Any:
        first = await io.task("slow", slow)
        return [first, await io.task("after", lambda: "after")]

    h = flow().run_now()
    assert rescued_while_running(app, h) == 0
    assert h.result(timeout=30) == ["slow", "after"] and calls == [1]


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
        assert h.result(timeout=30) == "rested"


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
    assert h.result(timeout=30) == "fresh"
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
    assert h.result(timeout=30) == "skipped ahead"
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
