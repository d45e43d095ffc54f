"""A job a worker claimed ahead of its slots is never stuck behind that worker's slow
runs while another worker could run it (on every store)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreUnavailable
from conveyor.worker.ahead import ClaimedAhead
from conveyor.worker.loop import Worker
from tests.conformance.helpers import claim_ahead_surely, wait_for, worker_thread


def test_a_job_claimed_ahead_behind_slow_runs_goes_back_to_another_worker(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    claim_ahead_surely(monkeypatch)
    gate = threading.Event()
    started: list[int] = []

    @app.job
    def quick() -> None: ...

    @app.job
    def slow(n: int) -> int:
        started.append(n)
        gate.wait(20)
        return n

    with worker_thread(app, concurrency=2, prefetch=4) as first:
        for h in [quick().run_now() for _ in range(5)]:  # quick jobs: it claims ahead
            h.result(timeout=20)
        handles = app.enqueue_many(slow(n) for n in range(3))
        wait_for(lambda: len(first.active) == 3, what="the first worker to claim all three")
        assert len(started) <= 2  # two slots: the third waits for one
        try:
            with worker_thread(app, concurrency=2):
                # The third goes back to the queue and the second worker runs it while
                # the first two still hold their slots.
                wait_for(lambda: len(started) == 3, 10, "the third job to start")
                gate.set()
                assert sorted(h.result(timeout=20) for h in handles) == [0, 1, 2]
        finally:
            gate.set()
    assert [app.get_job(h.id).attempts for h in handles] == [1, 1, 1]  # type: ignore[union-attr]


def test_sync_jobs_started_together_never_queue_for_one_idle_thread(app: Conveyor) -> None:
    gate = threading.Event()
    started: list[int] = []

    @app.job
    def quick() -> None: ...

    @app.job
    def blocked(n: int) -> int:
        started.append(n)
        gate.wait(20)
        return n

    with worker_thread(app, concurrency=4, prefetch=0) as worker:
        for h in [quick().run_now() for _ in range(3)]:  # leaves idle job threads
            h.result(timeout=20)
        try:
            for _ in range(3):
                started.clear()
                handles = app.enqueue_many(blocked(n) for n in range(4))
                # Four slots, four jobs: all run at once, none waits behind another.
                wait_for(lambda: len(started) == 4, 10, "four jobs running at once")
                gate.set()
                assert sorted(h.result(timeout=20) for h in handles) == [0, 1, 2, 3]
                wait_for(lambda: not worker.active, 10, "the slots to free")
                gate.clear()
        finally:
            gate.set()


def _grown(worker: Worker) -> None:
    """The claim size a run of quick jobs grows to (Sizing.took), without timing them;
    once the worker's first claim (short: back to the least) is made."""
    wait_for(lambda: hasattr(worker, "exchange") and not worker.maybe_work, 10,
             "the worker's first claim")
    sizing = worker.sizing
    assert sizing.adaptive and sizing.most > sizing.least
    sizing.turnaround = 0.001
    sizing.reach(sizing.most)
    # Kept there: an idle worker's next claim comes back short (nothing queued yet) and
    # jobs may start late on a loaded machine; either would shrink it back (tested in
    # tests/unit/test_claim_sizing.py), before the test's jobs are even stored.
    sizing.took = lambda full: None  # type: ignore[method-assign]
    sizing.started = lambda jobs: None  # type: ignore[method-assign]


def _hold_full(app: Conveyor, worker: Worker, call: Callable[[int], Any]) -> list[Any]:
    """Grow the worker's claims (``_grown``), store ``call(n)`` for as many jobs as it
    has slots (two) and holds ahead at most, and wait until it holds them all."""
    _grown(worker)
    held = 2 + worker.sizing.most  # two slots, and the most held ahead
    handles = app.enqueue_many(call(n) for n in range(held))
    wait_for(lambda: len(worker.active) == held, 10, "the worker to hold them all")
    return handles


def test_jobs_held_ahead_at_the_grown_claim_size_go_back_at_once_on_stop(
    new_app: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app: Conveyor = new_app(lease=30.0)  # (not back by expiring within the grace period)
    claim_ahead_surely(monkeypatch, patience=60.0)
    gate = threading.Event()

    @app.job
    def blocked() -> None:
        gate.wait(20)

    try:
        with worker_thread(app, concurrency=2, grace=10) as worker:
            handles = _hold_full(app, worker, lambda _: blocked())
            held = len(handles)
            assert sum(h.state == "running" for h in handles) == held  # leases held
            worker.stop()
            # Back in the queue for other workers while the two running ones still have
            # their grace period (not renewed, they would wait for their leases to end)
            wait_for(lambda: sum(h.state == "queued" for h in handles) == held - 2, 10,
                     "the unstarted jobs back in the queue")
            assert sum(h.state == "running" for h in handles) == 2
            gate.set()  # the two running finish in their grace period
    finally:
        gate.set()
    states = sorted(h.state for h in handles)
    assert states.count("completed") == 2 and states.count("queued") == held - 2, states
    assert all(app.get_job(h.id).attempts <= 1 for h in handles)  # type: ignore[union-attr]


def test_a_job_held_ahead_whose_lease_is_lost_is_dropped_unstarted(
    new_app: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app: Conveyor = new_app(lease=3.0)  # type: ignore[assignment]
    claim_ahead_surely(monkeypatch, patience=60.0)
    gate = threading.Event()
    ran: list[int] = []

    @app.job
    def blocked(n: int) -> int:
        ran.append(n)
        gate.wait(20)
        return n

    try:
        with worker_thread(app, concurrency=2) as worker:
            handles = _hold_full(app, worker, blocked)
            held = len(handles)
            last = handles[-1]
            assert app.cancel(last.id)  # its lease is taken as it waits for a slot
            wait_for(lambda: last.id not in worker.active, 10, "the heartbeat to drop it")
            gate.set()
            for h in handles[:-1]:
                h.result(timeout=20)
    finally:
        gate.set()
    assert held - 1 not in ran and last.state == "cancelled"


def test_a_job_held_ahead_never_starts_once_its_lease_may_have_ended(
    new_app: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
) -> None:
    app: Conveyor = new_app(lease=3.0)  # type: ignore[assignment]
    claim_ahead_surely(monkeypatch, patience=60.0)  # (not given back for being stale)
    heartbeat = type(app.store).heartbeat

    def failing(store: Any, *args: Any) -> Any:  # the store answers all but heartbeats
        if threading.current_thread().name.startswith("conveyor-heartbeat"):
            raise StoreUnavailable("heartbeats fail (test)")
        return heartbeat(store, *args)

    gate = threading.Event()
    runs: list[tuple[int, int]] = []

    @app.job
    def blocked(n: int, meta: Any) -> int:
        runs.append((n, meta.attempt))
        gate.wait(20)
        return n

    try:
        with worker_thread(app, concurrency=2) as worker:
            _grown(worker)
            held = 2 + worker.sizing.most
            monkeypatch.setattr(type(app.store), "heartbeat", failing)
            handles = app.enqueue_many(blocked(n) for n in range(held))
            wait_for(lambda: len(worker.active) == held, 10, "the worker to hold them all")
            wait_for(lambda: len(runs) == 2, 10, "two jobs to take the two slots")
            running = {n for n, _ in runs}
            # Unrenewed, every lease ends: maintenance (any worker's) rescues the jobs,
            # which other workers could be running now.
            wait_for(lambda: app.store.rescue() >= 0 and all(
                h.state == "queued" for h in handles), 30, "every lease to be rescued")
            gate.set()  # the slots free up: the jobs held ahead must not start
            assert sorted(h.result(timeout=20) for h in handles) == list(range(held))
    finally:
        gate.set()
    late = [(n, attempt) for n, attempt in runs if n not in running and attempt == 1]
    assert not late, f"held jobs started after their leases ended: {late}"


def test_a_job_found_too_late_then_dropped_is_never_told_to_observers(
    new_app: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lane thread moves held jobs past their start time to Slots.late; the loop takes
    them later. A lease lost in between drops the job unstarted, as one still waiting."""
    app: Conveyor = new_app(lease=30.0)
    claim_ahead_surely(monkeypatch, patience=60.0)
    gate = threading.Event()

    @app.job
    def blocked(n: int) -> int:
        gate.wait(20)
        return n

    def race(worker: Worker, told: list[Any]) -> int:
        """(On the worker's loop) what a lane thread then a lost lease's heartbeat do."""
        slots = worker.slots
        with slots.lock:
            for job in slots.ready:
                job.start_by = 0.0
            slots.head()  # (a lane thread freeing its slot) all too late now
            victim = slots.late[-1]
        worker.observers.finished_all = told.extend  # type: ignore[method-assign]
        worker.attempts.abandon(victim.id, None, "cancelled")
        return victim.id

    try:
        with worker_thread(app, concurrency=2) as worker:
            handles = _hold_full(app, worker, blocked)
            held = len(handles)
            told: list[Any] = []
            done: concurrent.futures.Future[int] = concurrent.futures.Future()
            worker.loop.call_soon_threadsafe(lambda: done.set_result(race(worker, told)))
            victim = done.result(timeout=20)
            assert not told, "observers heard of an attempt that never started"
            assert victim not in worker.lost
            assert app.cancel(victim)
            gate.set()
            assert sorted(h.result(timeout=30) for h in handles if h.id != victim) == [
                n for n in range(held) if handles[n].id != victim]
    finally:
        gate.set()


def test_jobs_found_too_late_are_released_at_stop_even_before_their_give_back(
    new_app: Callable[..., object], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Jobs found too late to start wait for the give-back task; the worker stopping
    before it ran released them only when their leases ended. It releases them itself."""
    app: Conveyor = new_app(lease=30.0)
    claim_ahead_surely(monkeypatch, patience=60.0)

    async def never_gives_back(self: ClaimedAhead) -> None:
        await asyncio.Event().wait()  # (the task has not run yet as the worker stops)

    monkeypatch.setattr(ClaimedAhead, "return_stale", never_gives_back)
    gate = threading.Event()

    @app.job
    def blocked(n: int) -> int:
        gate.wait(20)
        return n

    def all_late(worker: Worker) -> int:
        """(On the worker's loop) every held job is past its start time."""
        with worker.slots.lock:
            for job in worker.slots.ready:
                job.start_by = 0.0
            worker.slots.head()
        worker.attempts._dispatch()  # the loop takes them, for the give-back task
        return len(worker.ahead.late)

    try:
        with worker_thread(app, concurrency=2, grace=10) as worker:
            handles = _hold_full(app, worker, blocked)
            held = len(handles)
            done: concurrent.futures.Future[int] = concurrent.futures.Future()
            worker.loop.call_soon_threadsafe(lambda: done.set_result(all_late(worker)))
            assert done.result(timeout=20) == held - 2
            worker.stop()
            wait_for(lambda: sum(h.state == "queued" for h in handles) == held - 2, 10,
                     "the late jobs back in the queue")
            gate.set()
    finally:
        gate.set()
