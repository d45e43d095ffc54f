"""A burst worker that gives a job back unstarted (claimed, then found too late to start:
a loaded machine stalled it past its start window) runs it before it returns: it looked
for due work while the job was on its way back to the queue, found none and returned."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob
from conveyor.worker.attempts import Attempts
from conveyor.worker.loop import Worker
from conveyor.worker.storecalls import StoreCalls
from tests.conformance.helpers import drain


def test_a_burst_worker_runs_the_job_it_gave_back_too_late_to_start(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold, release, next_due = Attempts.hold, StoreCalls.release, type(app.store).next_due
    burst_done = Worker._burst_done
    stalled: list[float] = []
    # The worker looked for due work once the job was given back (or chose not to look).
    looked = threading.Event()

    def stalled_once(self: Attempts, jobs: list[ClaimedJob], start_by: float) -> Any:
        if not stalled:  # the first claim: its start window ended before a slot took it
            stalled.append(start_by)
            start_by = 0.0
        return hold(self, jobs, start_by)

    async def slowly(self: StoreCalls, *args: Any) -> Any:  # the release lags behind
        deadline = time.monotonic() + 10  # that look (as on a loaded machine)
        while stalled and not looked.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return await release(self, *args)

    def looking(store: Any, *args: Any) -> Any:
        if stalled:
            looked.set()
        return next_due(store, *args)

    async def deciding(self: Worker) -> bool:
        done = await burst_done(self)
        if stalled and not done:
            looked.set()
        return done

    monkeypatch.setattr(Attempts, "hold", stalled_once)
    monkeypatch.setattr(StoreCalls, "release", slowly)
    monkeypatch.setattr(type(app.store), "next_due", looking)
    monkeypatch.setattr(Worker, "_burst_done", deciding)
    ran: list[int] = []

    @app.job
    def task(n: int) -> None:
        ran.append(n)

    handle = task(1).run_now()
    drain(app)
    assert stalled and ran == [1]  # it returned after the job ran, not with it queued
    assert handle.state == "completed"
