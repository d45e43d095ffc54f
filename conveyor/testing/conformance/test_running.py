"""Running: states, results, errors, history, retries, Fail/RetryIn, timeouts (SPEC §4);
priorities, queues and concurrency are in test_priorities_and_queues."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, RetryIn

from .helpers import before_storing, drain, run_failing, wait_for, worker_thread


def test_job_states_from_scheduled_to_completed(app: Conveyor) -> None:
    release = threading.Event()

    @app.job
    def gated() -> str:
        assert release.wait(10)
        return "done"

    later = gated().run_in(1, "hour")
    now = gated().run_now()
    assert (later.state, now.state) == ("scheduled", "queued")
    with worker_thread(app, concurrency=1):
        wait_for(lambda: now.state == "running", what="the job to start")
        record = app.get_job(now.id)
        assert record is not None and record.started_at is not None and record.attempts == 1
        assert app.counts() == {"scheduled": 1, "queued": 0, "blocked": 0, "running": 1,
                                "waiting": 0, "completed": 0, "failed": 0, "cancelled": 0}
        release.set()
        assert now.result(timeout=10) == "done"
    assert now.state == "completed"
    assert later.cancel() and later.state == "cancelled"


def test_a_failing_job_ends_failed(app: Conveyor) -> None:
    h = run_failing(app, RuntimeError("kaput"))
    assert h.state == "failed"
    assert app.count(state="failed") == 1


@pytest.mark.parametrize("result", [None, 0, "text", [1, "a", None], {"nested": {"x": [1.5]}}])
def test_the_return_value_is_stored_as_the_result(app: Conveyor, result: Any) -> None:
    @app.job
    def give() -> Any:
        return result

    h = give().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed"
    assert record.result == result
    assert record.error is None
    assert record.finished_at is not None and record.finished_at.tzinfo is UTC


def test_a_result_json_cannot_hold_fails_the_job_naming_it(app: Conveyor) -> None:
    @app.job(retry=3)
    def gives_a_set() -> Any:
        return {"ids": {1, 2}}

    h = gives_a_set().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.attempts == 1  # not retried: it would fail the same way
    assert record.error is not None and 'result["ids"] is a set' in record.error["message"]


def test_error_type_message_and_traceback_are_stored_per_attempt(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=2, wait=0))
    def flaky(meta: Any) -> str:
        if meta.attempt == 1:
            raise ValueError("first")
        if meta.attempt == 2:
            raise KeyError("second")
        return "third time lucky"

    h = flaky().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None
    assert record.state == "completed" and record.result == "third time lucky"
    assert record.attempts == 3 and record.max_attempts == 3
    assert [a.number for a in record.history] == [1, 2, 3]
    first, second, third = record.history
    assert first.error is not None and second.error is not None
    assert (first.error["type"], first.error["message"]) == ("ValueError", "first")
    assert (second.error["type"], second.error["message"]) == ("KeyError", "'second'")
    assert 'raise ValueError("first")' in first.error["traceback"]
    assert 'raise KeyError("second")' in second.error["traceback"]
    assert third.error is None
    for attempt in record.history:
        assert attempt.started_at is not None and attempt.finished_at is not None
        assert attempt.started_at <= attempt.finished_at
    assert first.finished_at <= second.started_at <= second.finished_at <= third.started_at  # type: ignore[operator]
    assert record.error is None  # a completed job has no error


def test_sys_exit_in_a_job_fails_the_job_not_the_worker(app: Conveyor) -> None:
    @app.job
    def quits() -> None:
        sys.exit(3)

    @app.job
    async def also_quits() -> None:
        raise SystemExit("bye")

    @app.job
    def fine() -> str:
        return "still working"

    handles = [quits().run_now(), also_quits().run_now(), fine().run_now()]
    drain(app)
    assert [h.state for h in handles] == ["failed", "failed", "completed"]
    record = app.get_job(handles[0].id)
    assert record is not None and record.error is not None
    assert (record.error["type"], record.error["message"]) == ("SystemExit", "3")


def test_an_exception_whose_str_fails_still_fails_the_job(app: Conveyor) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    @app.job
    def odd() -> None:
        raise Unprintable()

    h = odd().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["type"].endswith("Unprintable")
    assert record.error["message"] == "<exception str() failed>"


def test_the_last_attempts_error_is_the_jobs_error(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def always(meta: Any) -> None:
        raise RuntimeError(f"attempt {meta.attempt}")

    h = always().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["message"] == "attempt 2"
    assert [a.error["message"] for a in record.history] == ["attempt 1", "attempt 2"]  # type: ignore[index]


def _retry_delays(
    app: Conveyor, policy: Retry, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    """Run a job that always fails under ``policy``; return the delay the worker chose
    for each retry (read from the outcomes it reports, so no clock is involved)."""
    chosen: list[float] = []
    before_storing(app, monkeypatch,
                   lambda outcomes: chosen.extend(o.delay or 0.0 for o in outcomes
                                                  if o.state == "pending"))
    due: list[datetime] = []

    @app.job(retry=policy)
    def fails(meta: Any) -> None:
        if meta.attempt > 1:
            due.append(meta.job.run_at)
        raise RuntimeError("again")

    h = fails().run_now()
    with worker_thread(app, concurrency=1), pytest.raises(JobFailed):
        h.result(timeout=10)
    record = app.get_job(h.id)
    assert record is not None and record.attempts == policy.retries + 1
    # each retry was due no sooner than its delay after the attempt before it ended
    for when, attempt, delay in zip(due, record.history[:-1], chosen, strict=True):
        assert attempt.finished_at is not None
        assert (when - attempt.finished_at).total_seconds() >= delay - 0.001
    return chosen


@pytest.mark.parametrize(("backoff", "max_wait", "waits"), [
    ("fixed", None, [0.01, 0.01, 0.01, 0.01]),
    ("linear", None, [0.01, 0.02, 0.03, 0.04]),
    ("exponential", None, [0.01, 0.02, 0.04, 0.08]),
    ("exponential", 0.03, [0.01, 0.02, 0.03, 0.03]),
    ("linear", "25 ms", [0.01, 0.02, 0.025, 0.025]),
])
def test_retry_waits_follow_the_backoff_capped_by_max_wait(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, backoff: str, max_wait: Any,
    waits: list[float],
) -> None:
    policy = Retry(retries=4, wait="10 ms", backoff=backoff, max_wait=max_wait)  # type: ignore[arg-type]
    assert _retry_delays(app, policy, monkeypatch) == pytest.approx(waits)


def test_retry_jitter_spreads_each_wait_over_a_quarter(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays = _retry_delays(app, Retry(retries=6, wait=0.02, jitter=True), monkeypatch)
    assert all(0.015 <= d <= 0.025 for d in delays), delays
    assert len(set(delays)) > 1


def test_retry_as_an_int_retries_that_many_times(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job(retry=2)
    def count(meta: Any) -> None:
        calls.append(meta.attempt)
        raise RuntimeError("x")

    count().run_now()
    drain(app)
    assert calls == [1, 2, 3]


def test_fail_fails_at_once_without_retrying(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=5, wait=0))
    def refuse() -> None:
        raise Fail("the account is closed")

    h = refuse().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.attempts == 1
    assert record.error is not None
    assert record.error["message"] == "the account is closed"
    assert record.error["type"].endswith("Fail")


def test_retry_in_reschedules_the_job_explicitly(app: Conveyor) -> None:
    @app.job
    def later() -> None:
        raise RetryIn(2, "minutes")

    h = later().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "scheduled"
    assert record.attempts == 1
    assert record.history[0].finished_at is not None
    wait = (record.run_at - record.history[0].finished_at).total_seconds()  # type: ignore[operator]
    assert 119.9 < wait < 121
    assert record.history[0].error is not None
    assert record.history[0].error["type"].endswith("RetryIn")


def test_retry_in_runs_the_job_again_when_due(app: Conveyor) -> None:
    @app.job
    def second_time_lucky(meta: Any) -> int:
        if meta.attempt == 1:
            raise RetryIn(0.01)
        return meta.attempt

    h = second_time_lucky().run_now()
    with worker_thread(app):
        assert h.result(timeout=10) == 2


def test_async_job_past_its_timeout_is_failed(app: Conveyor) -> None:
    @app.job(timeout=0.05)
    async def hangs() -> None:
        await asyncio.sleep(30)

    h = hangs().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["type"] == "TimeoutError"
    assert "past its timeout of 0.05 s" in record.error["message"]


def test_sync_job_past_its_timeout_is_failed_and_retried(app: Conveyor) -> None:
    @app.job(timeout=0.05, retry=Retry(retries=1, wait=0))
    def hangs() -> None:
        time.sleep(0.2)

    h = hangs().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.attempts == 2
    assert [a.error["type"] for a in record.history] == ["TimeoutError", "TimeoutError"]  # type: ignore[index]


def test_a_cpu_bound_sync_attempt_is_failed_on_time_and_its_thread_abandoned(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    """SPEC §9: the thread of a sync job cannot be stopped; past its timeout the attempt
    is failed (and retried) on time, the thread abandoned and logged."""
    stop = threading.Event()

    @app.job(timeout=0.2, retry=Retry(retries=1, wait=0))
    def spins() -> None:
        while not stop.is_set():  # CPU-bound: never yields to a cancellation
            pass

    h = spins().run_now()
    try:
        drain(app)
    finally:
        stop.set()
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.attempts == 2
    assert "timed out after 0.2 s" in record.error["message"]  # type: ignore[index]
    assert "abandoned" in caplog.text


def test_trigger_timeout_overrides_the_definition(app: Conveyor) -> None:
    @app.job(timeout=60)
    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "ok"

    h = slow().run_now(timeout=0.02)
    drain(app)
    assert h.state == "failed"
