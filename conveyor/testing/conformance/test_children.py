"""Durable child runs (io.run_job / io.run_jobs) and cascading cancel, on every store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, JobRecord
from conveyor.testing.conformance.helpers import drain, wait_for, worker_thread


@pytest.fixture
def kids(app: Conveyor) -> Conveyor:
    app.calls = []  # type: ignore[attr-defined]

    @app.job
    def square(x: int) -> int:
        app.calls.append(x)  # type: ignore[attr-defined]
        return x * x

    @app.job
    def broken(x: int) -> None:
        raise RuntimeError(f"broken {x}")

    @app.job
    async def fan(n: int, io: Any) -> Any:
        squares = await io.run_jobs("squares", [square(i) for i in range(n)])
        await io.logger.info("squared")  # one more step after the children
        one = await io.run_job("one", square(n))
        return [squares, one]

    @app.job
    async def failing(io: Any) -> Any:
        caught = await io.try_(lambda: io.run_jobs("bad", [square(1), broken(2)]),
                               lambda exc: {"caught": str(exc), "job": exc.job_id})
        try:
            await io.run_job("again", broken(3))
        except JobFailed as exc:
            return [caught, exc.state, exc.error["message"]]
        return None

    return app


def test_children_results_come_back_in_order(kids: Conveyor) -> None:
    run = kids.jobs.fan(5).run_now()
    drain(kids)
    assert run.result(timeout=10) == [[0, 1, 4, 9, 16], 25]
    record = kids.get_job(run.id)
    assert record is not None and len(record.children) == 6
    child = kids.get_job(record.children[0])
    assert child is not None and child.parent_id == run.id and child.job == "square"
    assert [r.id for r in kids.jobs_list(parent=run.id, newest_first=False)] == record.children
    assert kids.count(parent=run) == 6


def test_replays_never_start_a_child_twice(kids: Conveyor) -> None:
    run = kids.jobs.fan(4).run_now()
    drain(kids)
    assert run.result(timeout=10) == [[0, 1, 4, 9], 16]
    assert sorted(kids.calls) == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]
    steps = [s for s in kids.steps(run.id) if s.kind == "children"]
    assert [(s.key, s.state) for s in steps] == [("squares", "completed"), ("one", "completed")]


def test_storing_children_again_after_a_crash_adds_none(kids: Conveyor) -> None:
    """The crash point between storing the children and recording the step: the replay
    stores them again, and the (run, step, index) key keeps one of each."""
    run = kids.jobs.fan(3).run_now()
    (claimed,) = kids.store.claim("w", None, 1, 30.0)
    rows = [kids.triggering.new_job(kids.jobs.square(i), None, 0.0, {}) for i in range(3)]
    for i, row in enumerate(rows):
        row.parent_id, row.parent_seq, row.child_index = run.id, 1, i
    assert kids.store.start_children(run.id, claimed.token, 1, rows)
    assert kids.store.start_children(run.id, claimed.token, 1, rows)  # the replay
    assert kids.count(parent=run.id) == 3
    assert not kids.store.start_children(run.id, claimed.token + 1, 1, rows)  # fenced


def test_failed_child_raises_job_failed_in_the_parent(kids: Conveyor) -> None:
    run = kids.jobs.failing().run_now()
    drain(kids)
    caught, state, message = run.result(timeout=10)
    assert "broken 2" in caught["caught"] and caught["job"] > run.id
    assert (state, message) == ("failed", "broken 3")


def test_waiting_parent_holds_no_worker_slot(kids: Conveyor) -> None:
    run = kids.jobs.fan(3).run_now()
    drain(kids, concurrency=1)  # the children need the only slot
    assert run.result(timeout=10) == [[0, 1, 4], 9]


def test_parent_waits_and_wakes_when_the_last_child_finishes(kids: Conveyor) -> None:
    @kids.job
    async def slow_parent(io: Any) -> Any:
        return await io.run_jobs("k", [kids.jobs.square(2), kids.jobs.square(3)])

    run = slow_parent().run_now()
    (claimed,) = kids.store.claim("w", None, 1, 30.0)
    assert claimed.id == run.id
    kids.store.release({run.id: claimed.token})
    with worker_thread(kids, concurrency=2):
        assert run.result(timeout=10) == [4, 9]


def waiting_parent(app: Conveyor, n: int) -> JobRecord:
    """A durable run waiting on n children that nobody runs (their queue is not served)."""

    @app.job(queue="later")
    def held(x: int) -> int:
        return x

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("k", [held(i) for i in range(n)])

    run = parent().run_now()
    drain(app, queues=["default"])  # the parent stores its children and waits
    record = app.get_job(run.id)
    assert record is not None and record.state == "waiting" and len(record.children) == n
    return record


def test_cascading_cancel_stops_children_and_dependents(kids: Conveyor) -> None:
    record = waiting_parent(kids, 2)
    other = kids.jobs.square(1).run_now(queue="later")
    after = kids.jobs.square(9).run_now(depends_on=[record.children[0]])
    assert kids.cancel(record.id, cascade=True)
    states = [kids.get_job(i).state for i in [record.id, *record.children, after.id]]  # type: ignore[union-attr]
    assert states == ["cancelled"] * 4
    assert other.state == "queued"
    assert not kids.cancel(record.id, cascade=True)  # nothing left to cancel
    with pytest.raises(JobFailed):
        JobHandle(kids, record.id).result(timeout=5)


def test_cancel_without_cascade_leaves_children(kids: Conveyor) -> None:
    record = waiting_parent(kids, 1)
    assert kids.cancel(record.id)
    assert kids.get_job(record.children[0]).state == "queued"  # type: ignore[union-attr]


def test_cascading_cancel_stops_running_async_children_cooperatively(kids: Conveyor) -> None:
    started: list[int] = []
    stopped: list[int] = []

    @kids.job
    async def sleeper(x: int) -> None:
        started.append(x)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.append(x)
            raise

    @kids.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("k", [sleeper(1), sleeper(2)])

    run = parent().run_now()
    with worker_thread(kids, concurrency=3):
        wait_for(lambda: len(started) == 2, timeout=10, what="both children to start")
        assert kids.cancel(run.id, cascade=True)
        wait_for(lambda: sorted(stopped) == [1, 2], timeout=10,
                 what="the running children to be cancelled")
    children = kids.get_job(run.id).children  # type: ignore[union-attr]
    assert {kids.get_job(c).state for c in children} == {"cancelled"}  # type: ignore[union-attr]


def test_cancelling_a_child_wakes_a_quiet_workers_parent_at_once(app: Conveyor) -> None:
    import time

    woke: list[float] = []

    @app.job
    def child() -> None: ...

    @app.job(queue="parents")
    async def parent(io: Any) -> None:
        try:
            await io.run_job("c", child())
        except JobFailed:
            woke.append(time.monotonic())

    # Serves only the parents (the child waits) and reads the due time every 5 s.
    with worker_thread(app, poll_interval=1.0, queues=["parents"]) as worker:
        wait_for(lambda: worker.watching, what="the change watcher")
        run = parent().run_now()

        def waiting() -> bool:
            record = app.get_job(run.id)
            return record is not None and record.state == "waiting" and bool(record.children)

        wait_for(waiting, what="the parent to wait for its child")
        time.sleep(0.3)  # the worker settles into its idle wait
        record = app.get_job(run.id)
        assert record is not None
        cancelled = time.monotonic()
        assert app.cancel(record.children[0])
        wait_for(lambda: bool(woke), timeout=10, what="the parent to wake")
    assert woke[0] - cancelled < 3.0  # woken, not found by the next 5 s read

