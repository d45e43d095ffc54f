"""§3/§4 with a worker running beside the test: a running job is not pending (dedupe and
cancel_jobs leave it), and ``result()`` / ``wait()`` block until another worker ends it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from conveyor import Conveyor
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of

GENEROUS = 30.0


def _gated(app: Conveyor, gate: threading.Event):  # type: ignore[no-untyped-def]
    @app.job("gated")
    def gated(x=None):  # type: ignore[no-untyped-def]
        assert gate.wait(GENEROUS)
        return x

    return gated


@contextmanager
def _worker_running(app: Conveyor, job_id: int) -> Iterator[None]:
    """A burst worker in a thread, yielding once ``job_id`` is running."""
    worker = threading.Thread(target=run_until_idle, args=(app,), daemon=True)
    worker.start()
    poll = threading.Event()
    for _ in range(3000):
        if record_of(app, job_id).state == "running":
            break
        poll.wait(0.01)
    assert record_of(app, job_id).state == "running"
    try:
        yield
    finally:
        worker.join(GENEROUS)
        assert not worker.is_alive()


def test_a_running_job_is_not_pending_for_unique_replace_or_cancel_jobs(app: Conveyor) -> None:
    gate = threading.Event()
    gated = _gated(app, gate)
    running = gated("first").run_now(key="k")
    with _worker_running(app, running.id):
        fresh = gated("second").run_in(1, "hour", key="k", unique=True)
        assert fresh.id != running.id
        newer = gated("third").run_in(1, "hour", key="k", replace=True)
        assert record_of(app, fresh.id).state == "cancelled"
        assert app.cancel_jobs(type="gated") == 1  # newer only
        assert record_of(app, running.id).state == "running"
        gate.set()
    assert running.result(timeout=GENEROUS) == "first"
    assert record_of(app, newer.id).state == "cancelled"


def test_result_blocks_until_a_worker_elsewhere_finishes_the_job(app: Conveyor) -> None:
    gate = threading.Event()
    handle = _gated(app, gate)({"ü": 1}).run_now()
    with _worker_running(app, handle.id):
        gate.set()
        assert handle.result(timeout=GENEROUS) == {"ü": 1}


def test_await_wait_beside_an_async_worker_in_one_loop(app: Conveyor) -> None:
    @app.job
    async def slow_add(a, b):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        return a + b

    async def main() -> list[object]:
        handle = await slow_add(2**62, 2**62).run_now()
        waited, _ = await asyncio.gather(
            handle.wait(timeout=GENEROUS), app.run_worker_async(burst=True)
        )
        return [waited, handle.id]

    result, job_id = asyncio.run(main())
    assert result == 2**63
    assert record_of(app, job_id).result == 2**63
