"""Blind acceptance tests of SPEC §5: tasks (retries, failures, keys, results) and
asyncio.gather of tasks; every store."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from conveyor import Conveyor, Retry, StepFailed
from tests.acceptance.blind_durable.support import (
    error_of,
    rec,
)
from tests.conformance.helpers import ManualClock, drain


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
    assert h.result(timeout=30) == "ok" and len(calls) == 2
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
    assert h.result(timeout=30) == "caught ValueError"
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
    assert h.result(timeout=30) == [{"got": {"a": [1, "ü"]}}] * 2
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
    assert h.result(timeout=30) == [k[-3:] for k in keys]
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
    assert h.result(timeout=30) == 30
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
