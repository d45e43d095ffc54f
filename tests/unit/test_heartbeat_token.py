"""A heartbeat that answers after the job it renewed was stored and claimed again (the
heartbeat has its own thread) must not abandon the new attempt."""

from __future__ import annotations

import threading
from typing import Any

from conveyor import Conveyor, RetryIn
from conveyor.testing.conformance.helpers import wait_for, worker_thread


def test_a_late_heartbeat_for_an_earlier_attempt_leaves_the_new_one_running() -> None:
    app = Conveyor("memory://", lease=0.9)
    attempts: list[int] = []
    second, held_up, answered = threading.Event(), threading.Event(), threading.Event()

    @app.job
    def twice() -> str:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            held_up.wait(30)  # until a heartbeat (every lease / 3) renews this attempt
            raise RetryIn(0)
        second.wait(30)
        return "done"

    real = app.store.heartbeat

    def late(worker_id: str, held: dict[int, int], lease: float) -> Any:
        if held and len(attempts) == 1 and not held_up.is_set():  # the first attempt's
            held_up.set()  # token: answer after the job was stored and claimed again
            (job_id,) = held
            wait_for(lambda: (entry := worker.active.get(job_id)) is not None
                     and entry[0].token != held[job_id], what="the second claim")
            lost = real(worker_id, held, lease)
            answered.set()
            return lost
        return real(worker_id, held, lease)

    app.store.heartbeat = late  # type: ignore[method-assign]
    try:
        # No upkeep: a heartbeat made late by a loaded machine must not get the job rescued.
        with worker_thread(app, concurrency=1, maintenance_interval=60) as worker:
            handle = twice().run_now()
            wait_for(lambda: len(attempts) == 2, what="the second attempt")
            assert answered.wait(30), "the late heartbeat never answered"
            second.set()
            assert handle.result(timeout=30) == "done"
        assert attempts == [1, 2]
    finally:
        app.close()
