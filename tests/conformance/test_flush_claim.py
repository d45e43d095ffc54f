"""The worker's outcomes-and-claim exchange (every store): what a claim made with the
outcomes does when the worker stops or is held back meanwhile."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.stores.base import Outcome
from conveyor.worker import Worker
from tests.conformance.helpers import wait_for, worker_thread


def test_jobs_claimed_with_outcomes_as_the_worker_stops_are_released_not_run(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs: list[str] = []
    go = threading.Event()

    @app.job
    def job(name: str) -> None:
        runs.append(name)
        if name == "first":
            go.wait(10)

    worker: list[Worker] = []
    store_class = type(app.store)
    real = store_class.complete_and_claim

    def stopping_meanwhile(store: Any, outcomes: Sequence[Outcome], *claim: Any) -> Any:
        if outcomes and claim[2] and threading.current_thread().name.startswith("conveyor-db"):
            worker[0].stop()  # the worker stops while this exchange is in flight
            time.sleep(0.3)  # the shutdown has begun
        return real(store, outcomes, *claim)

    monkeypatch.setattr(store_class, "complete_and_claim", stopping_meanwhile)
    first = job("first").run_now()
    with worker_thread(app, concurrency=1, grace=5) as running:
        worker.append(running)
        wait_for(lambda: runs == ["first"], what="the first job to start")
        later = [job(f"later {i}").run_now() for i in range(3)]
        go.set()
        wait_for(lambda: running.stopping, what="the exchange")
    assert first.state == "completed"
    assert runs == ["first"]  # jobs the exchange claimed never started
    states = {(h.state, h.record().attempts) for h in later}  # type: ignore[union-attr]
    assert states == {("queued", 0)}  # released to other workers at once
