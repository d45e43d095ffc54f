"""A worker whose start fails (the store refuses it) raises, and leaves no thread of its
own behind (every store): a process that retries the start must not gain two idle
threads per try."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreUnavailable
from tests.conformance.helpers import wait_for


def _threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate()
            if t.name.startswith(("conveyor-db", "conveyor-heartbeat"))}


def _refused(*args: Any) -> Any:
    raise StoreUnavailable("cannot reach the store: connection refused")


@pytest.mark.parametrize("failing", ["heartbeat store", "register_worker"])
def test_a_worker_that_cannot_start_leaves_no_thread(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    before = _threads()
    clone, cloned = app.store.clone, []

    def clone_or_refuse() -> Any:  # the heartbeats' store is the second clone
        if failing == "heartbeat store" and cloned:
            _refused()
        store = clone()
        if failing == "register_worker":
            monkeypatch.setattr(store, "register_worker", _refused)
        cloned.append(store)
        return store

    monkeypatch.setattr(app.store, "clone", clone_or_refuse)
    for _ in range(3):
        cloned.clear()
        with pytest.raises(StoreUnavailable, match="connection refused"):
            app.run_worker(burst=True)
    wait_for(lambda: not _threads() - before, 10, "the worker's threads to end")


def test_a_worker_cancelled_again_while_it_stops_leaves_no_thread(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled a second time as it unregisters (its task cancelled twice, say by an
    application shutting down), the worker still ends its database and heartbeat
    threads once their calls are made."""
    before = _threads()
    clone, unregistering, go = app.store.clone, threading.Event(), threading.Event()

    def slow_unregister(*args: Any) -> None:
        unregistering.set()
        go.wait(20)

    def clone_slow() -> Any:
        store = clone()
        monkeypatch.setattr(store, "unregister_worker", slow_unregister)
        return store

    monkeypatch.setattr(app.store, "clone", clone_slow)

    @app.job
    def ping() -> int:
        return 1

    handle = ping().run_now()

    async def main() -> None:
        task = asyncio.create_task(app.run_worker_async())
        while handle.state != "completed":  # started: it ran a job
            await asyncio.sleep(0.01)
        task.cancel()
        while not unregistering.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(asyncio.wait_for(main(), 20))
    finally:
        go.set()
    wait_for(lambda: not _threads() - before, 10, "the worker's threads to end")
