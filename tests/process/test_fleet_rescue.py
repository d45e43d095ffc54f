"""Black-box, SPEC §4, §5, §9, §10 across a fleet of worker processes on one SQLite file
or one PostgreSQL database: survivors racing to rescue a killed worker's runs rescue each
once, a concurrency limit is not leaked by the dead worker, dependencies completed on
different workers unblock their dependent once, and durable parents sleeping and waiting
for children spread over the fleet resume once, a kill -9 among them included."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import VICTIM_LEASE, ran_once, start_fleet
from .helpers import (
    assert_no_overlap,
    by_job,
    executions,
    peak,
    running,
    stop,
    wait_until,
    worker_logs,
)

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_two_survivors_rescue_each_run_of_a_killed_worker_once_within_the_limit(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    [victim] = start_fleet(fleet, url, tmp_path, 1, lease=VICTIM_LEASE, concurrency=2)
    handles = fleet.app.enqueue_many(fleet.pair(0.3) for _ in range(10))
    survivors: list[subprocess.Popen[bytes]] = []  # started once the victim runs
    with running(survivors, tmp_path, kill=victim):
        wait_until(lambda: len(executions(tmp_path)) >= 2, 20, "the victim's runs", tmp_path)
        survivors.extend(start_fleet(fleet, url, tmp_path, 2, concurrency=2,
                                     maintenance_interval=0.1))
        wait_until(lambda: len(executions(tmp_path)) >= 4, 20, "more runs", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait(5)
        wait_until(lambda: all(h.state == "completed" for h in handles), 30, "every run",
                   tmp_path)
    runs = executions(tmp_path)
    assert_no_overlap(runs, {victim.pid: killed_at})
    for job_id, group in by_job(runs).items():
        assert ran_once(group, victim.pid, killed_at), (job_id, group, killed_at)
    spans = [(r.start, r.end if r.end is not None else killed_at) for r in runs]
    assert peak(spans) <= 2  # the dead worker's runs counted until they ended
    for handle in handles:
        record = fleet.app.get_job(handle.id)
        # A run the victim had claimed (ahead) but not yet recorded when killed is an
        # attempt without an execution: at most one more attempt than recorded runs.
        recorded = len(by_job(runs)[handle.id])
        assert recorded <= record.attempts <= recorded + 1, (record.history, recorded)
        assert len(record.history) == record.attempts


def test_dependencies_finished_on_different_workers_unblock_the_dependent_once(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    workers = start_fleet(fleet, url, tmp_path, 3, concurrency=4)
    with running(workers, tmp_path):
        for _ in range(3):  # the last ones of each round finish at the same time
            deps = fleet.app.enqueue_many(fleet.child(n) for n in range(12))
            joined = fleet.child(99).run_now(depends_on=deps)
            assert joined.result(timeout=20) == 99
    starts = Counter(r.job_id for r in executions(tmp_path))
    assert len(starts) == 39 and set(starts.values()) == {1}


def test_durable_parents_sleep_fan_out_and_resume_once_across_the_fleet_and_a_kill_9(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    runs = range(10_000, 10_004)  # the parents' ledger ids, clear of the run ids
    parents = [fleet.fan(run).run_now() for run in runs]
    # The slow worker starts alone: it takes the parents and the first children, where
    # it lingers until killed; the others take the rest of the children and the rescue.
    [slow] = start_fleet(fleet, url, tmp_path, 1, lease=VICTIM_LEASE, concurrency=6,
                         env={"CONVEYOR_TEST_LINGER": "60"})
    workers: list[subprocess.Popen[bytes]] = []  # started once the slow one lingers
    with running(workers, tmp_path, kill=slow):
        wait_until(lambda: sum(r.pid == slow.pid and r.job_id not in runs
                               for r in executions(tmp_path)) == 6, 20,
                   "the slow worker in six children", tmp_path)
        workers.extend(start_fleet(fleet, url, tmp_path, 2, concurrency=6,
                                   maintenance_interval=0.2))
        os.kill(slow.pid, signal.SIGKILL)
        killed_at = time.time()
        slow.wait(5)
        assert [h.result(timeout=25) for h in parents] == [15] * 4
    done = executions(tmp_path)
    assert_no_overlap(done, {slow.pid: killed_at})
    for run in runs:
        assert sorted(r.attempt for r in by_job(done)[run]) == [1, 2]  # each step once
    finished = Counter(r.job_id for r in done if r.end is not None and r.job_id not in runs)
    assert len(finished) == 24 and set(finished.values()) == {1}
    for parent in parents:
        assert len(fleet.app.get_job(parent.id).children) == 6


def test_durable_runs_released_by_sigterm_go_on_at_once_on_a_live_worker_without_redoing(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    handles = [fleet.steps(n).run_now() for n in range(2)]
    # A 30 s lease: only the release, not a rescue, can hand the runs on in time.
    [first] = start_fleet(fleet, url, tmp_path, 1, lease=30.0, concurrency=2, grace=0.5,
                          env={"CONVEYOR_TEST_LINGER": "60"})
    second = None
    try:
        wait_until(lambda: sum(r.attempt == 3 for r in executions(tmp_path)) == 2, 20,
                   "both runs in their third step", tmp_path)
        [second] = start_fleet(fleet, url, tmp_path, 1, lease=30.0, concurrency=2)
        signalled = time.time()
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0, worker_logs(tmp_path)
        assert [h.result(timeout=15) for h in handles] == [[10, 20, 30, 40, 50]] * 2
    finally:
        first.kill()
        if second is not None:
            stop(second)
    runs = executions(tmp_path)
    # The released step's thread cannot be stopped: it ends with its process, after the
    # release (test_blind_workers.py); the rerun starts after the release, so after the
    # SIGTERM that asked for it.
    assert_no_overlap(runs, {first.pid: signalled})
    for run, group in by_job(runs).items():
        steps = sorted((r.attempt, r.pid, r.end is not None) for r in group)
        assert steps == [(1, first.pid, True), (2, first.pid, True), (3, first.pid, False),
                         (3, second.pid, True), (4, second.pid, True),
                         (5, second.pid, True)], (run, steps)
    assert "released to run again" in worker_logs(tmp_path)
