"""Failing steps on every store: durable task retries with their history, a failed step
raised again on every replay, a stored step that is not JSON, and retrying a run (or a
parent) that a failed step or child ended."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, RetryIn, StepFailed
from tests.durable.helpers import (
    NAP,
    clocked_app,  # noqa: F401 (the app fixture)
    finish,
    settle,
)
from tests.support import overwrite


def test_task_retries_are_durable_and_keep_their_attempt_history(app: Conveyor) -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"boom {len(attempts)}")
        return "ok"

    @app.job
    async def retrying(payload: Any, io: Any) -> str:
        return str(await io.task("flaky", flaky, retry=Retry(retries=3, wait=0.01)))

    record = finish(app, retrying(None).run_now())
    assert (record.state, record.result, len(attempts)) == ("completed", "ok", 3)
    (step,) = app.steps(record.id)
    assert step.attempts == 3
    assert [h["error"]["message"] for h in step.history] == ["boom 1", "boom 2"]



def test_a_failed_step_raises_step_failed_on_every_replay(app: Conveyor) -> None:
    def broken() -> None:
        raise KeyError("missing")

    @app.job
    async def handled(payload: Any, io: Any) -> str:
        outcome = await io.try_(lambda: io.task("broken", broken), lambda exc: str(exc))
        await io.wait("nap", 0.02, "seconds")
        return str(outcome)

    record = finish(app, handled(None).run_now())
    assert record.state == "completed"
    assert record.result == "step 'broken' failed: KeyError: 'missing'"
    assert app.steps(record.id)[0].state == "failed"



def test_a_step_ended_by_fail_fails_the_run_without_retrying_it(app: Conveyor) -> None:
    calls: list[str] = []

    def refuses() -> None:
        calls.append("refuses")
        raise Fail("no such account")

    @app.job(retry=Retry(retries=3, wait=0))
    async def gives_up(payload: Any, io: Any) -> None:
        await io.task("refuses", refuses, retry=Retry(retries=2, wait=0))

    record = finish(app, gives_up(None).run_now())
    assert (record.state, record.attempts, calls) == ("failed", 1, ["refuses"])
    assert record.error is not None and "no such account" in record.error["message"]


def test_retry_in_raised_in_a_step_runs_it_again_after_that_delay(app: Conveyor) -> None:
    calls: list[int] = []

    def polls() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RetryIn(0.02)
        return "ready"

    @app.job(retry=0)
    async def waits_for_it(payload: Any, io: Any) -> str:
        return str(await io.task("poll", polls))

    record = finish(app, waits_for_it(None).run_now())
    assert (record.state, record.result, record.attempts) == ("completed", "ready", 1)
    assert len(calls) == 3
    (step,) = app.steps(record.id)
    assert [h["error"]["type"] for h in step.history] == ["RetryIn", "RetryIn"]


@pytest.mark.parametrize(("key", "column", "text"), [
    ("load", "output", "{not json"),
    ("broken", "error", "[1"),
])
def test_a_stored_step_that_is_not_json_fails_the_run_for_good_naming_it(
    app: Conveyor, key: str, column: str, text: str
) -> None:
    """Written by other software: every replay would meet it, so the run is not retried."""

    def broken() -> None:
        raise KeyError("missing")

    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        loaded = await io.task("load", dict, n=1)
        await io.try_(lambda: io.task("broken", broken), lambda exc: None)
        await io.wait("nap", NAP, "seconds")
        return loaded

    handle = flow(None).run_now(retry=2)
    assert settle(app, handle).state == "waiting"
    overwrite(app, "steps", handle.id, key="job_id", **{column: text})
    record = finish(app, handle)
    assert record.state == "failed" and record.attempts == 1 and record.error is not None
    seq = 1 if key == "load" else 2
    assert record.error["message"] == (
        f"run {handle.id}: the stored {column} of step #{seq} (task {key!r}) is not JSON: "
        f"{text!r}; this run cannot be replayed (cancel it, or trigger the job again)")



def test_retrying_a_run_ended_by_a_failed_step_runs_that_step_again(app: Conveyor) -> None:
    down = {"now": True}
    calls: list[str] = []

    def flaky(name: str) -> str:
        calls.append(name)
        if down["now"]:
            raise ConnectionError(f"{name} is down")
        return name.upper()

    @app.job
    async def flow(payload: Any, io: Any) -> list[str]:
        kept = await io.try_(lambda: io.task("first", flaky, "first"), lambda exc: "skipped")
        await io.logger.info("went on")
        return [kept, await io.task("second", flaky, "second")]

    handle = flow(None).run_now()
    assert finish(app, handle).state == "failed"
    down["now"] = False
    assert app.retry(handle.id) is True
    record = finish(app, handle)
    # the step that ended the run runs again; a failure the code handled stays handled
    assert (record.state, record.result) == ("completed", ["skipped", "SECOND"])
    assert calls == ["first", "second", "second"]
    second = app.steps(handle.id)[-1]
    assert (second.state, second.attempts, len(second.history)) == ("completed", 2, 1)



def test_a_parent_ended_by_a_failed_child_completes_once_both_are_retried(
    app: Conveyor,
) -> None:
    down = {"now": True}

    @app.job
    def child(x: int) -> int:
        if down["now"] and x == 2:
            raise RuntimeError("down")
        return x * 10

    @app.job
    async def parent(payload: Any, io: Any) -> list[int]:
        return list(await io.run_jobs("kids", [child(1), child(2)]))

    handle = parent(None).run_now()
    record = finish(app, handle)
    assert record.state == "failed"
    down["now"] = False
    assert app.retry(handle.id) is True  # the child still failed: so does the run
    assert finish(app, handle).state == "failed"
    [bad] = [c for c in record.children if app.get_job(c).state == "failed"]  # type: ignore[union-attr]
    assert app.retry(bad) and app.retry(handle.id)
    assert (finish(app, handle).result) == [10, 20]


def test_a_step_ended_by_fail_stays_final_when_replayed(app: Conveyor) -> None:
    """A replay (a later execution: after a wait, or a rescue of a crashed run) raises
    the same StepFailed, final included: the run still fails without retrying."""
    seen: list[bool] = []

    def refuses() -> None:
        raise Fail("no such account")

    @app.job(retry=Retry(retries=3, wait=0))
    async def gives_up_later(payload: Any, io: Any) -> None:
        try:
            await io.task("refuses", refuses)
        except StepFailed as exc:
            seen.append(exc.final)
            await io.wait("nap", 0.02, "seconds")
            raise

    record = finish(app, gives_up_later(None).run_now())
    assert (record.state, record.attempts, seen) == ("failed", 1, [True, True])
