"""Black-box, SPEC §3, §4, §11 across a fleet of worker processes on one SQLite file or
one PostgreSQL database: a run whose worker was killed is *pending* for dedupe once its
lease expired (``unique`` finds it, ``replace`` cancels it for good), and the hooks of
each outcome run once in the fleet, rescues and retries included."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import VICTIM_LEASE, start_fleet
from .helpers import executions, running, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _kill_while_running(fleet: ModuleType, url: str, tmp: Path,
                        *triggers: dict[str, object]) -> list[int]:
    """Run ``child`` once per trigger's options on a worker that lingers in them, kill -9
    that worker, and wait until the runs' leases have expired; return the runs' ids."""
    [victim] = start_fleet(fleet, url, tmp, 1, lease=VICTIM_LEASE, concurrency=len(triggers),
                           env={"CONVEYOR_TEST_LINGER": "60"})
    try:
        handles = [fleet.child(1).run_now(**trigger) for trigger in triggers]
        wait_until(lambda: len(executions(tmp)) == len(triggers), 20, "the runs to start", tmp)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(5)
    finally:
        victim.kill()
    records = [fleet.app.get_job(h.id) for h in handles]
    assert all(r.state == "running" and r.lease_expires_at is not None for r in records)
    expired = max(r.lease_expires_at for r in records) + timedelta(seconds=0.3)
    wait_until(lambda: datetime.now(UTC) > expired, 10, "the leases to expire", tmp)
    return [int(h.id) for h in handles]


def test_unique_finds_and_replace_cancels_for_good_the_runs_of_a_dead_worker(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    found, replaced = _kill_while_running(fleet, url, tmp_path, {"key": "found"},
                                          {"key": "gone"})
    again = fleet.child(2).run_now(key="found", unique=True)
    assert again.id == found  # pending: started, but its worker is gone
    newer = fleet.child(3).run_now(key="gone", replace=True)
    assert fleet.app.get_job(replaced).state == "cancelled"
    workers = start_fleet(fleet, url, tmp_path, 2, maintenance_interval=0.1)
    with running(workers, tmp_path):
        assert again.result(timeout=20) == 1  # the rescue runs the found one once
        assert newer.result(timeout=20) == 3
        time.sleep(0.5)  # five maintenance passes of each worker: none may revive it
    assert fleet.app.count(job="child") == 3
    assert fleet.app.get_job(found).attempts == 2
    assert fleet.app.get_job(replaced).state == "cancelled"
    ran = sorted((r.job_id, r.end is not None) for r in executions(tmp_path))
    assert ran == sorted([(found, False), (found, True), (replaced, False),
                                  (newer.id, True)])


def test_each_outcome_hook_runs_once_in_the_fleet_with_retries_and_a_rescue(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    hooks = tmp_path / "hooks"
    env = {"CONVEYOR_TEST_HOOKS": str(hooks)}
    [dead] = _kill_while_running(fleet, url, tmp_path, {})
    workers = start_fleet(fleet, url, tmp_path, 3, env=env, concurrency=4,
                          maintenance_interval=0.1)
    with running(workers, tmp_path):
        flaky = fleet.app.enqueue_many(fleet.flaky(n % 4) for n in range(12))
        wait_until(lambda: all(h.state in ("completed", "failed") for h in flaky)
                   and fleet.app.get_job(dead).state == "completed", 30, "every run",
                   tmp_path)
        wait_until(lambda: hooks.exists() and hooks.read_text().count("\n") >= 56, 10,
                   "the hooks", tmp_path)
        time.sleep(0.3)  # a duplicate would be written by now
    heard = Counter(tuple(line.split()[:2]) for line in hooks.read_text().splitlines())
    for n, handle in enumerate(flaky):
        fails, job = n % 4, str(handle.id)
        expected = {"started": min(fails + 1, 3), "retrying": min(fails, 2),
                    "completed": int(fails < 3), "failed": int(fails == 3), "cancelled": 0}
        assert {event: heard[(event, job)] for event in expected} == expected, (n, heard)
    assert (heard[("started", str(dead))], heard[("completed", str(dead))]) == (1, 1)
    assert heard[("retrying", str(dead))] <= 1  # the rescue (no hooks in the victim)
