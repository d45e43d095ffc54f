"""A worker keeps no per-job state once a job is done, whatever its end (completed,
failed, retried, lost while it ran): its memory stays flat however many jobs it runs."""

from __future__ import annotations

import asyncio
import time

from conveyor import Conveyor, Retry
from conveyor.worker.loop import Worker
from tests.conformance.helpers import wait_for, worker_thread


def per_job_state(worker: Worker) -> dict[str, int]:
    """Sizes of everything a worker keeps per job it holds (zero when it holds none)."""
    sizes = {
        "active": len(worker.active), "held_since": len(worker.sizing.since),
        "lost": len(worker.lost), "errors": len(worker.runner.errors),
        "storing": len(worker.outbox.storing), "outcomes": len(worker.outbox.outcomes),
        "finished": len(worker.outbox.finished), "ready": len(worker.slots.ready),
        "observer tasks": len(worker.observers.tasks),
    }
    for observer in worker.app.observers:  # tracing: one span per running attempt
        sizes[type(observer).__name__] = len(getattr(observer, "spans", ()))
    return sizes


def test_a_worker_keeps_no_per_job_state_after_its_jobs_end(app: Conveyor) -> None:
    seen: list[int] = []
    app.on("completed", lambda record, error=None: seen.append(record.id))  # async observers

    @app.job
    def sync_ok(n: int) -> int:
        return n

    @app.job
    async def async_ok(n: int) -> int:
        return n

    @app.job(retry=Retry(retries=1))
    def sync_flaky(n: int) -> None:
        raise ValueError(n)

    @app.job
    async def async_fails(n: int) -> None:
        raise ValueError(n)

    @app.job(timeout=5)
    def sync_timeout(n: int) -> int:
        return n

    @app.job
    def sync_slow() -> None:
        time.sleep(1.5)

    @app.job
    async def async_slow() -> None:
        await asyncio.sleep(30)

    handles = [fn(n).run_now() for n in range(40)
               for fn in (sync_ok, async_ok, sync_flaky, async_fails, sync_timeout)]
    with worker_thread(app, concurrency=4) as worker:
        wait_for(lambda: all(h.state in ("completed", "failed") for h in handles), 30,
                 "the jobs to end")
        # lost while running (cancelled): the worker drops them at its next heartbeat
        slow = [sync_slow().run_now(), async_slow().run_now()]
        wait_for(lambda: all(h.state == "running" for h in slow), 10, "the slow jobs to start")
        for h in slow:
            app.cancel(h.id)
        empty = {name: 0 for name in per_job_state(worker)}
        wait_for(lambda: per_job_state(worker) == empty, 10, "the worker to forget its jobs",
                 details=lambda: str(per_job_state(worker)))
    assert len(seen) == 120
    for observer in app.observers:  # metrics: label sets per job name, not per job
        assert len(getattr(observer, "by_job", ())) <= len(app.jobs)

