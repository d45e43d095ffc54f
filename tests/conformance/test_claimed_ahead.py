"""A job a worker claimed ahead of its slots is never stuck behind that worker's slow
runs while another worker could run it (on every store)."""

from __future__ import annotations

import threading

import pytest

from conveyor import Conveyor
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
