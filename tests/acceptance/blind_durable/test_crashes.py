"""Blind acceptance tests of SPEC §5 and §10 with real worker processes killed (-9)
mid-run, and several at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from tests.acceptance.blind_durable.support import (
    MANY_APP,
    _define_crash_jobs,
    _kill_mid_run,
    _ledger,
    rec,
)
from tests.conformance.helpers import drain
from tests.process.helpers import spawn_worker, stop, wait_until


@pytest.mark.slow
def test_a_durable_run_killed_mid_task_keeps_its_finished_steps(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "blind-ledger"
    crashy, _ = _define_crash_jobs(app, ledger)
    h = crashy({"n": 41}).run_now()
    _kill_mid_run(url, tmp_path, "second")
    drain(app)
    assert h.result(timeout=10) == [42, "second got 42"]
    assert _ledger(ledger).count("first") == 1
    assert _ledger(ledger).count("second") == 2
    record = rec(app, h)
    assert record.state == "completed" and record.attempts >= 2


@pytest.mark.slow
def test_a_killed_child_is_rescued_and_its_waiting_parent_completes(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app = open_app(lease=1)
    ledger = tmp_path / "blind-ledger"
    _, parent = _define_crash_jobs(app, ledger)
    h = parent().run_now()
    _kill_mid_run(url, tmp_path, "kid")
    drain(app)
    assert h.result(timeout=10) == 10
    assert len(app.jobs_list(job="kid")) == 1
    assert _ledger(ledger).count("kid") == 2


@pytest.mark.slow
def test_durable_runs_survive_a_worker_killed_among_several(
        open_app: Callable[..., Conveyor], url: str, tmp_path: Path) -> None:
    app_file = tmp_path / "many_app.py"
    app_file.write_text(MANY_APP)
    ledger = tmp_path / "ledger-many"
    app = open_app(lease=1)

    @app.job("multi", retry=Retry(retries=5, wait=0))
    async def multi(n: int, io: Any) -> Any:
        raise AssertionError("only the worker processes run this")

    handles = [multi(n).run_now() for n in range(40)]
    env = {"BLIND_LEDGER": str(ledger)}
    # The victim's lease is short (its runs are rescued soon), the survivor's long: a live
    # worker stalled past its lease on a busy machine rightly runs its steps again.
    workers = [spawn_worker(url, tmp_path, lease=lease, app_file=app_file, concurrency=4,
                            env=env) for lease in (1.0, 3.0)]
    try:
        wait_until(lambda: sum(len(p.read_text().split())
                               for p in tmp_path.glob("ledger-many.*")) >= 10,
                   60, "some steps done", tmp_path)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        wait_until(lambda: all(rec(app, h).state in ("completed", "failed") for h in handles),
                   60, "every run finished", tmp_path)
    finally:
        for worker in workers:
            stop(worker)
    assert [h.result(timeout=30) for h in handles] == [[f"a{n}", f"b{n}"] for n in range(40)]
    words = [w for p in tmp_path.glob("ledger-many.*") for w in p.read_text().split()]
    repeated = {w for w in words if words.count(w) > 1}
    assert len(repeated) <= 4, repeated  # only steps in flight in the killed worker (4 slots)
