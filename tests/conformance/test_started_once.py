"""An attempt is told started once, when its function starts: a job claimed ahead of the
worker's slots and given back unstarted (it waited too long, or the worker stopped) is not
an attempt (on every store)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid

import pytest

from conveyor import Conveyor
from conveyor.observe import metrics
from tests.conformance.helpers import claim_ahead_surely, wait_for, warm_up, worker_thread


def _started_metric(job: str) -> float:
    value = metrics.instruments().registry.get_sample_value(
        "conveyor_attempts_started_total", {"job": job})
    return value or 0.0


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_job_given_back_unstarted_is_told_started_once(
    app: Conveyor, kind: str, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claim_ahead_surely(monkeypatch)
    name = f"held-{kind}-{uuid.uuid4().hex[:8]}"
    gate = threading.Event()
    ran: list[int] = []
    told: list[int] = []

    if kind == "sync":
        @app.job(name)
        def slow(n: int) -> int:
            ran.append(n)
            gate.wait(20)
            return n
    else:
        @app.job(name)
        async def slow(n: int) -> int:
            ran.append(n)
            while not gate.is_set():
                await asyncio.sleep(0.01)
            return n

    @app.on("started")
    def on_started(record: object) -> None:
        if getattr(record, "job", None) == name:
            told.append(record.id)  # type: ignore[attr-defined]

    caplog.set_level(logging.DEBUG, logger="conveyor.worker")
    with worker_thread(app, concurrency=1, prefetch=4) as worker:
        warm_up(app)
        try:
            handles = app.enqueue_many(slow(n) for n in range(3))
            wait_for(lambda: len(worker.active) == 3, what="the worker to claim all three")
            wait_for(lambda: any(r.getMessage().startswith("gave back")
                                 for r in caplog.records), 10,
                     "the jobs claimed ahead to be given back unstarted")
        finally:
            gate.set()
        assert sorted(h.result(timeout=20) for h in handles) == [0, 1, 2]
    # The worker has stopped: its hooks have run.
    assert sorted(ran) == [0, 1, 2]
    assert sorted(told) == sorted(h.id for h in handles)
    assert _started_metric(name) == 3
    for h in handles:
        record = app.get_job(h.id)
        assert record is not None
        assert (record.attempts, len(record.history)) == (1, 1)


def test_jobs_claimed_ahead_released_at_shutdown_were_never_told_started(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    claim_ahead_surely(monkeypatch, patience=30.0)
    name = f"left-{uuid.uuid4().hex[:8]}"
    gate = threading.Event()
    told: list[int] = []

    @app.job(name)
    def slow(n: int) -> int:
        gate.wait(20)
        return n

    @app.on("started")
    def on_started(record: object) -> None:
        if getattr(record, "job", None) == name:
            told.append(record.id)  # type: ignore[attr-defined]

    with worker_thread(app, concurrency=1, prefetch=4, grace=10) as worker:
        warm_up(app)
        handles = app.enqueue_many(slow(n) for n in range(3))
        try:
            wait_for(lambda: len(worker.active) == 3, what="the worker to claim all three")
            worker.stop()  # the running one ends in the grace period; the others go back
        finally:
            gate.set()
    assert len(told) == _started_metric(name) == app.count(job=name, state="completed")
    for h in handles:
        record = app.get_job(h.id)
        assert record is not None
        assert record.attempts == len(record.history) == (record.state == "completed")


def test_sync_jobs_a_lane_thread_takes_run_in_their_own_attempt_span(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    claim_ahead_surely(monkeypatch, patience=30.0)
    from opentelemetry import trace

    from tests.support import memory_spans

    name = f"traced-{uuid.uuid4().hex[:8]}"
    gate = threading.Event()

    @app.job(name)
    def step(n: int) -> int:
        with trace.get_tracer("test").start_as_current_span(f"inner {n}"):
            gate.wait(20)
        return n

    with memory_spans() as exporter, worker_thread(app, concurrency=1, prefetch=4) as worker:
        warm_up(app)
        handles = app.enqueue_many(step(n) for n in range(4))
        try:  # one runs, the others wait for its slot: a lane thread takes each in turn
            wait_for(lambda: len(worker.active) == 4, what="jobs claimed ahead")
        finally:
            gate.set()
        assert sorted(h.result(timeout=20) for h in handles) == [0, 1, 2, 3]
        wait_for(lambda: sum(s.name == f"conveyor.run {name}"
                             for s in exporter.get_finished_spans()) == 4, what="4 spans")
        spans = exporter.get_finished_spans()
    runs = {s.attributes["conveyor.run_id"]: s for s in spans
            if s.name == f"conveyor.run {name}"}
    assert sorted(runs) == sorted(h.id for h in handles)
    for n, h in enumerate(handles):
        (inner,) = [s for s in spans if s.name == f"inner {n}"]
        assert inner.parent.span_id == runs[h.id].context.span_id
