"""Black-box, SPEC §3-§7 across a fleet of worker processes on one SQLite file or one
PostgreSQL database: a cancel reaches the process running the job, a durable run resumes
on another worker after a kill -9 without redoing its stored steps, a schedule fires once
per occurrence while a worker is killed, and racing processes dedupe to one job."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import VICTIM_LEASE, cli, race, ran_once, start_fleet, start_with_victim
from .helpers import (
    AT_THE_GATE,
    assert_no_overlap,
    by_job,
    executions,
    peak_overlap,
    running,
    stop,
    wait_until,
    worker_logs,
)

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _started_by(tmp: Path, ids: list[int]) -> dict[int, int]:
    return {r.job_id: r.pid for r in executions(tmp) if r.job_id in ids}


def test_a_cancel_from_another_process_stops_the_run_where_it_runs_and_frees_its_slot(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    workers = start_fleet(fleet, url, tmp_path, 2, concurrency=1, grace=1)
    with running(workers, tmp_path):
        first = [fleet.cancellable().run_now() for _ in range(2)]
        ids = [h.id for h in first]
        wait_until(lambda: len(set(_started_by(tmp_path, ids).values())) == 2, 20,
                   "one run in each worker", tmp_path)
        cancelled = cli(url, tmp_path, "cancel", *map(str, ids))
        assert cancelled.returncode == 0, cancelled.stderr
        wait_until(lambda: all(h.state == "cancelled" for h in first), 10, "the cancels",
                   tmp_path)
        # Each worker has one slot: the next two runs start only if both were freed.
        second = [fleet.cancellable().run_now() for _ in range(2)]
        more = [h.id for h in second]
        wait_until(lambda: len(set(_started_by(tmp_path, more).values())) == 2, 20,
                   "the next run in each worker", tmp_path)
        assert fleet.app.cancel(second[0].id) and fleet.app.cancel(second[1].id)
        wait_until(lambda: all(h.state == "cancelled" for h in second), 10, "the cancels",
                   tmp_path)
    runs = executions(tmp_path)
    assert sorted(r.job_id for r in runs) == sorted(ids + more)  # none ran twice
    assert all(r.end is None for r in runs)  # stopped, not run to their end
    for handle in first + second:
        record = fleet.app.get_job(handle.id)
        assert (record.state, record.attempts) == ("cancelled", 1)
    assert "cancelled as it ran" in worker_logs(tmp_path)


def test_a_durable_run_killed_mid_step_resumes_elsewhere_without_redoing_stored_steps(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    handles = [fleet.steps(n).run_now() for n in range(3)]
    [victim] = start_fleet(fleet, url, tmp_path, 1, lease=VICTIM_LEASE, concurrency=3,
                           env={"CONVEYOR_TEST_LINGER": "60"})
    rescuer = None
    try:
        wait_until(lambda: sum(r.attempt == 3 for r in executions(tmp_path)) == 3, 20,
                   "every run in its third step", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait(5)
        [rescuer] = start_fleet(fleet, url, tmp_path, 1, concurrency=3,
                                maintenance_interval=0.2)
        results = [h.result(timeout=20) for h in handles]
    finally:
        victim.kill()
        if rescuer is not None:
            stop(rescuer)
    assert results == [[10, 20, 30, 40, 50]] * 3
    runs = executions(tmp_path)
    assert_no_overlap(runs, {victim.pid: killed_at})
    for run, group in by_job(runs).items():
        done = Counter(r.attempt for r in group if r.end is not None)
        assert done == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1}), (run, group)
        started = Counter(r.attempt for r in group)
        assert started == Counter({1: 1, 2: 1, 3: 2, 4: 1, 5: 1}), (run, group)
        assert {r.pid for r in group if r.attempt < 3} == {victim.pid}
        assert {r.pid for r in group if r.attempt > 3} == {rescuer.pid}
    for handle in handles:
        record = fleet.app.get_job(handle.id)
        assert record.state == "completed" and record.attempts == 2


def test_a_schedule_fires_once_per_occurrence_across_workers_and_a_kill_9(
    ticking: ModuleType, url: str, tmp_path: Path
) -> None:
    app = ticking.app
    env = {"CONVEYOR_TEST_TICK": "1"}
    victim, survivors = start_with_victim(ticking, url, tmp_path, 2, env=env, concurrency=2,
                                          maintenance_interval=0.2)
    with running(survivors, tmp_path, kill=victim):
        wait_until(lambda: len(executions(tmp_path)) >= 2, 20, "two occurrences", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait(5)
        ran_before = len(executions(tmp_path))
        wait_until(lambda: len(executions(tmp_path)) >= ran_before + 3, 20,
                   "three occurrences after the kill", tmp_path)
    found = app.jobs_list(schedule_id="tick", newest_first=False, limit=1000)
    runs = executions(tmp_path)
    done = {r.id for r in found if r.state == "completed"}
    finished = Counter(r.job_id for r in runs if r.end is not None)
    assert set(finished) == done, finished
    for job_id, group in by_job(runs).items():
        assert ran_once(group, victim.pid, killed_at), (job_id, group, killed_at)
    assert len({r.run_at for r in found}) == len(found), "an occurrence was stored twice"
    assert [r.rescheduled_from for r in found[1:]] == [r.id for r in found[:-1]]
    pending = [r for r in found if r.state not in ("completed",)]
    assert len(pending) <= 2 and {r.state for r in pending} <= {"scheduled", "queued"}


RACER = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('fleet_racer', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "app = module.app\n"
    + AT_THE_GATE +
    "scheduled, repeats = [], []\n"
    "for n in range(10):\n"
    "    scheduled.append(app.schedule_job(type='scheduled_at_run_time',\n"
    "                                      data={'shop': 1}, schedule='every day').id)\n"
    "    repeats.append(app.schedule_job(type='repeated', data={'shop': 2},\n"
    "                                    cancel_repeats=True).id)\n"
    "    app.send_event('fleet.announced', {'shop': 3}, id='announce-3')\n"
    "print(json.dumps([scheduled, repeats]))\n"
)


def test_racing_processes_dedupe_schedules_repeats_and_events_to_one_job(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    scheduled: list[int] = []
    repeats: list[int] = []
    for out in race(url, tmp_path, RACER, 3):
        first, second = json.loads(out)
        scheduled += first
        repeats += second
    app = fleet.app
    assert len(set(scheduled)) == 1, "one pending occurrence for one schedule call"
    assert len([s for s in app.schedules() if s.source != "code"]) == 1
    assert [r.state for r in app.jobs_list(job="scheduled_at_run_time")] == [
        "scheduled"]
    assert len(set(repeats)) == 30
    states = Counter(r.state for r in app.jobs_list(job="repeated"))
    assert states == Counter({"queued": 1, "cancelled": 29})
    event = app.get_event("announce-3")
    assert event is not None and len(event.runs) == 1
    assert app.count(job="announced", data={"shop": 3}) == 1


TRIGGERS = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('fleet_trigger', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    + AT_THE_GATE +
    "ids = [module.nap(0).run_now().id for n in range(60)]\n"
    "ids += [h.id for h in module.app.enqueue_many(module.nap(0) for n in range(60))]\n"
    "print(json.dumps(ids))\n"
)


DEDUPING = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('fleet_dedupe', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    + AT_THE_GATE +
    "ids = []\n"
    "for n in range(60):\n"
    "    mode = 'replace' if n % 2 else 'unique'\n"
    "    ids.append(module.child(n).run_now(key=f'k{n % 4}', **{mode: True}).id)\n"
    "print(json.dumps(ids))\n"
)


def test_processes_triggering_and_racing_keyed_replace_and_unique_during_the_fleets_claims(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    # Two independent checks on one fleet: every job triggered while the fleet runs is
    # stored and runs once (``nap``), and keyed replace / unique racing the claims never
    # run a cancelled job (``child``).
    workers = start_fleet(fleet, url, tmp_path, 3, concurrency=8,
                          env={"CONVEYOR_TEST_LINGER": "0.02"})
    with running(workers, tmp_path):
        ids = [i for out in race(url, tmp_path, TRIGGERS, 2) for i in json.loads(out)]
        wait_until(lambda: fleet.app.count(job="nap", state="completed") == 240, 30,
                   "every job", tmp_path)
        race(url, tmp_path, DEDUPING, 3)
        wait_until(lambda: fleet.app.count(job="child", state=["queued", "running"]) == 0,
                   30, "the fleet to run what is left", tmp_path)
    assert len(set(ids)) == 240
    ran = Counter(r.job_id for r in executions(tmp_path))
    assert {i: ran[i] for i in ids} == dict.fromkeys(ids, 1)
    records = fleet.app.jobs_list(job="child", limit=1000)
    states = Counter(r.state for r in records)
    assert set(states) <= {"completed", "cancelled"}, states
    keyed = Counter({job_id: n for job_id, n in ran.items() if job_id not in set(ids)})
    assert set(keyed.values()) == {1}
    assert set(keyed) == {r.id for r in records if r.state == "completed"}


def test_a_cascading_cancel_stops_the_children_running_on_other_workers(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    workers = start_fleet(fleet, url, tmp_path, 2, concurrency=3, grace=1)
    with running(workers, tmp_path):
        parent = fleet.lingering_parent().run_now()
        wait_until(lambda: len(executions(tmp_path)) == 4
                   and len({r.pid for r in executions(tmp_path)}) == 2, 20,
                   "the children on both workers", tmp_path)
        assert fleet.app.cancel(parent.id, cascade=True)
        children = fleet.app.get_job(parent.id).children
        wait_until(lambda: all(fleet.app.get_job(c).state == "cancelled" for c in children)
                   and parent.state == "cancelled", 10, "the cancels", tmp_path)
        # Both workers' slots are free again (3 each, 2 children each were running).
        more = [fleet.nap(0.5).run_now() for _ in range(6)]
        wait_until(lambda: all(h.state == "completed" for h in more), 20, "six naps",
                   tmp_path)
    runs = executions(tmp_path)
    assert all(r.end is None for r in runs if r.job_id in children)
    naps = [r for r in runs if r.job_id in {h.id for h in more}]
    # Had the cancelled children kept their slots, each worker would have one free: at
    # most two naps at once. (Which worker claims the naps is its own business.)
    assert len(naps) == 6 and peak_overlap(naps) >= 3
