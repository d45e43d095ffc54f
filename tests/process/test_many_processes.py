"""Several processes on one SQLite file: exactly-once execution, racing triggers, racing
schema creation (SPEC §1, §3, §7)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from .app import build
from .helpers import (
    APP_FILE,
    AT_THE_GATE,
    ROOT,
    assert_no_overlap,
    executions,
    open_gate,
    running,
    spawn_worker,
    stop,
    wait_until,
    worker_env,
    worker_logs,
)

pytestmark = pytest.mark.slow

JOBS = 2400


def test_three_workers_on_one_sqlite_file_run_every_job_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    app = build(url)
    workers = [spawn_worker(url, tmp_path, concurrency=8) for _ in range(3)]
    with running(workers, tmp_path):
        # Registered workers have their signal handlers: a slow start on a busy machine
        # must not turn the graceful stop below into a plain SIGTERM death.
        wait_until(lambda: live_workers(tmp_path / "jobs.db") == 3, 60, "3 workers", tmp_path)
        handles = []
        for start in range(0, JOBS - 200, 200):  # bulk inserts while the workers run
            handles += app.enqueue_many(app.jobs.quick(n) for n in range(start, start + 200))
        handles += [app.jobs.quick(n).run_now() for n in range(JOBS - 200, JOBS)]  # one by one
        wait_until(lambda: app.count(state="completed") == JOBS, 25,
                   f"{JOBS} jobs to complete", tmp_path)
    assert app.count() == JOBS and app.count(state="failed") == 0
    runs = executions(tmp_path)
    starts = Counter(r.job_id for r in runs)
    ids = {h.id for h in handles}
    assert len(ids) == JOBS
    assert set(starts) == ids, "some jobs never ran"
    assert [i for i, n in starts.items() if n > 1] == [], "some jobs ran twice"
    assert all(r.end is not None for r in runs)
    assert_no_overlap(runs, {})
    assert len({r.pid for r in runs}) >= 2, "the work should be shared between processes"
    assert sorted(h.result(timeout=30) for h in handles[:50]) == list(range(50))
    app.close()


#: A racer: 40 times, sleepy(i) with unique=True, then quick(i) with replace=True, both
#: under key 'race' (dedupe is per job and key: the two races do not meet).
_TRIGGER = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('process_test_app', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "app = module.build(sys.argv[2])\n"
    + AT_THE_GATE +
    "ids = {'unique': [], 'replace': []}\n"
    "for i in range(40):\n"
    "    ids['unique'].append(app.jobs.sleepy(i).run_now(key='race', unique=True).id)\n"
    "    ids['replace'].append(app.jobs.quick(i).run_now(key='race', replace=True).id)\n"
    "print(json.dumps(ids))\n"
)


def _race(url: str, tmp_path: Path, processes: int = 4) -> list[dict[str, list[int]]]:
    gate = tmp_path / "gate"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _TRIGGER, str(APP_FILE), url],
            env=worker_env(url, tmp_path, 2.0, CONVEYOR_TEST_GATE=str(gate)), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    open_gate(gate, procs)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=25)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out))
    return results


@pytest.fixture(params=["sqlite", "postgres"])
def race_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_store"))
    url = f"sqlite:///{tmp_path}/jobs.db"
    build(url).close()  # schema first: this test races triggers, not migrations
    return url


def test_racing_processes_keep_one_unique_job_and_replace_leaves_one_pending(
    race_url: str, tmp_path: Path
) -> None:
    results = _race(race_url, tmp_path)
    assert len({i for ids in results for i in ids["unique"]}) == 1
    assert len({i for ids in results for i in ids["replace"]}) == 4 * 40
    with build(race_url) as app:
        assert app.count(job="sleepy") == 1
        assert app.count(job="quick", state="queued") == 1
        assert app.count(job="quick", state="cancelled") == 4 * 40 - 1


@pytest.mark.skipif(shutil.which("conveyor", path=str(Path(sys.executable).parent)) is None,
                    reason="the conveyor command is not installed")
def test_the_conveyor_worker_command_runs_the_test_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    with build(url) as app:
        handles = app.enqueue_many(app.jobs.quick(n) for n in range(200))
    command = str(Path(sys.executable).parent / "conveyor")
    env = worker_env(url, tmp_path, 2.0)
    done = subprocess.run(
        [command, "worker", str(APP_FILE.relative_to(ROOT)), "--concurrency", "4", "--burst"],
        cwd=ROOT, env=env, capture_output=True, timeout=25,
    )
    assert done.returncode == 0, done.stderr.decode()
    with build(url) as app:
        assert app.count(state="completed") == 200
        assert [app.get_job(h.id).result for h in handles[:3]] == [0, 1, 2]  # type: ignore[union-attr]
    assert len(executions(tmp_path)) == 200


def test_killing_one_of_three_workers_mid_run_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    # Any of the three may be the victim, so all share one lease: 2 s, not 1, as a live
    # worker stalled past its lease on a busy machine rightly has its jobs run again.
    app = build(url, lease=2.0)
    workers = [spawn_worker(url, tmp_path, lease=2.0, concurrency=8,
                            maintenance_interval=0.2) for _ in range(3)]
    by_pid = {w.pid: w for w in workers}

    def busiest() -> subprocess.Popen[bytes] | None:
        # SQLite's write lock is not fair: one worker may take every claim for a while,
        # so the victim is whichever worker is running jobs.
        ran = Counter(r.pid for r in executions(tmp_path))
        pid, count = max(ran.items(), key=lambda item: item[1], default=(0, 0))
        return by_pid.get(pid) if count >= 100 else None

    victim = None
    try:
        # All three running first (one slow to start would find the work done).
        wait_until(lambda: live_workers(tmp_path / "jobs.db") == 3, 60, "3 workers", tmp_path)
        handles = app.enqueue_many(app.jobs.sleepy(0.002) for _ in range(1500))
        victim = wait_until(busiest, 20, "a worker to run jobs", tmp_path)
        victim.kill()
        victim.wait(5)
        killed_at = time.time()
        wait_until(lambda: app.count(state="completed") == len(handles), 25,
                   "every job to complete", tmp_path)
    finally:
        for worker in workers:
            if worker is not victim:
                assert stop(worker) == 0, worker_logs(tmp_path)
    assert app.count(state="running") == 0 and app.count(state="queued") == 0
    runs = executions(tmp_path)
    ran = Counter(r.job_id for r in runs)
    assert set(ran) == {h.id for h in handles}
    twice = {job_id for job_id, n in ran.items() if n > 1}
    victims = {r.job_id for r in runs if r.pid == victim.pid}
    assert twice <= victims, "only jobs the killed worker held may run again"
    assert_no_overlap(runs, {victim.pid: killed_at})
    app.close()


_TRIGGER_AND_DIE = (
    "import importlib.util, os, sys\n"
    "spec = importlib.util.spec_from_file_location('process_test_app', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "app = module.build(sys.argv[2])\n"
    "h = app.jobs.quick(7).run_now()\n"
    "os.write(1, str(h.id).encode())\n"
    "os._exit(0)  # no close, no flush, no atexit: what was returned must be stored\n"
)


def test_a_triggered_job_survives_its_process_dying_right_after(
    race_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TRIGGER_AND_DIE, str(APP_FILE), race_url],
        env=worker_env(race_url, tmp_path, 2.0), cwd=tmp_path, capture_output=True, timeout=25,
    )
    assert done.returncode == 0, done.stderr.decode()
    with build(race_url) as app:
        record = app.get_job(int(done.stdout))
        assert record is not None and record.state == "queued" and record.args == [7]


def live_workers(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        query = "SELECT count(*) FROM conveyor_workers WHERE stopped_at IS NULL"
        return int(conn.execute(query).fetchone()[0])
