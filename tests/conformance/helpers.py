"""Helpers for the conformance suite (every test here runs on every store via ``app``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from conveyor import Conveyor
from conveyor.worker import Worker
from tests.support import wait_for

__all__ = ["drain", "wait_for", "worker_thread"]


def drain(app: Conveyor, **options: Any) -> None:
    """Run a burst worker until nothing is due and nothing is running."""
    app.run_worker(burst=True, **options)


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
