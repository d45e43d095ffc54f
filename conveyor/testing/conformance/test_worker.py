"""The worker in this process: run_worker(burst=True), run_worker_async, stop and release
(SPEC §7). Real processes and signals are in tests/process/."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from conveyor.worker import Worker

from .helpers import wait_for, worker_thread


def test_burst_worker_runs_every_due_job_then_returns(app: Conveyor) -> None:
    done: list[int] = []

    @app.job
    def work(n: int) -> None:
        done.append(n)

    app.enqueue_many(work(i) for i in range(30))
    later = work(99).run_in(1, "hour")
    app.run_worker(burst=True, concurrency=3)
    assert sorted(done) == list(range(30))
    assert later.state == "scheduled"
    assert app.count(state="completed") == 30


def test_burst_worker_runs_jobs_its_jobs_trigger(app: Conveyor) -> None:
    @app.job
    def chain(n: int, meta: Any) -> int:
        if n > 0:
            meta.jobs.chain(n - 1).run_now()
        return n

    chain(5).run_now()
    app.run_worker(burst=True)
    assert app.count(state="completed", job="chain") == 6


def test_burst_worker_on_an_empty_store_returns_at_once(app: Conveyor) -> None:
    app.run_worker(burst=True)
    assert app.count() == 0


async def test_run_worker_async_runs_jobs_in_async_code(app: Conveyor) -> None:
    @app.job
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    handles = [await double(i).run_now() for i in range(5)]
    await app.run_worker_async(burst=True, concurrency=2)
    assert [await h.wait(timeout=5) for h in handles] == [0, 2, 4, 6, 8]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_run_worker_refuses_a_bad_concurrency(app: Conveyor, bad: Any) -> None:
    with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
        app.run_worker(concurrency=bad, burst=True)


def test_an_idle_worker_picks_up_jobs_triggered_later(app: Conveyor) -> None:
    @app.job
    def late(n: int) -> int:
        return n + 1

    with worker_thread(app, poll_interval=5.0):
        handles = [late(i).run_now() for i in range(3)]
        assert [h.result(timeout=10) for h in handles] == [1, 2, 3]


def test_an_idle_worker_runs_a_scheduled_job_when_it_becomes_due(app: Conveyor) -> None:
    @app.job
    def soon() -> str:
        return "due"

    with worker_thread(app, poll_interval=5.0):
        h = soon().run_in(100, "milliseconds")
        assert h.result(timeout=10) == "due"


def test_stopping_a_worker_lets_short_jobs_finish(app: Conveyor) -> None:
    started, release = threading.Event(), threading.Event()

    @app.job
    def brief() -> str:
        started.set()
        release.wait(5)
        return "finished"

    h = brief().run_now()
    with worker_thread(app, grace=10) as worker:
        assert started.wait(10)
        worker.stop()
        release.set()
    assert h.result(timeout=1) == "finished"


def test_stopping_a_worker_releases_jobs_past_the_grace_period(app: Conveyor) -> None:
    started = threading.Event()
    runs: list[int] = []

    @app.job
    async def long(meta: Any) -> str:
        runs.append(meta.attempt)
        started.set()
        await asyncio.sleep(30 if len(runs) == 1 else 0)
        return "second worker"

    h = long().run_now()
    with worker_thread(app, grace=0.05):
        assert started.wait(10)
    record = app.get_job(h.id)
    assert record is not None
    assert (record.state, record.attempts, record.started_at) == ("queued", 0, None)
    with worker_thread(app):
        assert h.result(timeout=10) == "second worker"
    assert runs == [1, 1]  # a released attempt is not counted against the job


def test_a_stopped_worker_claims_nothing_more(app: Conveyor) -> None:
    @app.job
    def j() -> None: ...

    with worker_thread(app) as worker:
        worker.stop()
        wait_for(lambda: worker.stopping)
    h = j().run_now()
    assert h.state == "queued"


def test_stop_does_not_wait_out_the_poll_interval(app: Conveyor) -> None:
    for _ in range(10):  # the lost wake-up this guards against was a narrow race
        worker = Worker(app, poll_interval=60.0, maintenance_interval=60.0)
        thread = threading.Thread(target=worker.run_blocking, daemon=True)
        thread.start()
        wait_for(functools.partial(hasattr, worker, "wake"), what="the worker to start")
        worker.stop()
        thread.join(10)
        assert not thread.is_alive(), "the worker slept through stop()"


def test_async_jobs_run_side_by_side_on_one_loop(app: Conveyor) -> None:
    together = asyncio.Event()
    active: list[int] = []

    @app.job
    async def meet(n: int) -> int:
        active.append(n)
        if len(active) == 5:
            together.set()
        await asyncio.wait_for(together.wait(), 10)  # only if all five run at once
        return n

    handles = app.enqueue_many(meet(i) for i in range(5))
    app.run_worker(burst=True, concurrency=5)
    assert [h.result(timeout=1) for h in handles] == list(range(5))


def test_an_idle_worker_reads_the_due_time_slowly_while_notifications_work(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conveyor.worker.loop import QUIET_POLLS

    reads: list[float] = []
    next_due = type(app.store).next_due

    def counted(store: Any, queues: Any) -> Any:
        if threading.current_thread().name.startswith("conveyor-db"):
            reads.append(time.monotonic())
        return next_due(store, queues)

    monkeypatch.setattr(type(app.store), "next_due", counted)
    with worker_thread(app, poll_interval=0.05) as worker:
        wait_for(lambda: worker.watching, what="the change watcher")
        time.sleep(0.1)
        before = len(reads)
        time.sleep(0.5)  # ten polls at poll_interval; two at QUIET_POLLS x poll_interval
        assert len(reads) - before <= 0.5 / (0.05 * QUIET_POLLS) + 2


def test_a_quiet_worker_runs_a_retry_when_it_is_due(app: Conveyor) -> None:
    from conveyor import Retry

    attempts: list[float] = []

    @app.job(retry=Retry(retries=1, wait=0.2))
    def flaky() -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return "second"

    with worker_thread(app, poll_interval=1.0):  # a due-time read every 5 s when idle
        handle = flaky().run_now()
        assert handle.result(timeout=10) == "second"
    assert attempts[1] - attempts[0] < 3.0  # the worker read the retry's due time at once


def test_a_quiet_worker_runs_a_retry_another_worker_stored_when_it_is_due(
    app: Conveyor,
) -> None:
    from conveyor.stores.base import Outcome

    runs: list[float] = []

    @app.job
    def flaky() -> None:
        runs.append(time.monotonic())

    flaky().run_now()
    (job,) = app.store.claim("elsewhere", None, 1, 30)  # a busy worker ran it and failed
    with worker_thread(app, poll_interval=1.0) as worker:  # a due-time read every 5 s
        wait_for(lambda: worker.watching, what="the change watcher")
        time.sleep(0.1)  # idle, nothing due
        stored = time.monotonic()
        app.store.complete([Outcome(job.id, job.token, "pending", app.store.now(),
                                    error='{"type": "E", "message": "m", "traceback": null}',
                                    delay=0.2)])
        wait_for(lambda: bool(runs), timeout=10)
    assert runs[0] - stored < 3.0  # told of the retry's due time, not the next 5 s read


def test_an_async_job_raising_keyboard_interrupt_or_system_exit_fails_only_its_attempt(
    app: Conveyor,
) -> None:
    """asyncio re-raises KeyboardInterrupt and SystemExit out of the loop from a task they
    end: raised by a job's coroutine (with a timeout or not, a durable run's step too), they
    fail or retry that attempt like any error, as they do for a sync job."""
    @app.job(retry=Retry(retries=1, wait=0))
    async def interrupted(kind: str) -> None:
        raise KeyboardInterrupt(f"{kind} ✗") if kind != "exit" else SystemExit(4)

    @app.job(timeout=30)
    async def timed(kind: str) -> None:
        raise KeyboardInterrupt(f"{kind} ✗") if kind != "exit" else SystemExit(5)

    def step() -> None:
        raise KeyboardInterrupt("step ✗")

    @app.job
    async def durable(io: Any) -> None:
        await io.task("step", step)

    @app.job
    def fine(n: int) -> int:
        return n

    broken = [interrupted("interrupt").run_now(), interrupted("exit").run_now(),
              timed("interrupt").run_now(), timed("exit").run_now(), durable().run_now()]
    good = [fine(n).run_now() for n in range(6)]
    app.run_worker(burst=True, concurrency=3)
    errors = []
    for handle, attempts in zip(broken, [2, 2, 1, 1, 1], strict=True):
        record = app.get_job(handle.id)
        assert record is not None and (record.state, record.attempts) == ("failed", attempts)
        assert record.error is not None and "raise" in record.error["traceback"]
        errors.append((record.error["type"], record.error["message"]))
    assert errors == [("KeyboardInterrupt", "interrupt ✗"), ("SystemExit", "4"),
                      ("KeyboardInterrupt", "interrupt ✗"), ("SystemExit", "5"),
                      ("KeyboardInterrupt", "step ✗")]
    assert [h.result(timeout=5) for h in good] == list(range(6))
    assert app.count(state="running") == 0


def test_a_job_raising_conveyors_own_interrupt_fails_and_the_worker_goes_on(
    app: Conveyor,
) -> None:
    """conveyor.errors.Interrupt is the durable engine's; raised by a plain job it stopped
    the sync lane's thread for good (the worker, holding the job, ran nothing more) or left
    an async job's attempt running with nobody on it."""
    from conveyor.errors import Interrupt

    @app.job
    def sync_odd() -> None:
        raise Interrupt("sync ✗")

    @app.job
    async def async_odd() -> None:
        raise Interrupt("async ✗")

    @app.job
    def fine(n: int) -> int:
        return n

    odd = [sync_odd().run_now(), async_odd().run_now()]
    good = [fine(n).run_now() for n in range(3)]
    worker = threading.Thread(target=app.run_worker, kwargs={"burst": True, "concurrency": 1},
                              daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the worker stopped running jobs"
    for handle in odd:
        record = app.get_job(handle.id)
        assert record is not None and record.state == "failed" and record.error is not None
        assert record.error["type"] == "Interrupt" and "✗" in record.error["message"]
    assert [h.result(timeout=5) for h in good] == [0, 1, 2]
