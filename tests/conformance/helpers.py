"""Helpers for the conformance suite (every test here runs on every store via ``app``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.worker import Worker


def drain(app: Conveyor, **options: Any) -> None:
    """Run a burst worker until nothing is due and nothing is running."""
    app.run_worker(burst=True, **options)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


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
