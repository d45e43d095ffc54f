"""SPEC §4 (leases), §5, §3: real worker and trigger processes killed with SIGKILL in the
middle of a sync job, an async job, a durable step and a burst of triggers — nothing is
lost, nothing runs twice at once, nothing stays running after the lease, and completed
durable steps are not run again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.process.helpers import (
    assert_no_overlap,
    by_job,
    executions,
    load_app_file,
    running,
    spawn_worker,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.slow

CRASH_APP = Path(__file__).with_name("crash_app.py")
LEASE = 1.0
TRIGGER_BURST = (  # sync and awaited triggers taking turns (PostgreSQL: both pools)
    "import asyncio, importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('crash_app', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "async def burst():\n"
    "    for n in range(100_000):\n"
    "        call = module.burst_target(n)\n"
    "        handle = await call.run_now() if n % 2 else call.run_now()\n"
    "        print(handle.id, flush=True)\n"
    "asyncio.run(burst())\n"
)


@pytest.fixture
def crash(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    yield from load_app_file(CRASH_APP, url, monkeypatch)


def steps_run(tmp: Path) -> Counter[tuple[int, str, str]]:
    """(run id, step key, start|end) -> how many times, over every process."""
    counts: Counter[tuple[int, str, str]] = Counter()
    for path in tmp.glob("ledger-steps.*"):
        for line in path.read_text().splitlines():
            run_id, key, event = line.split()
            counts[int(run_id), key, event] += 1
    return counts


def children_of(app: Any, parent: int) -> set[int]:
    return {r.id for r in app.jobs_list(job="sync_hang") if r.parent_id == parent}


def stored_ids(out: Path) -> list[int]:
    """The ids the killed trigger process printed (a trigger had returned each of them)."""
    text = out.read_text()
    complete = text if text.endswith("\n") else text.rsplit("\n", 1)[0]
    return [int(line) for line in complete.split()]


def test_killed_processes_lose_nothing_and_run_nothing_twice_at_once(
    crash: ModuleType, url: str, tmp_path: Path
) -> None:
    app = crash.app
    hanging = {name: getattr(crash, name)().run_now().id for name in ("sync_hang", "async_hang")}
    hanging["durable_hang"] = crash.durable_hang({"p": 1}).run_now().id
    durable = hanging["durable_hang"]
    parent_handle = crash.parent_of_hang(None).run_now()
    parent = parent_handle.id

    victim = spawn_worker(url, tmp_path, lease=LEASE, app_file=CRASH_APP, concurrency=6,
                          env={"CONVEYOR_TEST_HANG": "1"})
    out = tmp_path / "triggered.txt"
    with out.open("wb") as sink:
        burster = subprocess.Popen([sys.executable, "-c", TRIGGER_BURST, str(CRASH_APP)],
                                   env=worker_env(url, tmp_path, LEASE), cwd=tmp_path,
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        def every_hanging_job_started() -> bool:
            children = children_of(app, parent)
            started = {e.job_id for e in executions(tmp_path)}
            return bool(children) and started >= {*children, hanging["sync_hang"],
                                                  hanging["async_hang"]} \
                and steps_run(tmp_path)[durable, "two", "start"] == 1

        wait_until(every_hanging_job_started, 60, "the victim in every hanging job", tmp_path)
        wait_until(lambda: len(stored_ids(out)) >= 30
                   and len(executions(tmp_path)) >= 3 + 5, 60,
                   "a burst of triggers, some run by the victim", tmp_path)
    finally:
        burster.kill()
        victim.kill()
    killed_at = time.time()
    burster.wait(10)
    victim.wait(10)
    printed = stored_ids(out)
    hung = [*hanging.values(), *children_of(app, parent)]
    assert [app.get_job(i).state for i in hung] == ["running"] * 4, [app.get_job(i) for i in hung]

    rescuer = spawn_worker(url, tmp_path, lease=LEASE, app_file=CRASH_APP, concurrency=4)
    with running([rescuer], tmp_path):
        # Waiting in another process (awaited and blocking) sees the rescued outcome.
        assert asyncio.run(parent_handle.wait(timeout=60)) == ["b", "sync survived"]
        wait_until(lambda: app.count(state=["scheduled", "queued", "running", "waiting"]) == 0,
                   60, "every job finished after the rescue", tmp_path)

    assert all(app.get_job(i) is not None for i in printed), "a returned trigger lost its job"
    burst_jobs = app.jobs_list(job="burst_target", limit=100_000)
    assert len(burst_jobs) in (len(printed), len(printed) + 1)
    assert {r.state for r in burst_jobs} == {"completed"}
    assert sorted(r.result for r in burst_jobs) == list(range(len(burst_jobs)))

    results = {name: app.get_job(i) for name, i in hanging.items()}
    assert results["sync_hang"].result == "sync survived"
    assert results["async_hang"].result == "async survived"
    assert results["durable_hang"].result == [{"odd": [None, -0.0, ""]}, [], 3]
    assert all(r.state == "completed" and r.attempts == 2 for r in results.values()), results

    (child,) = [app.get_job(i) for i in children_of(app, parent)]
    assert child.state == "completed" and child.attempts == 2
    assert app.get_job(parent).result == ["b", "sync survived"]

    steps = steps_run(tmp_path)
    assert steps[parent, "before", "start"] == 1
    assert steps[durable, "one", "start"] == steps[durable, "one", "end"] == 1
    assert steps[durable, "two", "start"] == 2 and steps[durable, "two", "end"] == 1
    assert steps[durable, "three", "start"] == 1

    runs = executions(tmp_path)
    assert_no_overlap(runs, {victim.pid: killed_at})
    # A job may run again only because the victim died before its outcome was stored:
    # never twice in a survivor, never again once its completion was stored.
    for job, group in by_job(runs).items():
        assert sum(e.pid == rescuer.pid for e in group) <= 1, (job, group)
        assert all(e.pid == victim.pid for e in group[:-1]), (job, group)


def test_jobs_of_a_killed_worker_can_be_cancelled_or_replaced_and_never_run_again(
    crash: ModuleType, url: str, tmp_path: Path
) -> None:
    app = crash.app
    cancelled = crash.sync_hang().run_now()
    replaced = crash.async_hang().run_now(key="k")
    victim = spawn_worker(url, tmp_path, lease=LEASE, app_file=CRASH_APP, concurrency=2,
                          env={"CONVEYOR_TEST_HANG": "1"})
    try:
        wait_until(lambda: {e.job_id for e in executions(tmp_path)}
                   >= {cancelled.id, replaced.id}, 60, "the victim in both jobs", tmp_path)
    finally:
        victim.kill()
    victim.wait(10)

    app.cancel(cancelled.id)  # its lease has not expired yet
    wait_until(lambda: app.get_job(replaced.id).lease_expires_at < datetime.now(UTC), 30,
               "the dead worker's lease to expire", tmp_path)
    replacement = crash.async_hang().run_now(key="k", replace=True)
    assert app.get_job(replaced.id).state == "cancelled", "a dead worker's job is pending"

    rescuer = spawn_worker(url, tmp_path, lease=LEASE, app_file=CRASH_APP, burst=True)
    assert rescuer.wait(60) == 0
    assert replacement.result(timeout=30) == "async survived"
    assert [app.get_job(h.id).state for h in (cancelled, replaced)] == ["cancelled"] * 2
    assert sorted(e.job_id for e in executions(tmp_path)) == sorted(
        [cancelled.id, replaced.id, replacement.id])
