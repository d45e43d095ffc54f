"""A worker process that cannot go on exits non-zero after releasing its jobs (never a
zombie holding leases), logging why with the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.support import ROOT, store_url, wait_for

SCRIPT = """
import logging, sys, time
from conveyor import Conveyor
logging.basicConfig(level=logging.INFO)
app = Conveyor(sys.argv[1], lease=1.0)

@app.job
def slow() -> None:
    time.sleep(30)

class Broken:
    def maintain(self, app, store, leader):
        raise RuntimeError("upkeep is broken")

app.extensions.append(Broken())
app.run_worker(failure_budget=3, grace=0.2, maintenance_interval=0.05, poll_interval=0.05)
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_worker_whose_task_keeps_failing_exits_non_zero_and_releases_its_job(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = store_url(kind, request, tmp_path, "jobs.db")
    app = Conveyor(url, lease=1.0)

    @app.job
    def slow() -> None: ...

    handle = slow().run_now()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "upkeep is broken" in proc.stderr
    assert "WorkerFailed: worker task 'upkeep' failed 3 times in a row" in proc.stderr
    record = wait_for(lambda: app.get_job(handle.id), what="the job")
    assert record.state == "queued" and record.worker_id is None  # released at once
    app.close()


INTERRUPTED = """
import asyncio, sys, time
from conveyor import Conveyor
app = Conveyor(sys.argv[1], lease=30)

@app.job
def slow() -> None:
    time.sleep(30)

@app.job
async def own() -> None:
    raise KeyboardInterrupt("the job's own")

@app.job
async def stray() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt("on the loop, outside any job")
    asyncio.get_running_loop().call_later(0.5, interrupt)

app.run_worker(concurrency=3, grace=30, poll_interval=0.05)
"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_keyboard_interrupt_escaping_the_workers_loop_releases_its_jobs_first(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A job's own KeyboardInterrupt fails only its attempt; one raised on the loop
    outside any job stops the worker at once (it is Python's way to stop now), but only
    once the jobs it holds are released: they were left running until their leases
    expired (30 s here)."""
    url = store_url(kind, request, tmp_path, "jobs.db")
    app = Conveyor(url, lease=30)

    @app.job
    def slow() -> None: ...

    @app.job
    async def own() -> None: ...

    @app.job
    async def stray() -> None: ...

    held, failed, stopper = slow().run_now(), own().run_now(), stray().run_now()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED, url], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "on the loop, outside any job" in proc.stderr
    states = {h.id: app.get_job(h.id) for h in (held, failed, stopper)}
    assert states[held.id].state == "queued" and states[held.id].worker_id is None  # type: ignore[union-attr]
    assert states[failed.id].state == "failed"  # type: ignore[union-attr]
    assert states[stopper.id].state == "completed"  # type: ignore[union-attr]
    app.close()
