"""Black-box: ``conveyor worker`` as real OS processes on SQLite and PostgreSQL (SPEC §4,
§7): several CLI workers and a ``--processes`` supervisor share a queue, a kill -9 of a
supervised child mid-job, a graceful stop by signal, ``--burst --concurrency --queues``,
and one-line errors for bad worker input."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.support import store_url

from .app import build
from .helpers import (
    APP_FILE,
    assert_no_overlap,
    executions,
    peak,
    spawn_cli_worker,
    stop,
    wait_until,
    worker_env,
    worker_logs,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def lease() -> float:
    return 2.0


def _live_pids(app: Conveyor) -> set[int]:
    return {w.pid for w in app.store.workers(60) if w.stopped_at is None}


def test_a_cli_worker_and_a_supervisor_share_the_queue_and_run_each_job_once(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    single = spawn_cli_worker(url, tmp_path, "--concurrency", "4")
    supervisor = spawn_cli_worker(url, tmp_path, "--processes", "2", "--concurrency", "4")
    try:
        # Three worker processes registered before the work comes, so all can share it.
        wait_until(lambda: len(_live_pids(app)) == 3, 30, "3 worker processes", tmp_path)
        handles = app.enqueue_many(app.jobs.sleepy(0.05) for _ in range(60))
        handles += [app.jobs.quick(n).run_now() for n in range(40)]
        wait_until(lambda: app.count(state="completed") == len(handles), 30,
                   "every job to complete", tmp_path)
    finally:
        codes = [stop(single), stop(supervisor)]
    assert codes == [0, 0], worker_logs(tmp_path)
    assert _live_pids(app) == set(), "every worker process unregistered on its way out"
    runs = executions(tmp_path)
    starts = Counter(r.job_id for r in runs)
    assert set(starts) == {h.id for h in handles}
    assert [job for job, n in starts.items() if n > 1] == [], "a job ran twice"
    assert all(r.end is not None for r in runs)
    assert len({r.pid for r in runs}) >= 2, "the work should be shared between processes"
    assert {app.get_job(h.id).attempts for h in handles} == {1}  # type: ignore[union-attr]


def test_a_supervised_worker_killed_mid_job_has_its_job_retried_once_after_the_lease(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    h = app.jobs.first_attempt_lingers().run_now()
    supervisor = spawn_cli_worker(url, tmp_path, "--processes", "2", "--concurrency", "1")
    try:
        first = wait_until(lambda: executions(tmp_path), 30, "the first attempt to start",
                           tmp_path)[0]
        original = _live_pids(app)
        assert first.pid in original
        subprocess.run(["kill", "-9", str(first.pid)], check=True)
        killed_at = time.time()
        # Never lost, never left running: retried once the dead worker's lease is over.
        assert h.result(timeout=20) == 2, worker_logs(tmp_path)
        wait_until(lambda: _live_pids(app) - original, 20, "a replacement process", tmp_path)
    finally:
        code = stop(supervisor, 30)
    assert code == 0, worker_logs(tmp_path)
    record = app.get_job(h.id)
    assert record is not None and record.state == "completed"
    assert record.attempts == 2 and [a.number for a in record.history] == [1, 2]
    assert record.history[0].error is not None  # the killed attempt counts, with a reason
    assert record.history[1].error is None
    runs = executions(tmp_path)
    assert [(r.attempt, r.end is None) for r in runs] == [(1, True), (2, False)]
    assert runs[1].pid != first.pid
    assert_no_overlap(runs, {first.pid: killed_at})


@pytest.mark.parametrize(("kind", "sig"), [("sqlite", signal.SIGINT),
                                           ("postgres", signal.SIGTERM)])
def test_a_signal_lets_running_jobs_finish_starts_nothing_new_and_releases_the_rest(
    kind: str, sig: signal.Signals, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = store_url(kind, request, tmp_path, "jobs.db", migrated=True)
    app = build(url, lease=30.0)  # a long lease: released jobs must not wait for it
    try:
        short = app.enqueue_many(app.jobs.sleepy(0.6) for _ in range(2))
        long = app.jobs.lingering().run_now()
        waiting = app.jobs.sleepy(0.01).run_now(priority="low")  # no free slot for it
        first = spawn_cli_worker(url, tmp_path, "--concurrency", "3", "--grace", "1.5",
                                 lease=30.0)
        wait_until(lambda: len(executions(tmp_path)) == 3, 30, "three jobs to start",
                   tmp_path)
        first.send_signal(sig)
        assert first.wait(15) == 0, worker_logs(tmp_path)
        stopped_at = time.time()
        assert [h.state for h in short] == ["completed", "completed"], worker_logs(tmp_path)
        assert (long.state, waiting.state) == ("queued", "queued"), worker_logs(tmp_path)
        assert {r.pid for r in executions(tmp_path)} == {first.pid}
        assert len(executions(tmp_path)) == 3, "a stopping worker started a new job"
        assert "waiting up to 1.5 s for 3 running jobs" in worker_logs(tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "conveyor", "worker", str(APP_FILE), "--burst"],
            env=worker_env(url, tmp_path, 30.0, CONVEYOR_TEST_LINGER="0.01"), cwd=tmp_path,
            capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert long.result(timeout=30) == "lingered" and waiting.state == "completed"
    finally:
        app.close()
    runs = executions(tmp_path)
    assert [r.end is None for r in runs if r.job_id == long.id] == [True, False]
    assert_no_overlap(runs, {first.pid: stopped_at})


def test_a_burst_worker_keeps_to_its_concurrency_and_queues_then_exits_0(
    app: Conveyor, url: str, tmp_path: Path
) -> None:
    handles = app.enqueue_many(app.jobs.sleepy(0.3) for _ in range(9))
    mail = app.jobs.quick(1).run_now(queue="mail")
    elsewhere = app.jobs.quick(2).run_now(queue="elsewhere")
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", str(APP_FILE), "--burst",
         "--concurrency", "3", "--queues", "default,mail"],
        env=worker_env(url, tmp_path, 2.0), cwd=tmp_path, capture_output=True, text=True,
        timeout=30)
    assert done.returncode == 0, done.stderr
    assert [h.state for h in handles] == ["completed"] * 9
    assert (mail.state, elsewhere.state) == ("completed", "queued")
    runs = executions(tmp_path)
    assert len(runs) == 10 and all(r.end is not None for r in runs)
    assert peak([(r.start, r.end or 0.0) for r in runs]) == 3


@pytest.mark.parametrize(("args", "words"), [
    (["--concurrency", "0"], ["--concurrency", "0"]),
    (["--queues", " , "], ["--queues"]),
    (["--processes", "-1"], ["--processes"]),
])
def test_bad_worker_input_is_one_line_on_stderr_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", str(APP_FILE), "--burst", *args],
        env=worker_env(f"sqlite:///{tmp_path}/jobs.db", tmp_path, 2.0), cwd=tmp_path,
        capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_an_app_spec_naming_no_app_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "worker", f"{APP_FILE}:nothing", "--burst"],
        env=worker_env(f"sqlite:///{tmp_path}/jobs.db", tmp_path, 2.0), cwd=tmp_path,
        capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "nothing" in lines[0], done.stderr


def test_a_sync_job_released_past_the_grace_period_does_not_run_on_beside_its_rerun(
    pg_url: str, tmp_path: Path
) -> None:
    """A job thread cannot be stopped: once its job is released to other workers, the
    stopping process must exit at once, not let the old execution go on beside the new
    one (it waited a second for the thread). Some 0.1 s between the release and the exit
    remain: an uninterruptible thread cannot give more."""
    app = build(pg_url, lease=30.0)
    try:
        h = app.schedule_job(type="lingering-reaction", data={})
        first = spawn_cli_worker(pg_url, tmp_path, "--grace", "0.2", lease=30.0)
        wait_until(lambda: executions(tmp_path), 30, "the job to start", tmp_path)
        second = spawn_cli_worker(pg_url, tmp_path, lease=30.0,
                                  env={"CONVEYOR_TEST_LINGER": "0.01"})
        wait_until(lambda: len(_live_pids(app)) == 2, 30, "the second worker", tmp_path)
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0, worker_logs(tmp_path)
        exited = time.time()
        wait_until(lambda: h.state == "completed", 15, "the rerun to complete", tmp_path)
        assert stop(second) == 0, worker_logs(tmp_path)
    finally:
        app.close()
    old, new = executions(tmp_path)
    assert (old.pid, old.end, new.pid) == (first.pid, None, second.pid)
    assert new.start > exited - 0.5, f"ran side by side for {exited - new.start:.2f} s"
