"""SPEC §9: rate limits over a sliding window on the app's clock (FakeClock), pauses that
hold work but let running attempts finish, and process isolation of crashing attempts."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


def _states(app: Conveyor, ids: list[int]) -> list[str]:
    return [record_of(app, i).state for i in ids]


def test_a_job_rate_slides_over_the_fake_clock_and_never_fails_work(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job(rate="2/minute")
    def limited(n):
        return n

    ids = [limited(n).run_now().id for n in range(5)]
    run_until_idle(app)
    assert _states(app, ids).count("completed") == 2
    held = [record_of(app, i) for i in ids if record_of(app, i).state != "completed"]
    assert all(r.state in ("queued", "scheduled") and r.attempts == 0 for r in held)
    clock.advance(30, "seconds")
    run_until_idle(app)
    assert _states(app, ids).count("completed") == 2  # still inside the first minute
    clock.advance(31, "seconds")
    run_until_idle(app)
    assert _states(app, ids).count("completed") == 4
    clock.advance(1, "minute")
    run_until_idle(app)
    assert _states(app, ids) == ["completed"] * 5


def test_a_daily_rate_waits_a_day(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job(rate="1/day")
    def daily(n):
        return n

    ids = [daily(n).run_now().id for n in range(2)]
    run_until_idle(app)
    clock.advance(23, "hours")
    run_until_idle(app)
    assert _states(app, ids).count("completed") == 1
    clock.advance(1, "hour")
    run_until_idle(app)
    assert _states(app, ids) == ["completed", "completed"]


def test_a_declared_queue_rate_holds_every_job_of_the_queue(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)
    app.queue("exports", rate="1/second")

    @app.job(queue="exports")
    def export_a():
        return "a"

    @app.job(queue="exports")
    def export_b():
        return "b"

    ids = [export_a().run_now().id, export_b().run_now().id, export_a().run_now().id]
    for expected in (1, 2, 3):
        run_until_idle(app)
        assert _states(app, ids).count("completed") == expected
        clock.advance(1, "second")
    info = next(q for q in app.queues() if q.name == "exports")
    assert info.rate is not None and "1" in str(info.rate) and info.concurrency is None
    assert info.counts.get("completed") == 3


def test_queue_info_counts_every_state_of_the_queue(app: Conveyor) -> None:
    FakeClock(app, start=START)
    app.queue("mixed", concurrency=5)

    @app.job(queue="mixed", retry=Retry(retries=0))
    def maybe(ok):
        if not ok:
            raise RuntimeError("no")
        return ok

    maybe(True).run_now()
    maybe(False).run_now()
    maybe(True).run_in(1, "hour")
    run_until_idle(app)
    info = next(q for q in app.queues() if q.name == "mixed")
    assert (info.name, info.concurrency, info.paused) == ("mixed", 5, False)
    assert {k: v for k, v in info.counts.items() if v} == {
        "completed": 1, "failed": 1, "scheduled": 1}


def test_a_paused_job_misses_its_due_time_and_runs_once_resumed(app: Conveyor) -> None:
    clock = FakeClock(app, start=START)

    @app.job
    def report():
        return "r"

    app.pause(job="report")
    handle = report().run_in(10, "minutes")
    clock.advance(1, "hour")
    run_until_idle(app)
    assert record_of(app, handle.id).state in ("queued", "scheduled")
    assert app.paused_jobs() == ["report"]
    app.resume(job="report")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "completed"


def test_a_running_attempt_finishes_when_its_queue_is_paused(app: Conveyor) -> None:
    @app.job(queue="work")
    def pauses_its_own_queue(n):
        app.pause(queue="work")
        return n

    first = pauses_its_own_queue(1).run_now()
    run_until_idle(app)
    second = pauses_its_own_queue(2).run_now()
    run_until_idle(app)
    assert record_of(app, first.id).state == "completed"
    assert record_of(app, second.id).state == "queued"
    assert [q.paused for q in app.queues() if q.name == "work"] == [True]


@pytest.mark.parametrize("how", ["bad rate", "zero concurrency"])
def test_nonsense_queue_limits_are_refused(app: Conveyor, how: str) -> None:
    with pytest.raises(ValueError, match=r"accepted|must|invalid"):
        if how == "bad rate":
            app.queue("q", rate="3/fortnight")
        else:
            app.queue("q", concurrency=0)


def _isolated(app: Conveyor) -> tuple[Any, Any, Any, Any]:
    @app.job(isolation="process", retry=Retry(retries=1))
    def aborts():
        os.abort()

    @app.job(isolation="process", retry=Retry(retries=0))
    def exits():
        os._exit(3)

    @app.job(isolation="process")
    def reports(meta, *, parent):
        meta.log.info(f"from pid {os.getpid()}")
        meta.progress(0.5, message="half")
        return os.getpid() != parent

    @app.job(isolation="process")
    async def awaits(x):
        return x + 1

    return aborts, exits, reports, awaits


def test_isolated_attempts_crash_alone_and_keep_what_they_report(app: Conveyor) -> None:
    aborts, exits, reports, awaits = _isolated(app)
    aborted, exited = aborts().run_now(), exits().run_now()
    reported, awaited = reports(parent=os.getpid()).run_now(), awaits(1).run_now()
    run_until_idle(app)
    aborted_run, exited_run = record_of(app, aborted.id), record_of(app, exited.id)
    assert aborted_run.state == "failed" and aborted_run.attempts == 2  # retried per policy
    assert all("SIGABRT" in str(a.error) for a in aborted_run.history)
    assert exited_run.state == "failed" and "3" in str(exited_run.error)
    assert reported.result(timeout=30) is True and awaited.result(timeout=30) == 2
    record = record_of(app, reported.id)
    assert record.progress_message == "half" and "from pid" in str(record.logs)
