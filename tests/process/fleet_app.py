"""The app of the fleet tests (tests/process/test_fleet_*.py): several worker processes
share one store and these jobs write the ledger of tests/process/app.py (``note``)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from conveyor import Conveyor, Retry
from tests.process.app import linger, note, run_noted

app = Conveyor(os.environ["CONVEYOR_URL"], lease=float(os.environ.get("CONVEYOR_TEST_LEASE", "2")))
app.queue("narrow", concurrency=2)
app.queue("metered", rate="20/second")


@app.job(concurrency=1, concurrency_key="shop_id")
def per_shop(order: dict[str, Any], meta: Any) -> None:
    """One at a time per shop: the ledger's job id is the shop (attempt = the run id)."""
    note("start", order["shop_id"], meta.id)
    time.sleep(order.get("seconds", 0.1))
    note("end", order["shop_id"], meta.id)


@app.job(queue="narrow")
def narrow_a(seconds: float, meta: Any) -> None:
    run_noted(meta, seconds)


@app.job(queue="narrow")
def narrow_b(seconds: float, meta: Any) -> None:
    run_noted(meta, seconds)


@app.job(queue="metered")
def metered(meta: Any) -> None:
    run_noted(meta)


@app.job
def paused_job(meta: Any) -> None:
    run_noted(meta)


@app.job
async def cancellable(meta: Any) -> str:
    """Lingers a minute (a cancel from another process stops it first)."""
    note("start", meta.id, meta.attempt)
    await asyncio.sleep(60)
    note("end", meta.id, meta.attempt)
    return "lingered"


def _step(run: int, number: int) -> int:
    """Step ``number`` of a durable run: the third lingers $CONVEYOR_TEST_LINGER seconds
    (a worker started with a large value is killed there). The ledger's attempt is the
    step number."""
    note("start", run, number)
    if number == 3:
        time.sleep(linger())
    note("end", run, number)
    return number * 10


@app.job
async def steps(run: int, io: Any) -> list[int]:
    """A durable run of five tasks."""
    return [await io.task(f"step-{n}", _step, run, n) for n in range(1, 6)]


if os.environ.get("CONVEYOR_TEST_TICK"):
    @app.job(trigger=app.every("1 second"))
    def tick(meta: Any) -> None:
        run_noted(meta, linger())


@app.job(trigger=app.event("fleet.announced"))
def announced(payload: dict[str, Any], meta: Any) -> None:
    """Started by the event ``fleet.announced``; its ledger line counts the runs."""
    run_noted(meta)


@app.job(concurrency=2)
def pair(seconds: float, meta: Any) -> None:
    """At most two at once across the fleet."""
    run_noted(meta, seconds)


@app.job
def child(n: int, meta: Any) -> int:
    run_noted(meta, linger())
    return n


@app.job(retry=Retry(retries=2, wait=0.05))
def flaky(fails: int, meta: Any) -> int:
    """Fails its first ``fails`` attempts."""
    run_noted(meta)
    if meta.attempt <= fails:
        raise RuntimeError(f"attempt {meta.attempt} fails")
    return int(meta.attempt)


def _heard(event: str) -> Any:
    def hook(record: Any, error: Any = None) -> None:
        """Appends ``event id pid`` to $CONVEYOR_TEST_HOOKS (one write per line)."""
        path = os.environ.get("CONVEYOR_TEST_HOOKS")
        if path:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, f"{event} {record.id} {os.getpid()}\n".encode())
            os.close(fd)
    return hook


for _event in ("started", "completed", "failed", "retrying", "cancelled"):
    app.on(_event, _heard(_event))


def _mark(run: int, number: int) -> int:
    note("start", run, number)
    note("end", run, number)
    return number


@app.job
async def fan(run: int, io: Any) -> int:
    """A durable run that sleeps a second, then waits for six children on any workers.
    Its ledger lines (job id ``run``) are its two marking steps, 1 and 2."""
    await io.task("before", _mark, run, 1)
    await io.wait("nap", 1, "second")
    results = await io.run_jobs("children", [child(n) for n in range(6)])
    await io.task("after", _mark, run, 2)
    return sum(results)


@app.job
def repeated(payload: dict[str, Any], meta: Any) -> None:
    """Triggered with ``cancel_repeats`` / on a run-time schedule by racing processes."""
    run_noted(meta)


@app.job
def scheduled_at_run_time(payload: dict[str, Any], meta: Any) -> None:
    run_noted(meta, linger())



@app.job(rate="10/second", concurrency_key="shop_id")
def metered_shop(order: dict[str, Any], meta: Any) -> None:
    """At most ten starts a second per shop."""
    run_noted(meta)



@app.job
def nap(seconds: float, meta: Any) -> float:
    """Sleeps ``seconds`` (no limits)."""
    run_noted(meta, seconds)
    return seconds


@app.job
async def lingering_parent(io: Any) -> list[str]:
    """A durable run waiting for four children that linger a minute."""
    return list(await io.run_jobs("children", [cancellable() for _ in range(4)]))
