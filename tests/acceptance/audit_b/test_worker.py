"""SPEC §7 burst workers: they return when what is left cannot be claimed (paused queue
or job, blocked, rate-limited), and do the due schedule work first; async form too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock

START = datetime(2027, 1, 4, 8, 59, tzinfo=UTC)  # a Monday


@pytest.fixture
def clock(app: Conveyor) -> FakeClock:
    return FakeClock(app, start=START)


def _echo(app: Conveyor, **options: Any) -> Any:
    @app.job("écho ✓", **options)
    def echo(payload: Any = None) -> Any:
        return payload

    return echo


def test_burst_returns_past_a_paused_unicode_queue(app: Conveyor) -> None:
    echo = _echo(app, queue="fïlé 📦")
    app.pause(queue="fïlé 📦")
    held = echo({"n": 0}).run_now()
    other = echo(1).run_now(queue="plain")

    app.run_worker(burst=True)

    assert app.get_job(held.id).state == "queued"
    assert app.get_job(other.id).state == "completed"
    [info] = [q for q in app.queues() if q.name == "fïlé 📦"]
    assert info.paused and info.counts.get("queued") == 1
    app.resume(queue="fïlé 📦")
    app.run_worker(burst=True)
    assert app.get_job(held.id).result == {"n": 0}


def test_burst_returns_past_a_paused_job_and_the_pause_outlives_the_app(
        app: Conveyor, open_app: Any) -> None:
    echo = _echo(app)
    app.pause(job="écho ✓")
    held = echo("x").run_now()
    app.run_worker(burst=True)
    assert app.get_job(held.id).state == "queued"

    again = open_app()
    _echo(again)
    assert again.paused_jobs() == ["écho ✓"]
    again.run_worker(burst=True)
    assert again.get_job(held.id).state == "queued"
    again.resume(job="écho ✓")
    assert again.paused_jobs() == []
    again.run_worker(burst=True)
    assert again.get_job(held.id).state == "completed"


def test_burst_returns_past_blocked_work(app: Conveyor, clock: FakeClock) -> None:
    echo = _echo(app)
    first = echo(1).run_in(2, "hours")
    blocked = echo(2).run_now(depends_on=[first])

    app.run_worker(burst=True)

    assert app.get_job(blocked.id).state == "blocked"
    clock.advance(2, "hours")
    app.run_worker(burst=True)
    assert [app.get_job(h.id).state for h in (first, blocked)] == ["completed"] * 2


def test_burst_returns_past_rate_limited_work(app: Conveyor, clock: FakeClock) -> None:
    echo = _echo(app, rate="2/minute")
    handles = [echo(n).run_now() for n in range(5)]

    app.run_worker(concurrency=5, burst=True)
    assert sum(app.get_job(h.id).state == "completed" for h in handles) == 2
    clock.advance(61, "seconds")
    app.run_worker(concurrency=5, burst=True)
    assert sum(app.get_job(h.id).state == "completed" for h in handles) == 4
    clock.advance(61, "seconds")
    app.run_worker(concurrency=5, burst=True)
    assert all(app.get_job(h.id).state == "completed" for h in handles)


def test_burst_runs_due_schedule_occurrences_once(app: Conveyor, clock: FakeClock) -> None:
    @app.job(trigger=app.every("15 minutes"))
    def tick(meta: Any) -> str:
        return "tick"

    app.run_worker(burst=True)  # stores the first occurrence (09:00)
    [first] = app.jobs_list(job="tick")
    assert first.state == "scheduled" and first.run_at == datetime(2027, 1, 4, 9, tzinfo=UTC)

    clock.advance(1, "hour")  # three more occurrences missed: one run, not four
    app.run_worker(burst=True)
    runs = app.jobs_list(job="tick")
    done = [r for r in runs if r.state == "completed"]
    pending = [r for r in runs if r.state == "scheduled"]
    assert len(done) == 1 and len(pending) == 1
    assert pending[0].rescheduled_from == done[0].id
    assert pending[0].run_at > clock.now()


def test_run_worker_async_in_burst_mode(app: Conveyor) -> None:
    echo = _echo(app)

    async def main() -> list[Any]:
        handles = [await echo(n).run_now() for n in (0, -1, 2**40)]
        await app.run_worker_async(concurrency=3, burst=True)
        return [await h.wait(timeout=30) for h in handles]

    assert asyncio.run(main()) == [0, -1, 2**40]


def test_burst_returns_past_work_held_by_a_concurrency_limit_another_worker_uses(
        app: Conveyor, open_app: Any) -> None:
    import threading
    import time

    release = threading.Event()

    def define(target: Conveyor) -> Any:
        @target.job("ünï-slot", concurrency=1)
        def one_at_a_time(n: int) -> int:
            if n == 0:
                assert release.wait(60)
            return n

        return one_at_a_time

    slot = define(app)
    other = open_app()
    define(other)
    holder = slot(0).run_now()
    elsewhere = threading.Thread(target=other.run_worker, kwargs={"burst": True})
    elsewhere.start()
    try:
        deadline = time.monotonic() + 30
        while app.get_job(holder.id).state != "running":
            assert time.monotonic() < deadline, "the other worker never started the job"
            time.sleep(0.01)
        waiting = slot(1).run_now()

        app.run_worker(burst=True)  # returns: the only due job is held by the limit

        assert app.get_job(waiting.id).state == "queued"
    finally:
        release.set()
        elsewhere.join(60)
    app.run_worker(burst=True)
    assert [app.get_job(h.id).result for h in (holder, waiting)] == [0, 1]


def test_a_paused_scheduled_job_runs_its_missed_occurrence_once_on_resume(
        app: Conveyor, clock: FakeClock) -> None:
    @app.job("tïck", trigger=app.every("15 minutes"))
    def tick() -> str:
        return "tock"

    app.run_worker(burst=True)
    app.pause(job="tïck")
    for _ in range(8):  # two hours of burst workers that may not claim it
        clock.advance(15, "minutes")
        app.run_worker(burst=True)
    assert [r.state for r in app.jobs_list(job="tïck")] == ["queued"]

    app.resume(job="tïck")
    app.run_worker(burst=True)

    done, upcoming = app.jobs_list(job="tïck", newest_first=False)
    assert (done.state, upcoming.state, upcoming.rescheduled_from) == (
        "completed", "scheduled", done.id)
    assert upcoming.run_at == datetime(2027, 1, 4, 11, tzinfo=UTC)  # now 10:59
