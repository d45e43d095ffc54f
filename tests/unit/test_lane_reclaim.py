"""A job rescued while its attempt still runs on a lane thread and claimed again by the
same worker: the old attempt's end must not drop the new attempt's lease."""

from __future__ import annotations

import threading
import time
from typing import Any

from conveyor import Conveyor
from conveyor.testing.conformance.helpers import wait_for, worker_thread


def test_an_abandoned_lane_attempt_ending_leaves_the_new_attempt_held() -> None:
    app = Conveyor("memory://", lease=0.3)
    attempts: list[int] = []
    first, second = threading.Event(), threading.Event()

    @app.job
    def slow() -> str:
        attempts.append(len(attempts) + 1)
        (first if len(attempts) == 1 else second).wait(3)
        return "done"

    real = app.store.heartbeat
    stall = threading.Event()

    def heartbeat(worker_id: str, held: dict[int, int], lease: float) -> Any:
        if stall.is_set():  # the database is away: the lease runs out and is rescued
            return set()
        return real(worker_id, held, lease)

    app.store.heartbeat = heartbeat  # type: ignore[method-assign]
    try:
        with worker_thread(app, concurrency=2):
            handle = slow().run_now()
            wait_for(lambda: len(attempts) == 1, what="the first attempt")
            stall.set()
            wait_for(lambda: len(attempts) == 2, what="the rescued job's second attempt")
            stall.clear()
            first.set()  # the first attempt (abandoned) ends on its lane thread
            time.sleep(0.45)  # more than a lease: the second attempt must stay held
            second.set()
            assert handle.result(timeout=30) == "done"
            assert attempts == [1, 2], "the job ran again while its second attempt ran"
    finally:
        first.set()
        second.set()
        app.close()
