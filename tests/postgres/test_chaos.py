"""Chaos with real worker processes on PostgreSQL: connections terminated under load,
and a frozen (SIGSTOP) worker whose lease expired cannot change a rescued job."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import pytest

from tests.postgres.helpers import start_worker, stop_workers, terminate_sessions
from tests.postgres.workerapp import make_app
from tests.support import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def retrying(action: Any) -> Any:
    """The test's own calls may meet a terminated pooled connection once."""
    for attempt in range(5):
        try:
            return action()
        except Exception:
            if attempt == 4:
                raise
            time.sleep(0.2)
    return None


def test_workers_resume_within_seconds_after_connections_are_terminated_under_load(
    pg_url: str,
) -> None:
    app = make_app(pg_url, lease=2.0)
    workers = [start_worker(pg_url, concurrency=4) for _ in range(4)]
    handles: list[Any] = []
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            # noop jobs: only the workers' own connections are in play (the app's jobs
            # touch no database of their own that could be slow to reconnect)
            batch = [app.jobs["noop"]() for _ in range(10)]
            found = retrying(lambda batch=batch: app.enqueue_many(batch))
            handles.extend(found or [])
            time.sleep(0.1)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        wait_for(lambda: retrying(lambda: app.count(state="completed")) >= 20, 30,
                 "the workers to start")
        for _ in range(3):
            time.sleep(1.0)
            assert terminate_sessions(pg_url) >= 1
        stop.set()
        feeder.join()
        last = retrying(lambda: app.jobs["noop"]().run_now(priority="critical"))
        wait_for(lambda: retrying(lambda: app.get_job(last.id)).state == "completed", 10,
                 "a job triggered after the last termination",
                 details=lambda: repr(app.get_job(last.id)))
        total = len(handles)
        wait_for(lambda: retrying(lambda: app.count(state="completed")) == total + 1, 20,
                 f"{total + 1} completed jobs")
    finally:
        stop.set()
        stop_workers(workers)
    assert all(w.returncode in (0, -signal.SIGTERM) for w in workers), [
        w.stderr.read().decode()[-2000:] for w in workers if w.stderr]
    assert app.count(state=["failed", "cancelled", "queued", "running", "scheduled"]) == 0
    app.close()


def test_a_stopped_worker_past_its_lease_cannot_change_the_rescued_job(pg_url: str) -> None:
    app = make_app(pg_url, lease=1.0)
    frozen = start_worker(pg_url, concurrency=1)
    rescuer = None
    try:
        handle = app.jobs["whoami"](1.5).run_now(retry=1)
        wait_for(lambda: app.get_job(handle.id).state == "running", 15,  # type: ignore[union-attr]
                 "the first worker to take the job")
        time.sleep(0.2)  # inside the job's sleep
        os.kill(frozen.pid, signal.SIGSTOP)
        rescuer = start_worker(pg_url, concurrency=1)
        wait_for(lambda: app.get_job(handle.id).state == "completed", 30,  # type: ignore[union-attr]
                 "the rescued job to complete on the second worker")
        done = app.get_job(handle.id)
        assert done is not None and done.result == rescuer.pid
        os.kill(frozen.pid, signal.SIGCONT)  # it wakes up, finishes, tries to complete
        # > a heartbeat and a flush (its job slept while it was stopped: no time is left)
        time.sleep(1.5)
        after = app.get_job(handle.id)
        assert after is not None
        assert (after.state, after.result, after.finished_at, after.attempts) == (
            "completed", rescuer.pid, done.finished_at, done.attempts)
        assert frozen.poll() is None  # the woken worker carries on
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGCONT)
        stop_workers([frozen] + ([rescuer] if rescuer else []))
    app.close()
