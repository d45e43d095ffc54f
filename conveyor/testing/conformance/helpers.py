"""Helpers for the conformance suite (every test here runs on every store via ``app``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

import pytest

from conveyor import Conveyor, JobHandle
from conveyor.stores.base import NewJob, Outcome
from conveyor.worker import Worker

__all__ = ["ManualClock", "NewApp", "before_storing", "drain", "rescued_while_running",
           "wait_for", "worker_thread"]


class NewApp(Protocol):
    """The ``new_app`` fixture: ``new_app(**options)`` opens an app (with those Conveyor
    options) on a new, empty store of the kind under test; the fixture closes it."""

    def __call__(self, **options: Any) -> Conveyor: ...


class ManualClock:
    """A clock (``Conveyor(clock=...)``) that moves only when the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    details: Callable[[], str] | None = None,
    interval: float = 0.005,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (or fail after ``timeout``,
    adding ``details()`` to the message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout} s waiting for {what}"
            pytest.fail(f"{message}\n{details()}" if details else message)
        time.sleep(interval)


def drain(app: Conveyor, **options: Any) -> None:
    """Run a burst worker until nothing is due and nothing is running."""
    app.run_worker(burst=True, **options)


def run_failing(app: Conveyor, error: Exception) -> JobHandle:
    """Register job ``broken``, which raises ``error``, and run it once to its end."""

    @app.job
    def broken() -> None:
        raise error

    handle = broken().run_now()
    drain(app)
    return handle


@contextmanager
def worker_thread(app: Conveyor, **options: Any) -> Iterator[Worker]:
    """A (non-burst unless asked) worker running in a background thread; stopped on exit."""
    options.setdefault("poll_interval", 0.05)
    options.setdefault("maintenance_interval", 0.05)
    worker = Worker(app, **options)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run_blocking()
        except BaseException as exc:  # surfaced by the test below
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(15)
        assert not thread.is_alive(), "worker did not stop"
        if errors:
            raise errors[0]


def before_storing(app: Conveyor, monkeypatch: pytest.MonkeyPatch,
                   look: Callable[[Sequence[Outcome]], None]) -> None:
    """Call ``look(outcomes)`` before the store records outcomes, whichever way the worker
    stores them (alone, or with its next claim); ``look`` may raise to refuse them."""
    store_class = type(app.store)
    complete, complete_and_claim = store_class.complete, store_class.complete_and_claim

    def completing(store: Any, outcomes: Sequence[Outcome]) -> int:
        look(outcomes)
        return complete(store, outcomes)

    def completing_and_claiming(store: Any, outcomes: Sequence[Outcome], *claim: Any) -> Any:
        look(outcomes)
        return complete_and_claim(store, outcomes, *claim)

    monkeypatch.setattr(store_class, "complete", completing)
    monkeypatch.setattr(store_class, "complete_and_claim", completing_and_claiming)


def rescued_while_running(app: Conveyor, *handles: JobHandle, timeout: float = 30) -> int:
    """Run a worker until ``handles`` finish while rescuing expired leases all along (what
    any other worker's maintenance does); returns how many jobs were rescued."""
    rescued = 0
    with worker_thread(app):
        deadline = time.monotonic() + timeout
        while not all(getattr(h.record(), "finished", False) for h in handles):
            rescued += app.store.rescue()
            assert time.monotonic() < deadline, "the jobs did not finish in time"
            time.sleep(0.05)
    return rescued


def insert_job(app: Conveyor, job: str = "task", **fields: Any) -> int:
    """Store a job through the Store protocol alone (no definition needed); its id."""
    return app.store.insert([NewJob(job=job, **fields)])[0]


def claim_and_expire(app: Conveyor, worker: str = "dead-worker") -> Any:
    """Claim the due job as a worker that then stops heartbeating; wait out its lease."""
    (claimed,) = app.store.claim(worker, None, 1, 0.05)
    time.sleep(0.1)
    return claimed
