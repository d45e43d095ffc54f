"""``isolation="process"``: each attempt in a spawned child (SPEC §9)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, Retry
from tests.conformance.helpers import drain, wait_for
from tests.process import isolated_jobs


@pytest.fixture
def app() -> Iterator[Conveyor]:
    application = Conveyor("memory://", lease=2)
    yield application
    application.close()


def test_an_isolated_infinite_loop_is_killed_at_its_timeout_and_retried(app: Conveyor) -> None:
    app.job("spin", isolation="process", timeout=1, retry=Retry(retries=1, wait=0))(
        isolated_jobs.spin
    )
    h = app.jobs["spin"]().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.attempts == 2
    for attempt in record.history:
        assert attempt.error is not None
        assert attempt.error["type"] == "TimeoutError"
        assert "timed out after 1 s" in attempt.error["message"]


def test_an_isolated_crash_fails_only_that_attempt_with_the_signal(app: Conveyor) -> None:
    app.job("aborts", isolation="process", retry=Retry(retries=1, wait=0))(isolated_jobs.aborts)
    app.job("adds", isolation="process")(isolated_jobs.pid_and_sum)
    crash = app.jobs["aborts"]().run_now()
    fine = app.jobs["adds"](2, b=3).run_now()
    drain(app)
    record = app.get_job(crash.id)
    assert record is not None and record.state == "failed" and record.attempts == 2
    assert record.error is not None and "killed by SIGABRT" in record.error["message"]
    assert record.error["type"] == "AttemptCrashed"
    result = fine.result(timeout=30)
    assert result["sum"] == 5 and result["pid"] != os.getpid()  # ran in a child


def test_isolated_errors_async_jobs_and_results_cross_as_json(app: Conveyor) -> None:
    app.job("fails", isolation="process")(isolated_jobs.fails)
    app.job("double", isolation="process")(isolated_jobs.async_double)
    failed = app.jobs["fails"]().run_now()
    doubled = app.jobs["double"](21).run_now()
    drain(app)
    assert doubled.result(timeout=30) == 42
    record = app.get_job(failed.id)
    assert record is not None and record.error is not None
    assert record.error["type"] == "ValueError"
    assert "bad input in the child" in record.error["message"]
    assert "isolated_jobs.py" in record.error["traceback"]


def test_jobs_defined_inside_a_function_run_isolated(app: Conveyor) -> None:
    @app.job(isolation="process", timeout=1, retry=Retry(retries=1, wait=0))
    def spin_here() -> None:
        while True:
            pass

    @app.job(isolation="process")
    def abort_here() -> None:
        os.abort()

    @app.job(isolation="process")
    def pid_here(offset: int = 1) -> int:
        return os.getpid() + offset - offset

    spun, aborted, pid = spin_here().run_now(), abort_here().run_now(), pid_here().run_now()
    drain(app)
    record = app.get_job(spun.id)
    assert record is not None and record.attempts == 2 and record.state == "failed"
    assert "timed out after 1 s" in record.error["message"]  # type: ignore[index]
    assert "killed by SIGABRT" in app.get_job(aborted.id).error["message"]  # type: ignore[union-attr,index]
    assert pid.result(timeout=30) != os.getpid()


def test_an_abandoned_cpu_bound_thread_is_stopped(app: Conveyor) -> None:
    @app.job(timeout=0.3)
    def spins_forever() -> None:
        while True:
            pass

    h = spins_forever().run_now()
    drain(app)
    assert h.state == "failed"
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == f"conveyor-job-{h.id}"],
             10, "the abandoned thread to stop")


def test_isolation_refuses_what_a_child_cannot_run(app: Conveyor) -> None:
    captured = 3

    def closure() -> int:
        return captured

    with pytest.raises(ConfigurationError, match="captured"):
        app.job("closure", isolation="process")(closure)

    with pytest.raises(ConfigurationError, match="io or ctx"):
        @app.job(isolation="process")
        async def durable(payload: object, io: object) -> None: ...


def test_an_isolated_job_gets_meta_its_logs_and_progress_are_stored(app: Conveyor) -> None:
    @app.job(isolation="process", retry=Retry(retries=1, wait=0))
    def crashes_first(path: str, meta: Any) -> dict[str, Any]:
        meta.log.info("attempt %d of job %s", meta.attempt, meta.id)
        meta.progress(40, message="almost")
        if meta.attempt == 1:
            os.abort()
        return {"attempt": meta.attempt, "job": meta.job.job, "args": meta.job.args}

    handle = crashes_first("a.png").run_now()
    drain(app)
    result = handle.result(timeout=30)
    assert result["attempt"] == 2 and result["job"] == "crashes_first"
    assert result["args"] == ["a.png"]
    record = app.get_job(handle.id)
    assert record is not None and record.attempts == 2
    assert "killed by SIGABRT" in record.history[0].error["message"]  # type: ignore[index]
    assert [(line.attempt, line.message) for line in record.logs] == [
        (1, f"attempt 1 of job {handle.id}"), (2, f"attempt 2 of job {handle.id}")]
    assert record.progress_message == "almost"  # (progress is 1.0 once completed)


def test_hooks_get_the_isolated_error_by_its_type_and_message(app: Conveyor) -> None:
    """Not the worker's internal wrapper with the stored JSON as its text."""
    seen: list[BaseException | None] = []
    app.on("failed", lambda record, error=None: seen.append(error))
    app.job("fails", isolation="process")(isolated_jobs.fails)
    app.jobs["fails"]().run_now()
    drain(app)
    wait_for(lambda: seen)
    [error] = seen
    assert type(error).__name__ == "ValueError" and isinstance(error, Exception)
    assert str(error) == "bad input in the child"
    assert "Traceback" in getattr(error, "traceback", "")


def test_an_isolated_job_triggers_other_jobs_through_meta_jobs(app: Conveyor) -> None:
    app.job("add_one")(isolated_jobs.add_one)
    app.job("triggers", isolation="process")(isolated_jobs.triggers)
    app.job("triggers_async", isolation="process")(isolated_jobs.triggers_async)
    app.job("triggers_badly", isolation="process")(isolated_jobs.triggers_badly)
    h = app.jobs["triggers"](5).run_now()
    h2 = app.jobs["triggers_async"]().run_now()
    bad = app.jobs["triggers_badly"]().run_now()
    drain(app)
    now_id, later_id = h.result(timeout=30)
    assert app.jobs["add_one"] and app.get_job(now_id).result == 6  # type: ignore[union-attr]
    assert app.get_job(now_id).priority == "high"  # type: ignore[union-attr]
    assert app.get_job(later_id).state == "scheduled"  # type: ignore[union-attr]
    assert app.get_job(h2.result(timeout=30)).result == 2  # type: ignore[union-attr]
    record = app.get_job(bad.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["type"] == "PayloadError"
    assert "set" in record.error["message"]


def test_meta_jobs_in_a_child_finds_jobs_by_slug_and_names_the_unknown(app: Conveyor) -> None:
    app.job("send-email")(isolated_jobs.add_one)
    app.job("add_one")(isolated_jobs.add_one)
    for name in ("triggers_by_slug", "triggers_unknown", "triggers_a_function"):
        app.job(name, isolation="process")(getattr(isolated_jobs, name))
    by_slug = app.jobs["triggers_by_slug"]().run_now()
    unknown = app.jobs["triggers_unknown"]().run_now()
    function = app.jobs["triggers_a_function"]().run_now()
    drain(app)
    sent = app.get_job(by_slug.result(timeout=30))
    assert sent is not None and (sent.job, sent.result) == ("send-email", 2)
    errors = {h: app.get_job(h.id).error for h in (unknown, function)}  # type: ignore[union-attr]
    assert errors[unknown]["type"] == "UnknownJobError", errors  # type: ignore[index]
    assert "no_such_job" in errors[unknown]["message"]  # type: ignore[index]
    assert errors[function]["type"] == "PayloadError", errors  # type: ignore[index]


def test_an_attempt_cancelled_while_its_child_starts_kills_the_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conveyor.worker import isolation

    started: list[Any] = []
    spawned = isolation._CONTEXT.Process
    start = spawned.start

    def slow_start(process: Any) -> None:
        time.sleep(0.3)  # the worker stops (or loses the lease) meanwhile
        start(process)
        started.append(process)

    monkeypatch.setattr(spawned, "start", slow_start)

    async def cancelled_at_start() -> None:
        task = asyncio.ensure_future(isolation.run_isolated(
            "sleeps", isolated_jobs.sleeps, "[60]", "{}", None))
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_at_start())
    try:
        wait_for(lambda: started, 10, "the child to start")
        wait_for(lambda: not started[0].is_alive(), 10, "the cancelled attempt's child to go")
    finally:
        for process in started:
            process.kill()
