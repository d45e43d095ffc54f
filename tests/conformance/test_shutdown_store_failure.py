"""A store failing as a worker stops (every store): outcomes and the release of unfinished
jobs are retried for up to the grace period; outcomes still not stored are never reported
as stored, and are named in one log line (their jobs stay running until their leases
expire, then run again), as are jobs that could not be released."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreUnavailable
from conveyor.stores.base import ClaimedJob, Outcome
from conveyor.worker import Worker
from tests.conformance.helpers import before_storing, wait_for, worker_thread


class Told:
    """An inline observer: what the worker reported of each attempt."""

    def __init__(self) -> None:
        self.finished: list[tuple[int, str | None]] = []

    def started_now(self, job: ClaimedJob) -> None: ...

    def finished_now(self, job: ClaimedJob, outcome: Outcome | None,
                     error: BaseException | None) -> None:
        self.finished.append((job.id, outcome.state if outcome else None))


def _stop_as_it_finishes(app: Conveyor, monkeypatch: pytest.MonkeyPatch, failures: int,
                         grace: float, stop_on_store: bool) -> tuple[int, Told, list[int]]:
    """Run one job whose outcome is stored while the worker stops: the worker is stopped
    while the job runs, or (``stop_on_store``) as the store is first asked to store it.
    The store refuses the first ``failures`` tries (as a lost connection). Returns the
    job's id, the observer, and the size of each refused batch."""
    started, go = threading.Event(), threading.Event()

    @app.job
    def slow() -> str:
        started.set()
        go.wait(30)
        return "done"

    told = Told()
    app.observers.append(told)
    running: list[Worker] = []
    refused: list[int] = []

    def blip(outcomes: Sequence[Outcome]) -> None:
        if not outcomes:  # a claim alone (SQLite claims through complete_and_claim)
            return
        if stop_on_store:
            running[0].stop()
        if running[0].stopping and len(refused) < failures:
            refused.append(len(outcomes))
            raise StoreUnavailable("cannot reach the store: connection refused")

    before_storing(app, monkeypatch, blip)
    handle = slow().run_now()
    with worker_thread(app, grace=grace) as worker:
        running.append(worker)
        assert started.wait(10), "the job did not start"
        if not stop_on_store:
            worker.stop()
        go.set()
        wait_for(lambda: worker.stopping, what="the worker to stop")
    return handle.id, told, refused


def test_a_store_blip_as_the_worker_stops_is_retried_and_the_outcome_stored(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id, told, refused = _stop_as_it_finishes(app, monkeypatch, failures=3, grace=20,
                                                 stop_on_store=False)
    assert refused == [1, 1, 1]
    record = app.get_job(job_id)
    assert record is not None and record.state == "completed" and record.result == "done"
    assert told.finished == [(job_id, "completed")]


def test_outcomes_the_store_never_took_are_not_reported_as_stored(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="conveyor"):
        job_id, told, refused = _stop_as_it_finishes(app, monkeypatch, failures=10**6,
                                                     grace=0.5, stop_on_store=True)
    assert len(refused) >= 2  # retried before giving up
    record = app.get_job(job_id)
    assert record is not None and record.state == "running"  # until its lease expires
    assert told.finished == [(job_id, None)]  # not stored: told as a lost attempt
    gave_up = [r for r in caplog.records if "gave up storing outcomes" in r.getMessage()]
    assert len(gave_up) == 1 and gave_up[0].levelno == logging.ERROR
    assert gave_up[0].getMessage().endswith(f"then run again: {job_id}")
    assert not any("completed in" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("failures", [2, 10**6])
def test_releasing_jobs_as_the_worker_stops_outlasts_a_blip_or_says_it_could_not(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    failures: int,
) -> None:
    started, go = threading.Event(), threading.Event()

    @app.job
    def stuck() -> None:
        started.set()
        go.wait(30)

    store_class = type(app.store)
    release, refused = store_class.release, []

    def flaky(store: object, held: dict[int, int]) -> int:
        if len(refused) < failures:
            refused.append(1)
            raise StoreUnavailable("cannot reach the store: connection refused")
        return release(store, held)  # type: ignore[arg-type]

    monkeypatch.setattr(store_class, "release", flaky)
    handle = stuck().run_now()
    try:
        with (caplog.at_level(logging.INFO, logger="conveyor"),
              worker_thread(app, grace=0.5) as worker):
            assert started.wait(10), "the job did not start"
            worker.stop()  # the job outlasts the grace period: released
    finally:
        go.set()
    messages = [r.getMessage() for r in caplog.records]
    if failures == 2:
        assert handle.state == "queued" and "released 1 unfinished job to other workers" in (
            messages)
    else:
        assert handle.state == "running" and len(refused) >= 2  # until its lease expires
        assert any(m.startswith("could not release 1 unfinished job") for m in messages)
