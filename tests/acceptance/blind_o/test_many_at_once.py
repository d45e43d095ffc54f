"""§1/§6 several apps on one store at once: opening concurrently migrates once, racing
workers run each job and each schedule occurrence exactly once; a closed app says so."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle

from .conftest import START

GENEROUS = 60.0


def _in_threads(count: int, target: Callable[[int], None]) -> None:
    """Run ``target(i)`` in ``count`` threads started together; re-raise the first error."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            barrier.wait(GENEROUS)
            target(i)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GENEROUS)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def test_apps_opened_at_once_on_a_fresh_store_all_work(url: str) -> None:
    apps: dict[int, Conveyor] = {}

    def open_and_trigger(i: int) -> None:
        apps[i] = Conveyor(url)

        @apps[i].job("hello")
        def hello(n):  # type: ignore[no-untyped-def]
            return n

        hello(i).run_now()

    try:
        _in_threads(4, open_and_trigger)
        assert apps[0].count(job="hello") == 4
    finally:
        for app in apps.values():
            app.close()


@pytest.fixture
def racing(open_app) -> Iterator[list[tuple[Conveyor, FakeClock]]]:  # type: ignore[no-untyped-def]
    """Three apps on one store, each with its FakeClock at ``START``."""
    apps = [open_app() for _ in range(3)]
    clocks = [FakeClock(app, start=START) for app in apps]
    yield list(zip(apps, clocks, strict=True))
    for clock in clocks:
        clock.stop()


def test_racing_workers_run_each_job_once(racing: list[tuple[Conveyor, FakeClock]]) -> None:
    ran: Counter[int] = Counter()
    lock = threading.Lock()
    for app, _ in racing:

        @app.job("count")
        def count(n):  # type: ignore[no-untyped-def]
            with lock:
                ran[n] += 1
            return n

    handles = [racing[0][0].jobs["count"](n).run_now() for n in range(40)]
    _in_threads(3, lambda i: run_until_idle(racing[i][0]))
    assert ran == Counter(range(40))
    assert [h.result(timeout=5) for h in handles] == list(range(40))


def test_racing_workers_fire_each_schedule_occurrence_once(
    racing: list[tuple[Conveyor, FakeClock]],
) -> None:
    fired: list[str] = []
    lock = threading.Lock()
    for app, _ in racing:

        @app.job("tick", trigger=app.every("10 minutes"))
        def tick(meta):  # type: ignore[no-untyped-def]
            with lock:
                fired.append(meta.job.run_at.isoformat())

        run_until_idle(app)
    for step in range(1, 4):
        for _, clock in racing:
            clock.move_to(START + timedelta(minutes=10 * step))
        _in_threads(3, lambda i: run_until_idle(racing[i][0]))
    assert len(fired) == len(set(fired)) == 3
    assert len(racing[0][0].jobs_list(job="tick", state="scheduled")) == 1
