"""Flow control across real worker processes (SPEC §9): limits hold globally, not per
process; a pause holds every worker until resumed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from conveyor.stores.base import JobFilter

from .helpers import executions, load_app_file, spawn_worker, stop, wait_until

pytestmark = pytest.mark.slow
FLOW_APP = Path(__file__).with_name("flow_app.py")


@pytest.fixture
def flow(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The flow test app, loaded in this process on ``url`` (to trigger and inspect)."""
    yield from load_app_file(FLOW_APP, url, monkeypatch)


def _sample(app: object, job: str, stop_sampling: threading.Event, seen: list[int]) -> None:
    store = app.store.clone()  # type: ignore[attr-defined]
    while not stop_sampling.is_set():
        seen.append(store.count(JobFilter(states=["running"], jobs=[job])))
        time.sleep(0.005)


def test_four_workers_never_run_more_than_the_global_concurrency(
    flow: ModuleType, url: str, tmp_path: Path
) -> None:
    # One slot per worker: four workers could run 4 at once, so only the store's global
    # limit keeps it at 3, and the work is necessarily shared between processes.
    workers = [spawn_worker(url, tmp_path, app_file=FLOW_APP, concurrency=1,
                            poll_interval=0.05) for _ in range(4)]
    wait_until(lambda: len(flow.app.store.workers(60)) == 4, 30, "4 workers", tmp_path)
    handles = flow.app.enqueue_many(flow.limited(0.1) for _ in range(24))
    seen: list[int] = []
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=_sample, args=(flow.app, "limited", stop_sampling, seen))
    sampler.start()
    try:
        wait_until(lambda: all(h.state == "completed" for h in handles), 90, "all jobs",
                   tmp_path)
    finally:
        stop_sampling.set()
        sampler.join()
        for w in workers:
            stop(w)
    assert max(seen) <= 3
    runs = executions(tmp_path)
    assert len(runs) == 24 and len({r.pid for r in runs}) >= 3
    stamps = sorted([(r.start, 1) for r in runs] + [(r.end or 0.0, -1) for r in runs],
                    key=lambda s: (s[0], s[1]))  # an end at the same instant goes first
    running = peak = 0
    for _, step in stamps:
        running += step
        peak = max(peak, running)
    assert peak <= 3  # from the jobs' own clocks too


def test_a_rate_limit_holds_across_workers_in_every_window(
    flow: ModuleType, url: str, tmp_path: Path
) -> None:
    handles = flow.app.enqueue_many(flow.rated() for _ in range(130))
    workers = [spawn_worker(url, tmp_path, app_file=FLOW_APP, concurrency=8,
                            poll_interval=0.05) for _ in range(3)]
    try:
        wait_until(lambda: all(h.state == "completed" for h in handles), 90, "all jobs",
                   tmp_path)
    finally:
        for w in workers:
            stop(w)
    # The store's start times (its clock decides) never put more than 50 in any
    # one-second window; the window starting at each start is the worst case.
    starts = sorted(flow.app.get_job(h.id).started_at.timestamp() for h in handles)
    for i, first in enumerate(starts):
        assert sum(1 for s in starts[i:i + 60] if s < first + 1.0) <= 50
    # Each job ran after its claim. (Not that their own stamps keep to the rate: a busy
    # machine delays a thread's start after its claim, bunching runs of two windows.)
    started = {h.id: flow.app.get_job(h.id).started_at.timestamp() for h in handles}
    runs = executions(tmp_path)
    assert sorted(r.job_id for r in runs) == sorted(started)
    assert all(r.start >= started[r.job_id] - 0.001 for r in runs)


def test_a_paused_queue_holds_every_worker_then_drains_after_resume(
    flow: ModuleType, url: str, tmp_path: Path
) -> None:
    flow.app.pause(queue="held")
    handles = [flow.in_held_queue().run_now() for _ in range(5)]
    marker = flow.limited(0).run_now()
    workers = [spawn_worker(url, tmp_path, app_file=FLOW_APP, poll_interval=0.05)
               for _ in range(2)]
    try:
        wait_until(lambda: marker.state == "completed", 30, "the unpaused job", tmp_path)
        time.sleep(0.5)  # the workers poll the held queue 10 times meanwhile
        assert [h.state for h in handles] == ["queued"] * 5
        flow.app.resume(queue="held")
        wait_until(lambda: all(h.state == "completed" for h in handles), 30,
                   "the held jobs after resume", tmp_path)
    finally:
        for w in workers:
            stop(w)
