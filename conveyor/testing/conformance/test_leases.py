"""Leases: heartbeats keep long jobs alive, rescue after expiry, fencing (SPEC §4); poison
jobs are in test_poison.

Fencing tests drive the Store protocol directly: they play the part of a
worker that stalled or died, which a real worker never does on purpose.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed
from conveyor.stores.base import (
    Outcome,
    Progress,
    WorkerInfo,
)

from .helpers import (
    NewApp,
    claim_and_expire,
    drain,
    insert_job,
    rescued_while_running,
    wait_for,
    worker_thread,
)


@pytest.fixture
def short_lease(new_app: NewApp) -> Iterator[Conveyor]:
    """An app whose leases last 0.2 s (heartbeats every ~0.07 s)."""
    application = new_app(lease=0.2)
    yield application
    application.close()


@pytest.fixture
def two_second_lease(new_app: NewApp) -> Iterator[Conveyor]:
    """An app whose leases last 2 s: short, yet a loaded machine keeps renewing it (0.5 s
    expired now and then under a live worker when the parallel suite loaded both cores;
    a loaded CI machine can delay a heartbeat by a second)."""
    application = new_app(lease=2.0)
    yield application
    application.close()


def test_a_job_longer_than_its_lease_finishes_because_heartbeats_renew_it(
    two_second_lease: Conveyor,
) -> None:
    app = two_second_lease

    @app.job
    def long_sync() -> str:
        time.sleep(4.5)  # over two leases
        return "sync done"

    @app.job
    async def long_async() -> str:
        await asyncio.sleep(4.5)
        return "async done"

    a, b = long_sync().run_now(), long_async().run_now()
    assert rescued_while_running(app, a, b, timeout=30) == 0
    assert (a.result(timeout=30), b.result(timeout=30)) == ("sync done", "async done")
    assert [app.get_job(h.id).attempts for h in (a, b)] == [1, 1]  # type: ignore[union-attr]


def test_a_job_whose_worker_died_is_rescued_and_retried(app: Conveyor) -> None:
    @app.job
    def task() -> str:
        return "finished"

    h = task().run_now()
    claim_and_expire(app)
    assert h.state == "running"  # still looks running until someone rescues it
    with worker_thread(app):
        assert h.result(timeout=10) == "finished"
    record = app.get_job(h.id)
    assert record is not None and record.attempts == 2
    first = record.history[0]
    assert first.error is not None and first.error["type"] == "LeaseExpired"
    assert "stopped heartbeating" in first.error["message"]


def test_rescue_requeues_only_expired_leases(app: Conveyor) -> None:
    expired = insert_job(app)
    claim_and_expire(app)
    alive = insert_job(app)
    app.store.claim("live-worker", None, 1, 30)
    assert app.store.rescue() == 1
    assert app.get_job(expired).state == "queued"  # type: ignore[union-attr]
    assert app.get_job(alive).state == "running"  # type: ignore[union-attr]


def test_next_due_is_the_earliest_due_time_over_priorities_and_queues(app: Conveyor) -> None:
    assert app.store.next_due(None) is None
    at = time.time() + 1000
    for priority, delay, queue in [(5, 300, "a"), (0, 100, "b"), (-3, 200, "a"), (2, 150, "c")]:
        insert_job(app, priority=priority, run_at=at + delay, queue=queue)
    app.cancel(insert_job(app, priority=9, run_at=at + 10, queue="a"))  # finished: not due
    assert app.store.next_due(None) == pytest.approx(at + 100)
    assert app.store.next_due(["a"]) == pytest.approx(at + 200)
    assert app.store.next_due(["a", "c"]) == pytest.approx(at + 150)
    assert app.store.next_due(["elsewhere"]) is None


def test_a_burst_worker_rescues_expired_leases_before_it_stops(app: Conveyor) -> None:
    @app.job
    def task() -> int:
        return 1

    h = task().run_now()
    claim_and_expire(app)
    drain(app)
    assert h.result(timeout=5) == 1


def test_a_burst_worker_waits_for_a_dead_workers_job_and_runs_it(app: Conveyor) -> None:
    @app.job
    def task() -> int:
        return 1

    h = task().run_now()
    app.store.claim("killed-worker", None, 1, 1.0)  # its lease: 1 s more
    started = time.monotonic()
    drain(app)
    assert h.result(timeout=5) == 1
    assert time.monotonic() - started >= 0.5  # it waited for the lease, then rescued
    record = app.get_job(h.id)
    assert record is not None and record.attempts == 2


def test_a_burst_worker_leaves_jobs_running_on_live_workers_alone(app: Conveyor) -> None:
    @app.job
    def task() -> int:
        return 1

    h = task().run_now()
    app.store.register_worker(WorkerInfo("live-worker", "host", 1, "*", 1))
    app.store.claim("live-worker", None, 1, 60.0)
    started = time.monotonic()
    drain(app)
    assert time.monotonic() - started < 30
    assert app.get_job(h.id).state == "running"  # type: ignore[union-attr]


def test_a_rescued_workers_late_writes_change_nothing(app: Conveyor) -> None:
    job_id = insert_job(app)
    old = claim_and_expire(app, "stalled-worker")
    assert app.store.rescue() == 1
    (new,) = app.store.claim("new-worker", None, 1, 30)
    assert new.id == job_id and new.attempt == 2 and new.token != old.token
    now = time.time()
    stale = [
        Outcome(job_id, old.token, "completed", now, result="1"),
        Outcome(job_id, old.token, "failed", now, error=json.dumps({"message": "late"})),
        Outcome(job_id, old.token, "pending", now, delay=0),
    ]
    for outcome in stale:
        assert app.store.complete([outcome]) == 0
    app.store.write_progress([Progress(job_id, old.token, 0.9, "late progress")], [])
    assert app.store.heartbeat("stalled-worker", {job_id: old.token}, 30) == {job_id}
    assert app.store.release({job_id: old.token}) == 0
    record = app.get_job(job_id)
    assert record is not None
    assert (record.state, record.attempts, record.worker_id) == ("running", 2, "new-worker")
    assert record.result is None and record.progress is None
    # the new attempt's writes do count
    assert app.store.heartbeat("new-worker", {job_id: new.token}, 30) == set()
    assert app.store.complete([Outcome(job_id, new.token, "completed", now, result="2")]) == 1
    record = app.get_job(job_id)
    assert record is not None and (record.state, record.result) == ("completed", 2)


def test_heartbeats_renew_leases_while_the_database_thread_is_busy(
    two_second_lease: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = two_second_lease
    next_due = type(app.store).next_due

    def slow_next_due(store: Any, queues: Any) -> Any:
        if threading.current_thread().name.startswith("conveyor-db"):
            time.sleep(3.0)  # longer than the lease: a slow query on the worker's thread
        return next_due(store, queues)

    monkeypatch.setattr(type(app.store), "next_due", slow_next_due)

    @app.job
    def long_sync() -> str:
        time.sleep(4.5)
        return "done"

    handle = long_sync().run_now()
    # heartbeats have their own thread: never queued behind next_due
    assert rescued_while_running(app, handle) == 0
    assert handle.result(timeout=30) == "done"


def test_a_stalled_workers_heartbeat_does_not_extend_the_new_lease(app: Conveyor) -> None:
    job_id = insert_job(app)
    claim_and_expire(app, "stalled-worker")
    app.store.rescue()
    app.store.claim("new-worker", None, 1, 0.05)
    app.store.heartbeat("stalled-worker", {}, 30)
    time.sleep(0.1)
    assert app.store.rescue() == 1  # the new worker's lease expired; nobody renewed it
    assert app.get_job(job_id).state == "queued"  # type: ignore[union-attr]


def test_cancelling_a_running_async_job_stops_it_and_keeps_it_cancelled(
    short_lease: Conveyor,
) -> None:
    app = short_lease
    started = threading.Event()

    @app.job
    async def forever() -> None:
        started.set()
        await asyncio.sleep(30)

    h = forever().run_now()
    with worker_thread(app) as worker:
        assert started.wait(10)
        assert app.cancel(h.id)
        wait_for(lambda: not worker.active, what="the worker to abandon the cancelled job")
    record = app.get_job(h.id)
    assert record is not None and record.state == "cancelled"
    with pytest.raises(JobFailed, match="cancelled"):
        h.result(timeout=1)


def test_a_cancelled_sync_jobs_late_result_is_discarded(short_lease: Conveyor) -> None:
    app = short_lease
    started, release = threading.Event(), threading.Event()

    @app.job
    def blocking() -> str:
        started.set()
        release.wait(10)
        return "too late"

    h = blocking().run_now()
    with worker_thread(app) as worker:
        assert started.wait(10)
        assert app.cancel(h.id)
        wait_for(lambda: not worker.active, what="the worker to drop the cancelled job")
        release.set()
    record = app.get_job(h.id)
    assert record is not None and record.state == "cancelled" and record.result is None


@pytest.mark.parametrize("how", ["cancel", "cascade", "cancel_jobs"])
def test_a_cancel_keeps_the_lease_end_only_of_a_job_its_worker_still_held(
    app: Conveyor, how: str,
) -> None:
    """Who reports a cancel (the ``cancelled`` hook) is decided in the cancel's own
    statement: a running job whose lease was live keeps that lease's end (its worker
    reports it); a lost or unstarted one has none (its canceller reports it)."""
    lost = insert_job(app)
    claim_and_expire(app)
    live = insert_job(app)
    (held,) = app.store.claim("live-worker", None, 1, 30)
    queued = insert_job(app)
    if how == "cancel_jobs":
        assert app.cancel_jobs(type="task", state=["running", "queued"]) == 3
    else:
        assert all(app.cancel(i, cascade=how == "cascade") for i in (lost, live, queued))
    records = {i: app.get_job(i) for i in (lost, live, queued)}
    assert all(r is not None and r.state == "cancelled" for r in records.values())
    kept = records[live]
    assert kept is not None and kept.lease_expires_at is not None and kept.finished_at
    assert kept.lease_expires_at >= kept.finished_at
    assert records[lost].lease_expires_at is None  # type: ignore[union-attr]
    assert records[queued].lease_expires_at is None  # type: ignore[union-attr]
    assert app.store.heartbeat("live-worker", {live: held.token}, 30) == {live}
    assert app.retry(live) and app.cancel(live)  # cancelled again, not running: none kept
    assert app.get_job(live).lease_expires_at is None  # type: ignore[union-attr]
