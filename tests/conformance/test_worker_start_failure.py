"""A worker whose start fails (the store refuses it) raises, and leaves no thread of its
own behind (every store): a process that retries the start must not gain two idle
threads per try."""

from __future__ import annotations

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
