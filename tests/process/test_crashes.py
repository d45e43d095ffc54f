"""Real worker processes: kill -9 loses nothing, SIGTERM finishes or releases (SPEC §4, §7)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conveyor import Conveyor
from conveyor.observe import metrics
from conveyor.stores.base import POISON_RESCUES

from .app import build
from .helpers import (
    assert_no_overlap,
    by_job,
    executions,
    spawn_worker,
    stop,
    wait_until,
    worker_logs,
)

pytestmark = pytest.mark.slow
#: The lease of a worker that is not killed: a live worker keeps its jobs through a stall
#: of 2 s (a 1 s lease is lost in 0.7 s); only the victims' leases are waited out. Not
#: longer: a follower tries to take over maintenance (the rescues) every quarter lease.
SURVIVOR_LEASE = 3.0


def test_kill_9_in_the_middle_of_long_jobs_loses_nothing(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    handles = app.enqueue_many(app.jobs.sleepy(1.0) for _ in range(12))
    # A short lease for the victim (its jobs are rescued soon after the kill), a long one
    # for the survivor: a stall of a live worker on a busy machine must not cost it its
    # leases (its jobs would rightly run again, beside the first run).
    victim = spawn_worker(url, tmp_path, lease=1.0, concurrency=6)
    survivor = spawn_worker(url, tmp_path, lease=SURVIVOR_LEASE, concurrency=6,
                            maintenance_interval=0.2)
    try:
        wait_until(lambda: sum(r.pid == victim.pid for r in executions(tmp_path)) >= 3, 15,
                   "the victim to start jobs", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait(5)
        wait_until(lambda: app.count(state="completed") == 12, 25,
                   "every job to complete after the kill", tmp_path)
    finally:
        victim.kill()
        stop(survivor)
    assert app.count(state="running") == 0 and app.count(state="queued") == 0
    runs = executions(tmp_path)
    lost = [r for r in runs if r.pid == victim.pid and r.end is None]
    assert lost, "the kill should have interrupted some jobs"
    for job_id, group in by_job(runs).items():
        assert sum(r.end is not None for r in group) == 1, (job_id, group)
    assert set(by_job(runs)) == {h.id for h in handles}
    assert_no_overlap(runs, {victim.pid: killed_at})
    for run in lost:
        record = app.get_job(run.job_id)
        assert record is not None and record.state == "completed"
        assert record.attempts == run.attempt + 1
        error = record.history[run.attempt - 1].error
        assert error is not None and error["type"] == "LeaseExpired"


def test_a_burst_worker_started_after_a_kill_9_runs_the_dead_workers_job(
    app: Conveyor, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """...once its lease expired; the maintenance that rescued it counts the killed
    attempt as retried in the metrics."""
    def count(outcome: str) -> float:
        sample = metrics.instruments().registry.get_sample_value(
            f"conveyor_attempts_{outcome}_total", {"job": "lingering"})
        return sample or 0.0

    before = {outcome: count(outcome) for outcome in ("retried", "failed", "completed")}
    handle = app.jobs.lingering().run_now()
    victim = spawn_worker(url, tmp_path, lease=1.0)
    try:
        wait_until(lambda: executions(tmp_path), 15, "the victim to start the job", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(5)
    finally:
        victim.kill()
    monkeypatch.setenv("CONVEYOR_TEST_LINGER", "0")  # the next attempt, here, is quick
    app.run_worker(burst=True)
    assert handle.result(timeout=30) == "lingered"
    record = app.get_job(handle.id)
    assert record is not None and record.attempts == 2
    assert {outcome: count(outcome) - before[outcome] for outcome in before} == {
        "retried": 1, "failed": 0, "completed": 1}


def test_sigterm_finishes_running_jobs_within_grace_and_releases_the_rest(
    url: str, tmp_path: Path
) -> None:
    app = build(url, lease=30.0)  # a long lease: released jobs must not wait for it
    try:
        short = app.enqueue_many(app.jobs.sleepy(0.5) for _ in range(2))
        long = app.enqueue_many(app.jobs.lingering() for _ in range(2))
        # A grace period 1 s longer than the short jobs: they finish, the long ones do not.
        first = spawn_worker(url, tmp_path, lease=30.0, concurrency=4, grace=1.5)
        wait_until(lambda: len(executions(tmp_path)) == 4, 15, "all four jobs to start",
                   tmp_path)
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0, worker_logs(tmp_path)
        first_exited = time.time()
        assert [h.state for h in short] == ["completed", "completed"]
        for h in long:
            record = app.get_job(h.id)
            assert record is not None
            assert (record.state, record.attempts, record.worker_id) == ("queued", 0, None)
        second = spawn_worker(url, tmp_path, lease=30.0, concurrency=4,
                              env={"CONVEYOR_TEST_LINGER": "0.01"})
        try:
            assert [h.result(timeout=15) for h in long] == ["lingered", "lingered"]
        finally:
            stop(second)
    finally:
        app.close()
    runs = executions(tmp_path)
    finished_by = {r.job_id: r.pid for r in runs if r.end is not None}
    assert {finished_by[h.id] for h in short} == {first.pid}
    assert {finished_by[h.id] for h in long} == {second.pid}
    assert_no_overlap(runs, {first.pid: first_exited})  # its cancelled runs ended by then


def test_sigterm_past_the_grace_period_of_a_sync_reaction_worker_exits_and_releases_it(
    url: str, tmp_path: Path
) -> None:
    app = build(url, lease=30.0)  # a long lease: the released job must not wait for it
    try:
        h = app.schedule_job(type="lingering-reaction", data={})
        first = spawn_worker(url, tmp_path, lease=30.0, concurrency=2, grace=0.5)
        wait_until(lambda: executions(tmp_path), 15, "the job to start", tmp_path)
        first.send_signal(signal.SIGTERM)
        assert first.wait(10) == 0, worker_logs(tmp_path)  # its thread does not hold it
        assert h.state == "queued"
        second = spawn_worker(url, tmp_path, lease=30.0, concurrency=2,
                              env={"CONVEYOR_TEST_LINGER": "0.01"})
        try:
            wait_until(lambda: h.state == "completed", 15, "the job to finish", tmp_path)
        finally:
            stop(second)
    finally:
        app.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_an_isolated_child_dies_with_its_killed_worker_not_beside_the_retry(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with build(url, lease=1.0) as app:
        app.jobs.isolated_lingering().run_now()
        victim = spawn_worker(url, tmp_path, lease=1.0)
        try:
            child = wait_until(lambda: executions(tmp_path), 30, "the child to start",
                               tmp_path)[0]
        finally:
            victim.kill()
            victim.wait(5)
        assert child.pid != victim.pid
        # Rescued after the lease, its retry runs elsewhere: the orphan must not run on.
        wait_until(lambda: not _alive(child.pid), 15, "the orphaned child to exit", tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_group_lets_an_isolated_job_finish_within_grace(
    sig: signal.Signals, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with build(url, lease=30.0) as app:
        h = app.jobs.isolated_lingering().run_now()
        worker = spawn_worker(url, tmp_path, lease=30.0, grace=30.0,
                              env={"CONVEYOR_TEST_LINGER": "1"})
        child = wait_until(lambda: executions(tmp_path), 30, "the child to start",
                           tmp_path)[0]
        for pid in (child.pid, worker.pid):  # as Ctrl-C or systemd do
            os.kill(pid, sig)
        assert worker.wait(30) == 0, worker_logs(tmp_path)
        assert h.result(timeout=30) == "lingered", worker_logs(tmp_path)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_job_that_keeps_killing_its_worker_fails_as_poison(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    h = app.jobs.kills_its_worker().run_now()
    ok = app.jobs.quick(1).run_now(priority="low")
    workers = []
    for _ in range(POISON_RESCUES + 1):
        if h.state == "failed":
            break
        worker = spawn_worker(url, tmp_path, lease=1.0, concurrency=1, maintenance_interval=0.1)
        workers.append(worker)
        wait_until(lambda w=worker: w.poll() is not None or h.state == "failed", 20,
                   "the worker to die or the job to fail as poison", tmp_path)
    try:
        assert ok.result(timeout=15) == 1  # the last worker survives and goes on working
    finally:
        for worker in workers:
            stop(worker)
    assert [w.returncode for w in workers[:POISON_RESCUES]] == [-signal.SIGKILL] * POISON_RESCUES
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed"
    assert record.attempts == POISON_RESCUES
    assert record.error is not None and record.error["type"] == "PoisonJob"
    assert len(executions(tmp_path)) == POISON_RESCUES + 1  # three deaths and the quick job


def test_jobs_whose_worker_is_killed_three_times_in_a_row_still_complete(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    """Chaos: 20 slow jobs all running on one worker, the worker killed -9 three times
    in a row; every job completes (a worker that held many jobs is no proof any of them
    killed it: none is failed as poison)."""
    handles = app.enqueue_many(app.jobs.lingering() for _ in range(20))
    for kill in range(1, POISON_RESCUES + 1):
        victim = spawn_worker(url, tmp_path, lease=1.0, concurrency=20,
                              maintenance_interval=0.1, env={"CONVEYOR_TEST_LINGER": "60"})
        try:
            wait_until(lambda v=victim: sum(r.pid == v.pid for r in executions(tmp_path)
                                            ) == 20, 20, f"20 starts before kill {kill}",
                       tmp_path)
        finally:
            victim.kill()
            victim.wait(5)
    survivor = spawn_worker(url, tmp_path, lease=SURVIVOR_LEASE, concurrency=20,
                            maintenance_interval=0.1, env={"CONVEYOR_TEST_LINGER": "0.1"})
    try:
        wait_until(lambda: app.count(state="completed") == 20, 30,
                   "every job to complete after three kills", tmp_path)
    finally:
        stop(survivor)
    assert {app.get_job(h.id).state for h in handles} == {"completed"}  # type: ignore[union-attr]


def test_sigint_stops_a_worker_like_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with build(url) as app:
        h = app.jobs.sleepy(0.5).run_now()
        worker = spawn_worker(url, tmp_path, concurrency=2, grace=10.0)
        wait_until(lambda: executions(tmp_path), 15, "the job to start", tmp_path)
        worker.send_signal(signal.SIGINT)
        assert worker.wait(15) == 0, worker_logs(tmp_path)
        assert h.result(timeout=30) == 0.5


def test_a_second_signal_stops_at_once_and_releases_running_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with build(url, lease=30.0) as app:
        h = app.jobs.lingering().run_now()
        worker = spawn_worker(url, tmp_path, lease=30.0, concurrency=2, grace=60.0)
        wait_until(lambda: executions(tmp_path), 15, "the job to start", tmp_path)
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0, worker_logs(tmp_path)  # far sooner than its grace
        assert h.state == "queued"
