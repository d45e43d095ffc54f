"""Black-box, SPEC §4-§10 at once across a fleet of worker processes on one SQLite file
or one PostgreSQL database: plain, limited, keyed, durable and scheduled work side by
side while one worker is killed -9; every invariant of the single-feature fleet tests
holds together."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import ran_once, start_with_victim
from .helpers import by_job, executions, peak, running, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def test_mixed_work_on_a_fleet_with_a_kill_9_runs_each_thing_once_within_its_limits(
    ticking: ModuleType, url: str, tmp_path: Path
) -> None:
    fleet, app = ticking, ticking.app
    tick = {"CONVEYOR_TEST_TICK": "1"}
    victim, survivors = start_with_victim(fleet, url, tmp_path, 2, env=tick, concurrency=4,
                                          maintenance_interval=0.2)
    with running(survivors, tmp_path, kill=victim):
        plain = app.enqueue_many(fleet.nap(0.05) for _ in range(30))
        paired = app.enqueue_many(fleet.pair(0.1) for _ in range(8))
        shops = app.enqueue_many(fleet.per_shop({"shop_id": 20_000 + n % 2, "seconds": 0.05})
                                 for n in range(8))
        durable = [fleet.steps(n).run_now() for n in range(30_000, 30_003)]
        wait_until(lambda: len({r.pid for r in executions(tmp_path)}) >= 2
                   and len(executions(tmp_path)) >= 20, 20, "work under way", tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        victim.wait(5)
        wait_until(lambda: all(h.state == "completed" for h in plain + paired + shops), 30,
                   "the plain, limited and keyed runs", tmp_path)
        assert [h.result(timeout=20) for h in durable] == [[10, 20, 30, 40, 50]] * 3
    runs = executions(tmp_path)
    ends = {r.pid: killed_at for r in runs if r.pid == victim.pid}
    groups = by_job(runs)
    for handle in plain + paired:
        assert ran_once(groups[handle.id], victim.pid, killed_at), (groups[handle.id],
                                                                   killed_at)
    spans = [(r.start, r.end or ends[r.pid]) for h in paired for r in groups[h.id]]
    assert peak(spans) <= 2
    for shop in (20_000, 20_001):
        shop_runs = sorted(groups[shop], key=lambda r: r.start)
        for run_id in {r.attempt for r in shop_runs}:
            assert ran_once([r for r in shop_runs if r.attempt == run_id], victim.pid,
                            killed_at), (shop_runs, killed_at)
        assert peak([(r.start, r.end or ends[r.pid]) for r in shop_runs]) == 1
    for run in range(30_000, 30_003):
        for step in range(1, 6):
            assert ran_once([r for r in groups[run] if r.attempt == step], victim.pid,
                            killed_at), (groups[run], killed_at)
    ticks = app.jobs_list(schedule_id="tick", newest_first=False, limit=1000)
    for tick in ticks:
        if tick.state == "completed":
            assert ran_once(groups[tick.id], victim.pid, killed_at), groups[tick.id]
    assert len({t.run_at for t in ticks}) == len(ticks)
