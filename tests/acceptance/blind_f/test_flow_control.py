"""SPEC §9, second pass: the rate window slides (it is not a calendar minute), every attempt
counts (retries too), a durable run asleep holds no concurrency slot, job and queue limits
both hold, a queue's limit holds across two apps' workers, pauses are the store's."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock
from tests.acceptance.blind_f.support import recorder
from tests.acceptance.blind_surface.support import u

START = u(2030, 1, 4, 8)


def _burst(app: Conveyor) -> None:
    app.run_worker(concurrency=8, burst=True)


def test_the_rate_window_slides_instead_of_restarting_each_minute(app: Conveyor) -> None:
    seen, job = recorder(app, "ping", rate="2/minute")
    with FakeClock(app, start=START) as clock:
        job(1).run_now()
        _burst(app)
        clock.advance(30, "seconds")
        job(2).run_now()
        _burst(app)
        clock.advance(30.5, "seconds")  # 08:01:00.5: only the 08:00:30 start is in the window
        job(3).run_now()
        job(4).run_now()
        _burst(app)
        assert sorted(seen) == [1, 2, 3] or sorted(seen) == [1, 2, 4]
        clock.advance(30, "seconds")
        _burst(app)
    assert sorted(seen) == [1, 2, 3, 4]


def test_a_retry_is_an_attempt_the_rate_counts(app: Conveyor) -> None:
    attempts: list[tuple[int, int, datetime]] = []

    @app.job(rate="2/minute", retry=Retry(retries=2, wait=0))
    def flaky(n: int, meta: Any) -> None:
        attempts.append((n, meta.attempt, clock.now()))
        if n == 0 and meta.attempt == 1:
            raise RuntimeError("first try fails")

    with FakeClock(app, start=START) as clock:
        handles = [flaky(n).run_now() for n in range(2)]
        _burst(app)
        assert sorted((n, a) for n, a, _ in attempts) == [(0, 1), (1, 1)]
        record = app.get_job(handles[0].id)
        assert record is not None and record.state in ("queued", "scheduled")
        clock.advance(61, "seconds")
        _burst(app)
    assert [(n, a) for n, a, _ in attempts][-1] == (0, 2)
    assert attempts[-1][2] >= u(2030, 1, 4, 8, 1)


def test_a_durable_run_asleep_holds_no_concurrency_slot(app: Conveyor) -> None:
    woke: list[int] = []

    @app.job(concurrency=1)
    async def nap(n: int, io: Any) -> int:
        await io.wait("nap", 1, "hour")
        woke.append(n)
        return n

    with FakeClock(app, start=START) as clock:
        handles = [nap(n).run_now() for n in range(3)]
        _burst(app)
        assert {app.get_job(h.id).state for h in handles} == {"waiting"}  # type: ignore[union-attr]
        clock.advance(1, "hour")
        _burst(app)
    assert sorted(woke) == [0, 1, 2]


def test_a_job_rate_inside_a_queue_rate_both_hold(app: Conveyor) -> None:
    app.queue("mails", rate="3/minute")
    slow, slow_job = recorder(app, "slow", queue="mails", rate="1/minute")
    fast, fast_job = recorder(app, "fast", queue="mails")
    with FakeClock(app, start=START) as clock:
        for n in range(3):
            slow_job(n).run_now()
            fast_job(n).run_now()
        _burst(app)
        assert len(slow) <= 1 and len(slow) + len(fast) == 3
        for _ in range(3):
            clock.advance(61, "seconds")
            _burst(app)
    assert len(slow) == 3 and len(fast) == 3


def test_a_queue_concurrency_holds_across_two_apps_working_at_once(
        open_app: Callable[..., Conveyor]) -> None:
    apps = [open_app(), open_app()]
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    async def hold(n: int) -> int:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        await asyncio.sleep(0.03)
        with lock:
            running[0] -= 1
        return n

    for application in apps:
        application.queue("exports-é", concurrency=2)
        application.job("export", queue="exports-é")(hold)
    handles = [apps[0].jobs.export(n).run_now() for n in range(8)]
    threads = [threading.Thread(target=a.run_worker, kwargs={"concurrency": 4, "burst": True})
               for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [h.result(timeout=10) for h in handles] == list(range(8))
    assert running[1] == 2


def test_a_pause_is_stored_and_seen_by_every_app(open_app: Callable[..., Conveyor]) -> None:
    first, second = open_app(), open_app()
    seen, _ = recorder(first, "rapport-ü")
    recorder(second, "rapport-ü")
    first.pause(job="rapport-ü")
    first.pause(queue="lots")
    assert second.paused_jobs() == ["rapport-ü"]
    assert {q.name: q.paused for q in second.queues()}.get("lots") is True
    first.jobs["rapport-ü"]({"n": 1}).run_now()
    _burst(second)
    assert seen == [] and second.count(job="rapport-ü", state="queued") == 1
    second.resume(job="rapport-ü")
    assert first.paused_jobs() == []
    _burst(first)
    assert seen == [{"n": 1}]
    counts = {q.name: q.counts for q in first.queues()}
    assert counts["default"].get("completed") == 1
