"""A job rescued while its attempt still runs on a lane thread and claimed again by the
same worker: the old attempt's end must not drop the new attempt's lease."""

from __future__ import annotations

import threading
from typing import Any

from conveyor import Conveyor
from conveyor.stores.base import LOST, JobFilter
from conveyor.testing.conformance.helpers import wait_for, worker_thread


def test_an_abandoned_lane_attempt_ending_leaves_the_new_attempt_held() -> None:
    app = Conveyor("memory://", lease=0.3)
    attempts: list[int] = []
    first, second, first_ended = threading.Event(), threading.Event(), threading.Event()

    @app.job
    def slow() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            first.wait(30)
            first_ended.set()
        else:
            second.wait(30)
        return "done"

    real = app.store.heartbeat
    stall = threading.Event()
    held_after_the_end: list[dict[int, int]] = []

    def heartbeat(worker_id: str, held: dict[int, int], lease: float) -> Any:
        if stall.is_set():  # the database is away: the lease runs out and is rescued
            return set()
        if first_ended.is_set():
            held_after_the_end.append(dict(held))
        return real(worker_id, held, lease)

    app.store.heartbeat = heartbeat  # type: ignore[method-assign]
    # No upkeep of its own: the test rescues the job once, and a heartbeat made late by a
    # loaded machine cannot get the second attempt rescued as well.
    try:
        with worker_thread(app, concurrency=2, maintenance_interval=60) as worker:
            handle = slow().run_now()
            wait_for(lambda: len(attempts) == 1, what="the first attempt")
            stall.set()
            wait_for(lambda: app.store.count(JobFilter(states=[LOST])) == 1, what="the lapse")
            app.maintain(app.store, True)  # another worker's rescue
            wait_for(lambda: len(attempts) == 2, what="the rescued job's second attempt")
            token = worker.active[handle.id][0].token
            stall.clear()
            first.set()  # the first attempt (abandoned) ends on its lane thread
            # Three heartbeats after it ended: the second attempt's lease is still renewed.
            wait_for(lambda: len(held_after_the_end) >= 3, what="heartbeats after the end")
            assert all(held.get(handle.id) == token for held in held_after_the_end[1:])
            second.set()
            assert handle.result(timeout=30) == "done"
            assert attempts == [1, 2], "the job ran again while its second attempt ran"
    finally:
        first.set()
        second.set()
        app.close()
