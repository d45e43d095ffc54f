"""Running order: priorities, FIFO within a priority, queue routing and filters, concurrency
(SPEC §4)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from conveyor import Conveyor

from .helpers import drain


def test_higher_priority_runs_first_and_equal_priority_oldest_due_first(app: Conveyor) -> None:
    order: list[str] = []

    @app.job
    def record(name: str) -> None:
        order.append(name)

    now = datetime.now(UTC)
    record("normal-1").run_now()
    record("low").run_now(priority="low")
    record("critical").run_now(priority="critical")
    record("int-7").run_now(priority=7)
    record("normal-older").run_at(now - timedelta(seconds=30))
    record("medium").run_now(priority="medium")
    record("high").run_now(priority="high")
    record("int-minus-20").run_now(priority=-20)
    record("normal-2").run_now(priority="normal")
    record("int-0-oldest").run_at(now - timedelta(minutes=5), priority=0)
    drain(app, concurrency=1)
    assert order == [
        "critical", "high", "int-7", "medium", "int-0-oldest", "normal-older", "normal-1",
        "normal-2", "low", "int-minus-20",
    ]



def test_fifo_within_one_priority_over_many_jobs(app: Conveyor) -> None:
    order: list[int] = []

    @app.job
    def record(n: int) -> None:
        order.append(n)

    app.enqueue_many(record(i) for i in range(100))
    drain(app, concurrency=1)
    assert order == list(range(100))



def test_queue_routing_runs_only_the_workers_queues(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job(queue="emails")
    def email() -> None:
        ran.append("email")

    @app.job
    def other(name: str) -> None:
        ran.append(name)

    e = email().run_now()
    d = other("default").run_now()
    r = other("reports").run_now(queue="reports")
    drain(app, queues=["emails"])
    assert ran == ["email"]
    assert (e.state, d.state, r.state) == ("completed", "queued", "queued")
    drain(app, queues="reports,default")
    assert sorted(ran) == ["default", "email", "reports"]



def test_queue_filter_counts_and_lists(app: Conveyor) -> None:
    @app.job
    def j() -> None: ...

    j().run_now(queue="a")
    j().run_now(queue="b")
    j().run_now(queue="b")
    assert app.count(queue="b") == 2
    assert app.count(queue=["a", "b"]) == 3
    assert {r.queue for r in app.jobs_list(queue="a")} == {"a"}



def test_a_worker_runs_jobs_concurrently_up_to_its_concurrency(app: Conveyor) -> None:
    active, peak = [0], [0]
    lock, full = threading.Lock(), threading.Event()

    @app.job
    def busy() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if active[0] == 4:
                full.set()
        full.wait(5)  # the first four wait for each other: all four run at once
        with lock:
            active[0] -= 1

    app.enqueue_many(busy() for _ in range(12))
    drain(app, concurrency=4)
    assert full.is_set() and peak[0] == 4
    assert app.count(state="completed") == 12
