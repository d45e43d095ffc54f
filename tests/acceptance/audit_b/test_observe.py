"""SPEC §11 hooks and worker log lines: every hook sees a record in a public state (the
states of SPEC §4), with unicode errors, sync and async hooks alike; a failing hook is
logged and never fails the job."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, RetryIn
from conveyor.testing import FakeClock

PUBLIC_STATES = {"scheduled", "queued", "blocked", "running", "waiting", "completed",
                 "failed", "cancelled"}
EVENTS = ("started", "completed", "failed", "retrying", "cancelled")


def _record_hooks(app: Conveyor) -> list[tuple[str, int, str, Any]]:
    seen: list[tuple[str, int, str, Any]] = []
    for n, event in enumerate(EVENTS):
        if n % 2:
            async def hook(record: Any, error: Any = None, event: str = event) -> None:
                seen.append((event, record.id, record.state, error))
        else:
            def hook(record: Any, error: Any = None, event: str = event) -> None:  # type: ignore[misc]
                seen.append((event, record.id, record.state, error))
        app.on(event)(hook)
    return seen


@pytest.fixture
def clock(app: Conveyor) -> FakeClock:
    return FakeClock(app, start=datetime(2027, 1, 1, tzinfo=UTC))


def test_hook_records_are_in_public_states(app: Conveyor, clock: FakeClock) -> None:
    seen = _record_hooks(app)

    @app.job(retry=Retry(retries=1, wait=10))
    def flaky(meta: Any) -> str:
        if meta.attempt == 1:
            raise ValueError("première ✗")
        return "ok"

    @app.job
    def explicit(meta: Any) -> int:
        if meta.attempt == 1:
            raise RetryIn(30)
        return meta.attempt

    @app.job
    def hopeless() -> None:
        raise Fail("never ✗")

    handles = [flaky().run_now(), explicit().run_now(), hopeless().run_now()]
    later = hopeless().run_in(1, "day")
    app.cancel(later.id)
    app.run_worker(burst=True)
    clock.advance(31, "seconds")
    app.run_worker(burst=True)

    assert [app.get_job(h.id).state for h in handles] == ["completed", "completed", "failed"]
    assert {state for _, _, state, _ in seen} <= PUBLIC_STATES, seen
    retries = [(job_id, state, str(err)) for event, job_id, state, err in seen
               if event == "retrying"]
    assert retries == [(handles[0].id, "scheduled", "première ✗"),
                       (handles[1].id, "scheduled", "retry in 30 seconds")] or sorted(
        retries) == sorted([(handles[0].id, "scheduled", "première ✗"),
                            (handles[1].id, "scheduled", "retry in 30 seconds")])
    assert ("cancelled", later.id, "cancelled", None) in seen
    [failed] = [s for s in seen if s[0] == "failed"]
    assert failed[1:3] == (handles[2].id, "failed") and "never ✗" in str(failed[3])


def test_a_retry_without_a_wait_is_queued_for_its_hook(app: Conveyor) -> None:
    seen = _record_hooks(app)

    @app.job(retry=Retry(retries=2, wait=0))
    def twice(meta: Any) -> int:
        if meta.attempt < 3:
            raise ValueError(f"attempt {meta.attempt}")
        return meta.attempt

    handle = twice().run_now()
    app.run_worker(burst=True)

    assert handle.result(timeout=30) == 3
    states = [state for event, _, state, _ in seen if event == "retrying"]
    assert states == ["queued", "queued"]


def test_a_failing_hook_is_logged_and_the_job_completes(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.on("completed")
    def broken_hook(record: Any, error: Any = None) -> None:
        raise RuntimeError("hook ✗ broke")

    @app.job
    def fine() -> str:
        return "fine"

    with caplog.at_level(logging.INFO, logger="conveyor"):
        handle = fine().run_now()
        app.run_worker(burst=True)

    assert app.get_job(handle.id).state == "completed"
    logged = [r for r in caplog.records if r.name.startswith("conveyor") and r.exc_info]
    assert any("hook ✗ broke" in str(r.exc_info[1]) for r in logged)


def test_worker_log_lines_per_outcome_under_the_conveyor_logger(
        app: Conveyor, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=1, wait=60))
    def wobbly(meta: Any) -> str:
        if meta.attempt == 1:
            raise ValueError("wobble ✗")
        return "steady"

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        handle = wobbly().run_now()
        app.run_worker(burst=True)
        clock.advance(61, "seconds")
        app.run_worker(burst=True)

    assert handle.result(timeout=30) == "steady"
    mine = [r for r in caplog.records if r.name.startswith("conveyor")
            and str(handle.id) in r.getMessage()]
    levels = {r.levelno for r in mine}
    assert logging.DEBUG in levels  # started
    text = "\n".join(r.getMessage() for r in mine)
    assert "wobble ✗" in text and "completed" in text
    assert json.dumps(text)  # printable, no surrogates
