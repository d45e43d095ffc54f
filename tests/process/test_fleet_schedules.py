"""Black-box, SPEC §6 across a fleet of worker processes on one SQLite file or one
PostgreSQL database: after downtime, workers starting together run a missed occurrence
once; ``cancel_jobs`` ends a run-time schedule while one of its occurrences runs on the
fleet; a paused schedule stores nothing until resumed, whichever worker looks."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import start_fleet
from .helpers import executions, running, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


TICK = {"CONVEYOR_TEST_TICK": "1"}
UPKEEP = 0.2  # the workers' maintenance interval (where schedules fire)
QUIET = timedelta(seconds=1.0 + 3 * UPKEEP)  # a fire time and the passes that would run it


def _wait_past(moment: datetime, what: str, tmp: Path) -> None:
    wait_until(lambda: datetime.now(UTC) > moment, 10, what, tmp)


def test_workers_starting_together_after_downtime_run_a_missed_occurrence_once(
    ticking: ModuleType, url: str, tmp_path: Path
) -> None:
    [first] = start_fleet(ticking, url, tmp_path, 1, env=TICK)
    wait_until(lambda: executions(tmp_path), 20, "a first occurrence", tmp_path)
    assert stop(first) == 0
    latest = max(r.run_at for r in ticking.app.jobs_list(schedule_id="tick", limit=1000))
    _wait_past(latest + timedelta(seconds=1.1), "two fire times with no worker", tmp_path)
    before = len(executions(tmp_path))
    workers = start_fleet(ticking, url, tmp_path, 3, env=TICK, concurrency=2)
    with running(workers, tmp_path):
        wait_until(lambda: len(executions(tmp_path)) >= before + 2, 20,
                   "occurrences after the downtime", tmp_path)
    found = ticking.app.jobs_list(schedule_id="tick", newest_first=False, limit=1000)
    ran = Counter(r.job_id for r in executions(tmp_path))
    assert max(ran.values()) == 1
    assert len({r.run_at for r in found}) == len(found), "an occurrence was stored twice"
    assert [r.rescheduled_from for r in found[1:]] == [r.id for r in found[:-1]]
    gaps = [(b.run_at - a.run_at).total_seconds() for a, b in itertools.pairwise(found)]
    assert sum(g > 1 for g in gaps) <= 2, gaps  # the downtime is skipped, not replayed


RUNTIME = {"type": "scheduled_at_run_time", "data": {"shop": 9}, "schedule": "every 1 second"}


@pytest.fixture
def runtime(fleet: ModuleType) -> ModuleType:
    """The fleet app with the run-time schedule RUNTIME stored."""
    fleet.app.schedule_job(**RUNTIME)
    return fleet


def test_cancel_jobs_ends_a_run_time_schedule_while_an_occurrence_runs_on_the_fleet(
    runtime: ModuleType, url: str, tmp_path: Path
) -> None:
    workers = start_fleet(runtime, url, tmp_path, 2, env={"CONVEYOR_TEST_LINGER": "0.6"},
                          maintenance_interval=UPKEEP)
    with running(workers, tmp_path):
        wait_until(lambda: any(r.end is None for r in executions(tmp_path)), 20,
                   "an occurrence running", tmp_path)
        assert runtime.app.cancel_jobs(type="scheduled_at_run_time", data={"shop": 9}) >= 1
        wait_until(lambda: all(r.end for r in executions(tmp_path)), 10,
                   "the running occurrence to end", tmp_path)
        ran = len(executions(tmp_path))
        _wait_past(datetime.now(UTC) + QUIET, "a fire time after the cancel", tmp_path)
    assert len(executions(tmp_path)) == ran, "an occurrence ran after the cancel"
    assert [s for s in runtime.app.schedules() if s.source == "runtime"] == []
    states = {r.state for r in runtime.app.jobs_list(job="scheduled_at_run_time")}
    assert states <= {"completed", "cancelled"}, states


def test_a_paused_schedule_stores_and_runs_nothing_on_any_worker_until_resumed(
    runtime: ModuleType, url: str, tmp_path: Path
) -> None:
    [schedule] = [s for s in runtime.app.schedules() if s.source == "runtime"]
    workers = start_fleet(runtime, url, tmp_path, 2, maintenance_interval=UPKEEP)
    with running(workers, tmp_path):
        wait_until(lambda: executions(tmp_path), 20, "an occurrence", tmp_path)
        assert runtime.app.pause_schedule(schedule.id)
        wait_until(lambda: all(r.end for r in executions(tmp_path)), 10,
                   "the running occurrence to end", tmp_path)
        ran = len(executions(tmp_path))
        _wait_past(datetime.now(UTC) + QUIET, "a fire time while paused", tmp_path)
        assert len(executions(tmp_path)) == ran, "an occurrence ran while paused"
        assert runtime.app.count(job="scheduled_at_run_time",
                               state=["scheduled", "queued"]) == 0
        assert runtime.app.resume_schedule(schedule.id)
        wait_until(lambda: len(executions(tmp_path)) >= ran + 2, 20,
                   "occurrences after resume", tmp_path)
    assert max(Counter(r.job_id for r in executions(tmp_path)).values()) == 1

