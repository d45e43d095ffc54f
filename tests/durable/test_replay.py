"""The replay engine on every store: stored steps, non-determinism, keys, gather, interrupts."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, Retry, is_internal
from conveyor.errors import Interrupt, Suspend
from tests.durable.helpers import (
    NAP,
    clocked_app,  # noqa: F401 (the app fixture)
    finish,
    settle,
)


def test_completed_steps_are_not_run_again_when_the_run_replays(app: Conveyor) -> None:
    calls: list[str] = []

    def record(name: str) -> str:
        calls.append(name)
        return name.upper()

    @app.job
    async def flow(payload: dict[str, Any], io: Any) -> list[str]:
        a = await io.task("a", record, "a")
        await io.wait("nap", NAP, "seconds")
        b = await io.task("b", record, "b")
        return [a, b]

    handle = flow({}).run_now()
    assert settle(app, handle).state == "waiting"
    record_ = finish(app, handle)
    assert record_.state == "completed"
    assert record_.result == ["A", "B"]
    assert calls == ["a", "b"]
    assert [(s.key, s.kind, s.state) for s in app.steps(handle.id)] == [
        ("a", "task", "completed"), ("nap", "wait", "completed"), ("b", "task", "completed"),
    ]


def test_a_waiting_run_does_not_count_as_an_attempt(app: Conveyor) -> None:
    @app.job
    async def sleepy(payload: Any, io: Any) -> str:
        await io.wait("one", 0.02, "seconds")
        await io.wait("two", 0.02, "seconds")
        return "done"

    handle = sleepy(None).run_now()
    record = finish(app, handle)
    assert (record.state, record.result, record.attempts) == ("completed", "done", 1)


def test_changed_code_raises_a_non_determinism_error_naming_both_steps(app: Conveyor) -> None:
    @app.job
    async def evolving(payload: Any, io: Any) -> str:
        await io.task("load-user", lambda: 1)
        await io.wait("cool-off", NAP, "seconds")
        return "v1"

    handle = evolving(None).run_now()
    assert settle(app, handle).state == "waiting"

    async def changed(payload: Any, io: Any) -> str:  # a deploy reorders the steps
        await io.wait("cool-off", 0.05, "seconds")
        return "v2"

    evolving.fn = changed
    record = finish(app, handle)
    assert record.state == "failed"
    assert record.attempts == 1  # not retried: replaying again cannot help
    assert record.error is not None
    assert record.error["type"] == "NonDeterminismError"
    message = record.error["message"]
    assert "step #1 as wait 'cool-off'" in message
    assert "stored step #1 is task 'load-user'" in message


def test_changed_code_returning_before_a_stored_step_raises_a_non_determinism_error(
    app: Conveyor,
) -> None:
    @app.job
    async def shrinking(payload: Any, io: Any) -> str:
        await io.task("charge", lambda: 1)
        await io.task("ship", lambda: 2)
        await io.wait("cool-off", NAP, "seconds")
        return "v1"

    handle = shrinking(None).run_now(retry=Retry(retries=3))
    assert settle(app, handle).state == "waiting"

    async def changed(payload: Any, io: Any) -> str:  # a deploy drops the last steps
        await io.task("charge", lambda: 1)
        return "v2"

    shrinking.fn = changed
    record = finish(app, handle)
    assert (record.state, record.attempts) == ("failed", 1)
    assert record.error is not None
    assert record.error["type"] == "NonDeterminismError"
    assert ("returned after step #1, but step #2 is stored (task 'ship')"
            in record.error["message"])


def test_user_code_cannot_swallow_a_non_determinism_error(app: Conveyor) -> None:
    @app.job
    async def stubborn(payload: Any, io: Any) -> str:
        await io.task("first", lambda: 1)
        await io.wait("nap", NAP, "seconds")
        return "v1"

    handle = stubborn(None).run_now(retry=Retry(retries=3))
    assert settle(app, handle).state == "waiting"

    async def swallowing(payload: Any, io: Any) -> str:
        try:  # noqa: SIM105 - what careless user code does
            await io.task("other", lambda: 2)
        except Exception:
            pass
        return "swallowed"

    stubborn.fn = swallowing
    record = finish(app, handle)
    assert record.state == "failed"
    assert record.error is not None and "NonDeterminismError" in record.error["type"]


def test_reusing_a_key_with_other_arguments_fails_the_run(app: Conveyor) -> None:
    @app.job
    async def loop(payload: Any, io: Any) -> None:
        for i in range(2):
            await io.task("fetch", lambda x: x, i)

    record = finish(app, loop(None).run_now())
    assert record.state == "failed"
    assert record.error is not None
    assert "step key 'fetch' is already used in this run by step #1" in record.error["message"]


def test_reusing_a_key_with_the_same_arguments_returns_the_stored_result(app: Conveyor) -> None:
    calls: list[int] = []

    def once(x: int) -> int:
        calls.append(x)
        return x * 10

    @app.job
    async def twice(payload: Any, io: Any) -> list[int]:
        return [await io.task("k", once, 4), await io.task("k", once, 4)]

    record = finish(app, twice(None).run_now())
    assert (record.state, record.result, calls) == ("completed", [40, 40], [4])


def test_asyncio_gather_over_steps_is_refused_with_a_clear_error(app: Conveyor) -> None:
    async def slow(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    @app.job
    async def parallel(payload: Any, io: Any) -> Any:
        return await asyncio.gather(io.task("a", slow, 1), io.task("b", slow, 2))

    record = finish(app, parallel(None).run_now())
    assert record.state == "failed"
    assert record.error is not None
    assert "io.task('b') started while step task 'a' was still running" in (
        record.error["message"]
    )
    assert "asyncio.gather" in record.error["message"]


def test_interrupts_derive_from_base_exception_and_except_exception_cannot_swallow_them(
    app: Conveyor,
) -> None:
    assert issubclass(Interrupt, BaseException) and not issubclass(Interrupt, Exception)
    assert is_internal(Suspend(None)) and not is_internal(ValueError("x"))
    seen: list[bool] = []

    @app.job
    async def careless(payload: Any, io: Any) -> str:
        try:
            await io.wait("nap", 1, "hour")
        except Exception:
            return "swallowed"
        except BaseException as exc:
            seen.append(is_internal(exc))
            raise
        return "woke"

    handle = careless(None).run_now()
    assert settle(app, handle).state == "waiting"
    assert seen == [True]


def test_a_run_that_swallows_an_interrupt_still_sleeps_and_runs_no_step_early(
    app: Conveyor,
) -> None:
    calls: list[str] = []

    @app.job
    async def reckless(payload: Any, io: Any) -> str:
        try:
            await io.wait("nap", 1, "hour")
        except BaseException as exc:
            calls.append(f"swallowed {type(exc).__name__}")
        await io.task("after", calls.append, "after")
        return "done"

    @app.job
    async def quiet(payload: Any, io: Any) -> str:
        with contextlib.suppress(BaseException):
            await io.wait("nap", 1, "hour")
        return "done"

    handles = [reckless(None).run_now(), quiet(None).run_now()]
    assert [settle(app, h).state for h in handles] == ["waiting", "waiting"]
    assert calls == ["swallowed Suspend"]
    assert [s.key for s in app.steps(handles[0].id)] == ["nap"]


def test_logger_lines_are_steps_written_once_despite_replays(app: Conveyor) -> None:
    @app.job
    async def chatty(payload: Any, io: Any) -> None:
        await io.logger.info("starting", user="a@b.c")
        await io.wait("nap", 0.02, "seconds")
        await io.logger.warn("finishing")

    record = finish(app, chatty(None).run_now())
    logs = [s for s in app.steps(record.id) if s.kind == "log"]
    assert [(s.key, s.input["message"]) for s in logs] == [
        ("info", "starting"), ("warning", "finishing"),
    ]
    assert logs[0].input["fields"] == {"user": "a@b.c"}
    stored = [(g.level, g.message) for g in app.get_job(record.id).logs]  # type: ignore[union-attr]
    assert stored == [("info", "starting user='a@b.c'"), ("warning", "finishing")]


def test_ctx_describes_the_run(app: Conveyor) -> None:
    @app.job("ctx-job", version="1.2.0")
    async def with_ctx(payload: Any, io: Any, ctx: Any) -> dict[str, Any]:
        return {"run": ctx.run_id, "job": ctx.job_id, "version": ctx.version,
                "attempt": ctx.attempt, "trigger": ctx.trigger}

    handle = with_ctx(1).run_now()
    record = finish(app, handle)
    assert record.result == {"run": handle.id, "job": "ctx-job", "version": "1.2.0",
                             "attempt": 1, "trigger": {"type": "invoke"}}
    assert record.version == "1.2.0"


def test_purging_a_run_deletes_its_steps(app: Conveyor) -> None:
    @app.job
    async def short(payload: Any, io: Any) -> None:
        await io.task("a", lambda: 1)

    record = finish(app, short(None).run_now())
    assert len(app.steps(record.id)) == 1
    assert app.purge(ids=[record.id]) == 1
    assert app.steps(record.id) == []


def test_a_sync_durable_function_fails_with_a_clear_message(app: Conveyor) -> None:
    @app.job
    def not_async(payload: Any, io: Any) -> None: ...

    record = finish(app, not_async(None).run_now())
    assert record.error is not None
    assert "must be 'async def'" in record.error["message"]


@pytest.mark.parametrize("key", ["", None, 3])
def test_a_step_key_must_be_a_non_empty_string(app: Conveyor, key: Any) -> None:
    @app.job
    async def badkey(payload: Any, io: Any) -> None:
        await io.task(key, lambda: 1)

    record = finish(app, badkey(None).run_now())
    assert record.error is not None
    assert "a step key must be a non-empty str" in record.error["message"]


def test_a_run_cancelled_while_a_step_runs_stops_before_its_next_step(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job
    async def doomed(payload: Any, io: Any, ctx: Any) -> str:
        await io.task("cancel-me", lambda: app.cancel(ctx.run_id))
        ran.append("after")
        await io.task("never", lambda: ran.append("never"))
        return "finished"

    record = finish(app, doomed(None).run_now())
    assert record.state == "cancelled"
    assert ran == []  # the first step's result was refused (lease gone): nothing went on
    assert app.steps(record.id) == []


KINDS = {"task": "task", "log": "log", "nap": "wait"}


@given(plan=st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=8))
@settings(max_examples=20, deadline=None)
def test_any_mix_of_steps_and_sleeps_replays_to_the_same_result_running_each_task_once(
    plan: list[str],
) -> None:
    app = Conveyor("memory://")
    calls: Counter[int] = Counter()

    def square(i: int) -> int:
        calls[i] += 1
        return i * i

    @app.job
    async def mixed(payload: list[str], io: Any) -> list[int]:
        out = []
        for i, kind in enumerate(payload):
            if kind == "task":
                out.append(await io.task(f"t{i}", square, i))
            elif kind == "log":
                await io.logger.info(f"line {i}")
            else:  # a sleep: the run is suspended and replays from the start
                await io.wait(f"w{i}", 0, "seconds")
        return out

    record = finish(app, mixed(plan).run_now())
    assert record.result == [i * i for i, kind in enumerate(plan) if kind == "task"]
    assert set(calls.values()) <= {1}
    assert [s.kind for s in app.steps(record.id)] == [KINDS[k] for k in plan]
