"""A job rescued from a dead worker is a failed attempt in the metrics: counted retried
when it runs again, failed when it is failed as a poison job (SPEC §4, §11); a slow
worker's attempt rescued as it ran is reported by the rescue alone."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from conveyor import Conveyor
from conveyor.observe import metrics
from conveyor.stores.base import LOST, POISON_RESCUES, JobFilter
from tests.conformance.helpers import ManualClock, NewApp, wait_for, worker_thread


def _sample(name: str, job: str) -> float:
    value = metrics.instruments().registry.get_sample_value(name, {"job": job})
    return value or 0.0


def test_rescued_jobs_count_as_retried_then_failed_as_poison(app: Conveyor) -> None:
    assert metrics.install(app)
    name = f"victim-{uuid.uuid4().hex[:8]}"

    @app.job(name)
    def victim() -> None: ...

    handle = victim().run_now()
    for death in range(POISON_RESCUES):
        [claimed] = app.store.claim(f"host:1:dead-{death}", None, 1, 0.05)  # it dies alone
        assert claimed.id == handle.id
        time.sleep(0.15)  # the lease expires
        app.maintain(app.store, True)
        retried = _sample("conveyor_attempts_retried_total", name)
        assert retried == min(death + 1, POISON_RESCUES - 1), death
    assert handle.state == "failed"
    assert _sample("conveyor_attempts_failed_total", name) == 1


def test_an_attempt_rescued_as_its_slow_worker_ran_is_reported_once(new_app: NewApp) -> None:
    """The worker's loop stalls past the lease; another worker's maintenance rescues the
    job (reported retrying) and the attempt then ends: the store refuses that outcome,
    and the worker reported it as completed all the same (a completed hook for a queued
    job, counted completed twice in all). Now it reports it as lost."""
    app = new_app(lease=0.3)
    assert metrics.install(app)
    name, seen = f"hog-{uuid.uuid4().hex[:8]}", []
    stalled, rescued = threading.Event(), threading.Event()
    for event in ("completed", "retrying"):
        app.on(event, lambda record, error=None, _e=event: seen.append((_e, record.state)))

    @app.job(name, retry=2)
    async def hog() -> str:
        if not stalled.is_set():
            stalled.set()
            # Blocks its worker's loop (no heartbeat renews the lease) until the rescue,
            # however slowly this test's thread runs: a heartbeat after the stall would
            # renew the lapsed lease before the rescue could take it.
            rescued.wait(30)
        return "done"

    handle: Any = hog().run_now()
    with worker_thread(app, maintenance_interval=60):
        assert stalled.wait(10)
        wait_for(lambda: app.store.count(JobFilter(states=[LOST])) == 1, what="the lapse")
        app.maintain(app.store, True)  # another worker's rescue
        rescued.set()
        assert handle.result(timeout=10) == "done"
        wait_for(lambda: ("completed", "completed") in seen, what="the completed hook")
        time.sleep(0.3)  # the stalled attempt's report, had it made one
    assert sorted(seen) == [("completed", "completed"), ("retrying", "queued")]  # (threads)
    assert _sample("conveyor_attempts_completed_total", name) == 1
    assert _sample("conveyor_attempts_retried_total", name) == 1


def _watched(new_app: NewApp) -> tuple[Conveyor, ManualClock, list[int], Any]:
    """An app on a standing clock (lease 2 s), the ids its retrying hook heard, a job."""
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=2, clock=clock)
    heard: list[int] = []
    app.on("retrying", lambda record, error=None: heard.append(record.id))

    @app.job(retry=2)
    def victim(n: int) -> None: ...

    return app, clock, heard, victim


def test_jobs_rescued_together_are_read_back_together(new_app: NewApp) -> None:
    """A pass that rescues many jobs reads them back for its observers in bulk (a few
    queries per thousand, app.get_jobs), not one get_job each; every one is reported."""
    app, clock, heard, victim = _watched(new_app)
    ids = [victim(n).run_now().id for n in range(25)]
    assert len(app.store.claim("host:1:dead", None, 25, 1.0)) == 25  # its worker dies
    clock.advance(seconds=5)  # every lease has expired
    reads: list[JobFilter] = []
    listing = app.store.list_jobs
    app.store.list_jobs = (  # type: ignore[method-assign]
        lambda flt, *rest: reads.append(flt) or listing(flt, *rest))
    try:
        app.maintain(app.store, True)
    finally:
        del app.store.list_jobs
    wait_for(lambda: len(heard) == 25, what="the retrying hooks")
    assert sorted(heard) == ids
    assert len(reads) == 2, reads  # the lost jobs before the rescue, the records after
    assert {r.state for r in app.get_jobs(ids)} == {"queued"}


def test_a_lease_ending_between_the_read_and_the_rescue_is_heard_of(new_app: NewApp) -> None:
    """A pass reads the lost jobs, then rescues: a lease that ended in between was
    rescued unheard (no retrying hook, not counted retried: a kill -9 test failed so
    under load). Only the jobs read are rescued; the next pass takes (and reports) it."""
    app, clock, heard, victim = _watched(new_app)
    first, second = victim(1).run_now().id, victim(2).run_now().id
    assert len(app.store.claim("host:1:dead", None, 1, 1.0)) == 1  # the first one
    clock.advance(seconds=0.5)
    assert len(app.store.claim("host:2:dead", None, 1, 1.0)) == 1  # the second one
    clock.advance(seconds=0.7)  # only the first lease has ended
    listing = app.store.list_jobs

    def read_then_lapse(flt: JobFilter, *rest: Any) -> Any:
        rows = listing(flt, *rest)
        clock.advance(seconds=1)  # the second lease ends before the rescue
        return rows

    app.store.list_jobs = read_then_lapse  # type: ignore[method-assign]
    try:
        app.maintain(app.store, True)
    finally:
        del app.store.list_jobs
    wait_for(lambda: heard == [first], what="the first retrying hook")
    assert app.get_jobs([second])[0].state == "running"  # left to the next pass
    app.maintain(app.store, True)
    wait_for(lambda: sorted(heard) == [first, second], what="the second retrying hook")
