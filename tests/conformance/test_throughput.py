"""The fast paths keep the contract: group commit, lane threads, claiming ahead."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, JobHandle
from tests.conformance.helpers import (
    ManualClock,
    NewApp,
    claim_ahead_surely,
    wait_for,
    warm_up,
    worker_thread,
)


def test_concurrent_triggers_each_return_their_own_stored_job(app: Conveyor) -> None:
    @app.job
    def task(n: int) -> int:
        return n

    found: dict[int, int] = {}
    seen: list[bool] = []

    def produce(base: int) -> None:
        for n in range(base, base + 25):
            h = task(n).run_now()
            record = app.get_job(h.id)  # stored (committed) before run_now returned
            seen.append(record is not None)
            found[n] = h.id
            assert record is not None and record.args == [n]

    threads = [threading.Thread(target=produce, args=(i * 100,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 200 and all(seen)
    assert len(set(found.values())) == 200


def test_producers_in_a_tight_loop_each_get_their_own_committed_job(app: Conveyor) -> None:
    """Threads triggering back to back share batches (after one, the first caller back
    waits for the others, and the last of them stores it): every call still returns its
    own job, committed, and the group is left idle."""
    @app.job
    def task(n: int) -> int:
        return n

    found: dict[int, int] = {}
    missing: list[int] = []

    def produce(base: int) -> None:
        for n in range(base, base + 150):
            found[n] = task(n).run_now().id
            if n % 10 == 0 and app.get_job(found[n]) is None:
                missing.append(n)

    threads = [threading.Thread(target=produce, args=(i * 1000,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not missing and len(set(found.values())) == 600
    records = app.jobs_list(ids=list(found.values()), limit=600)
    assert {r.id: r.args for r in records} == {i: [n] for n, i in found.items()}
    group = getattr(app.store, "group", None)
    assert group is None or (not group.leading and not group.waiting)


def test_a_bad_payload_fails_only_its_own_concurrent_trigger(app: Conveyor) -> None:
    @app.job
    def task(text: str) -> str:
        return text

    errors: list[str] = []
    stored: list[int] = []

    def produce(text: str) -> None:
        for _ in range(10):
            try:
                stored.append(task(text).run_now().id)
            except Exception as exc:
                errors.append(type(exc).__name__)

    threads = [threading.Thread(target=produce, args=(t,)) for t in ["ok", "a\x00b"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stored) == 30 and len(errors) == 30
    assert {app.get_job(i).args[0] for i in stored} == {"ok"}  # type: ignore[union-attr]


def test_slow_jobs_are_not_claimed_ahead(app: Conveyor) -> None:
    @app.job
    def slow() -> None:
        time.sleep(0.3)

    with worker_thread(app, concurrency=1, prefetch=5) as worker:
        handles = [slow().run_now() for _ in range(4)]
        wait_for(lambda: handles[0].state == "completed", what="the first job")
        assert len(worker.active) <= 1  # the others stay claimable by other workers
        for h in handles:
            h.result(timeout=20)


def test_sync_jobs_never_run_on_the_event_loop_thread(app: Conveyor) -> None:
    threads: set[str] = set()

    @app.job
    def where() -> None:
        threads.add(threading.current_thread().name)

    handles = [where().run_now() for _ in range(20)]
    with worker_thread(app, concurrency=4) as worker:
        for h in handles:
            h.result(timeout=20)
        assert worker.processed == 20
    assert threads and "test-worker" not in threads


def test_stopping_releases_jobs_claimed_ahead_at_once(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim_ahead_surely(monkeypatch, patience=30.0)
    gate = threading.Event()

    @app.job
    def slow() -> None:
        gate.wait(30)

    with worker_thread(app, concurrency=2, prefetch=4, grace=10) as worker:
        warm_up(app)
        handles = app.enqueue_many([slow() for _ in range(6)])
        try:
            wait_for(lambda: len(worker.active) == 6, what="the worker to claim ahead")
            assert sum(h.state == "running" for h in handles) == 6  # leases held
            worker.stop()  # the rest go back at once, while the two running ones still run
            wait_for(lambda: sum(h.state == "queued" for h in handles) == 4,
                     what="the jobs claimed ahead to go back")
        finally:
            gate.set()
    states = sorted(h.state for h in handles)
    # the two running ones finished in their grace period; the rest went back at once
    assert states.count("completed") == 2 and states.count("queued") == 4, states


def test_jobs_claimed_ahead_keep_their_leases_while_they_wait(
    new_app: NewApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a standing clock (a lease ends only when the test moves it, not when a loaded
    machine makes a heartbeat late): the heartbeats renew the jobs waiting for the slot
    as they renew the running one, past the end of the leases they were claimed with."""
    claim_ahead_surely(monkeypatch, patience=30.0)
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=2, clock=clock)
    gate = threading.Event()

    @app.job
    def slow() -> None:
        gate.wait(30)

    def renewed_since_the_move(handle: JobHandle) -> bool:
        expires = app.get_job(handle.id).lease_expires_at  # type: ignore[union-attr]
        return expires is not None and expires > clock.now() + timedelta(seconds=1)

    with worker_thread(app, concurrency=1, prefetch=3) as worker:
        warm_up(app)
        handles = app.enqueue_many([slow() for _ in range(4)])
        try:
            wait_for(lambda: len(worker.active) == 4, what="the worker to claim ahead")
            for _ in range(2):  # 3 s in all: past the lease of the claim
                clock.advance(seconds=1.5)
                wait_for(lambda: all(renewed_since_the_move(h) for h in handles),
                         what="the heartbeats to renew every lease")
            assert app.store.rescue() == 0
        finally:
            gate.set()
        for h in handles:
            h.result(timeout=30)
    for h in handles:
        record = app.get_job(h.id)
        assert record is not None and record.attempts == 1
