"""SPEC §9: concurrency (global and per key), rates, queue limits, pause/resume, combined
with retries, cancel and priority; a burst worker is not kept open by held-back work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def test_at_most_n_attempts_run_at_once(app: Conveyor) -> None:
    seen: list[int] = []

    @app.job(concurrency=2)
    def limited(n):
        seen.append(app.count(state="running", job="limited"))
        return n

    for n in range(6):
        limited(n).run_now()
    app.run_worker(concurrency=6, burst=True)
    assert app.count(state="completed", job="limited") == 6
    assert max(seen) <= 2


def test_concurrency_key_by_dotted_path_and_callable_is_stored(app: Conveyor) -> None:
    seen: list[int] = []

    @app.job(concurrency=1, concurrency_key="shop.id")
    def by_path(payload):
        seen.append(len([r for r in app.jobs_list(state="running", job="by_path")
                         if r.concurrency_key == str(payload["shop"]["id"])]))

    @app.job(concurrency=1, concurrency_key=lambda args, kwargs: f"tenant-{kwargs['t']}")
    def by_callable(t):
        return t

    handles = [by_path({"shop": {"id": shop}}).run_now() for shop in ("a", "a", "b", "b")]
    keyed = by_callable(t=7).run_now()
    assert record_of(app, keyed.id).concurrency_key == "tenant-7"
    assert record_of(app, handles[2].id).concurrency_key == "b"
    app.run_worker(concurrency=4, burst=True)
    assert max(seen) == 1
    assert app.count(state="completed") == 5


def test_bad_limits_are_refused_at_definition(app: Conveyor) -> None:
    bad: list[dict[str, object]] = [
        {"concurrency": 0}, {"concurrency": -1}, {"concurrency": True}, {"rate": "100/fortnight"},
        {"rate": "0/minute"}, {"rate": "-1/second"}, {"rate": "lots"}, {"rate": "/minute"},
        {"rate": "nan/second"}]
    for number, options in enumerate(bad):
        with pytest.raises((ValueError, TypeError)):
            app.job(f"bad-{number}", **options)(lambda: None)
    for queue_options in ({"concurrency": 0}, {"rate": "5/eon"}):
        with pytest.raises((ValueError, TypeError)):
            app.queue("bad", **queue_options)


def test_rate_holds_jobs_back_without_failing_them(open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=START)

    @app.job(rate="2/minute")
    def rated(n):
        return n

    handles = [rated(n).run_now() for n in range(5)]
    run_until_idle(app)
    assert app.count(state="completed", job="rated") == 2
    assert app.count(state="failed") == 0
    clock.advance(30, "seconds")
    run_until_idle(app)
    assert app.count(state="completed", job="rated") == 2
    clock.advance(31, "seconds")
    run_until_idle(app)
    assert app.count(state="completed", job="rated") == 4
    clock.advance(61, "seconds")
    run_until_idle(app)
    assert [record_of(app, h.id).state for h in handles] == ["completed"] * 5
    assert all(record_of(app, h.id).attempts == 1 for h in handles)


def test_queue_rate_and_concurrency_apply_across_jobs(open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=START)
    app.queue("exports", rate="3/hour", concurrency=5)

    @app.job(queue="exports")
    def one(n):
        return n

    @app.job(queue="exports")
    def two(n):
        return n

    for n in range(3):
        one(n).run_now()
        two(n).run_now()
    run_until_idle(app)
    assert app.count(state="completed") == 3
    info = {q.name: q for q in app.queues()}["exports"]
    assert info.concurrency == 5 and info.rate == "3/hour" and not info.paused
    assert info.counts.get("queued", 0) + info.counts.get("scheduled", 0) == 3
    clock.advance(1, "hour")
    run_until_idle(app)
    assert app.count(state="completed") == 6


def test_held_back_jobs_can_be_cancelled_and_retries_obey_the_limit(
        open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=START)
    attempts: list[int] = []

    @app.job(rate="1/minute", retry=Retry(retries=2, wait=0))
    def flaky(meta):
        attempts.append(meta.attempt)
        if meta.attempt < 2:
            raise RuntimeError("again")
        return meta.attempt

    first = flaky().run_now()
    second = flaky().run_now()
    run_until_idle(app)
    assert attempts == [1]
    assert app.cancel(second.id)
    assert record_of(app, second.id).state == "cancelled"
    clock.advance(61, "seconds")
    run_until_idle(app)
    assert record_of(app, first.id).state == "completed"
    assert record_of(app, first.id).result == 2
    assert attempts == [1, 2]


def test_a_held_back_job_does_not_block_other_due_jobs_of_lower_priority(app: Conveyor) -> None:
    order: list[str] = []

    @app.job(rate="1/hour", priority="critical")
    def urgent(n):
        order.append(f"urgent{n}")

    @app.job(priority="low")
    def chore(n):
        order.append(f"chore{n}")

    for n in range(3):
        urgent(n).run_now()
        chore(n).run_now()
    app.run_worker(concurrency=1, burst=True)
    assert order[0] == "urgent0"
    assert sorted(order) == ["chore0", "chore1", "chore2", "urgent0"]


def test_pause_is_persisted_and_resume_lets_work_run(open_app: Callable[..., Conveyor],
                                                    url: str) -> None:
    app = open_app()

    @app.job(queue="mail")
    def send(n):
        return n

    @app.job
    def other(n):
        return n

    send(1).run_now()
    other(1).run_now()
    app.pause(queue="mail")
    app.pause(job="other")
    again = open_app(url)
    assert again.paused_jobs() == ["other"]
    assert {q.name: q.paused for q in again.queues()}["mail"] is True
    app.run_worker(burst=True)
    assert app.count(state="completed") == 0
    again.resume(queue="mail")
    again.resume(job="other")
    app.run_worker(burst=True)
    assert app.count(state="completed") == 2
    assert app.paused_jobs() == [] and not any(q.paused for q in app.queues())


def test_paused_state_survives_pause_twice_and_resume_of_an_unpaused_queue(
        app: Conveyor) -> None:
    app.pause(queue="q1")
    app.pause(queue="q1")
    app.resume(queue="q2")
    paused = [q.name for q in app.queues() if q.paused]
    assert paused == ["q1"]
    app.resume(queue="q1")
    assert not any(q.paused for q in app.queues())


def test_waiting_durable_runs_do_not_hold_a_concurrency_slot(
        open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    clock = FakeClock(app, start=START)

    @app.job(concurrency=1)
    async def napper(n, io):
        await io.wait("nap", 1, "hour")
        return n

    @app.job(concurrency=1)
    async def tree(n, io):  # its own children under the same limit of one
        return n if n == 0 else 1 + await io.run_job("child", tree(n - 1))

    naps = [napper(n).run_now() for n in (1, 2)]
    top = tree(2).run_now()
    run_until_idle(app)
    assert [record_of(app, h.id).state for h in naps] == ["waiting", "waiting"]
    assert top.result(timeout=10) == 2
    clock.advance(1, "hour")
    run_until_idle(app)
    assert [h.result(timeout=10) for h in naps] == [1, 2]
