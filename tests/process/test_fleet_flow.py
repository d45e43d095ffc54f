"""Black-box, SPEC §9 across a fleet: several ``conveyor``-worker processes on one SQLite
file or one PostgreSQL database. Per-key concurrency, a queue's concurrency and rate, and
a job paused from the command line hold across the processes, not per process."""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

import pytest

from .fleet import cli, start_fleet
from .helpers import assert_no_overlap, executions, peak, running, stop, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]


SHOPS = (20_001, 20_002, 20_003)  # the ledger ids of per_shop, clear of the run ids


def test_a_concurrency_key_and_a_job_paused_from_the_cli_hold_across_workers(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    # Two independent checks on one fleet: one run per key at a time with keys side by
    # side, and a job paused from the command line held by every worker until resumed.
    workers = start_fleet(fleet, url, tmp_path, 3, concurrency=2)
    with running(workers, tmp_path):
        paused = cli(url, tmp_path, "pause", "--job", "paused_job")
        assert paused.returncode == 0, paused.stderr
        assert fleet.app.paused_jobs() == ["paused_job"]
        held = [fleet.paused_job().run_now() for _ in range(4)]
        handles = fleet.app.enqueue_many(
            fleet.per_shop({"shop_id": shop, "seconds": 0.15})
            for _ in range(4) for shop in SHOPS)
        markers = [fleet.metered().run_now() for _ in range(4)]
        wait_until(lambda: all(h.state == "completed" for h in handles + markers), 30,
                   "the jobs not paused", tmp_path)
        time.sleep(0.5)  # the workers poll every 50 ms meanwhile
        assert [h.state for h in held] == ["queued"] * 4
        resumed = cli(url, tmp_path, "resume", "--job", "paused_job")
        assert resumed.returncode == 0, resumed.stderr
        wait_until(lambda: all(h.state == "completed" for h in held), 20,
                   "the paused jobs after resume", tmp_path)
    every = executions(tmp_path)
    runs = [r for r in every if r.job_id in SHOPS]
    assert sorted(r.attempt for r in runs) == sorted(h.id for h in handles)  # each once
    assert_no_overlap(runs, {})  # one run per shop at a time, whichever process ran it
    assert {fleet.app.get_job(h.id).concurrency_key for h in handles} == {
        str(shop) for shop in SHOPS}
    assert len({r.pid for r in every}) >= 2  # the fleet shared the work
    # Six slots and three keys: the shops ran side by side, not one after another.
    assert peak([(r.start, r.end or r.start) for r in runs]) >= 2
    assert fleet.app.paused_jobs() == []
    ran = [r.job_id for r in every if r.job_id not in SHOPS]
    assert sorted(ran) == sorted(h.id for h in held + markers)


def _rate_holds(starts: list[float], most: int) -> bool:
    """No more than ``most`` of the stored start times in any one-second window."""
    starts = sorted(starts)
    return all(sum(1 for s in starts[i:] if s < first + 1.0) <= most
               for i, first in enumerate(starts))


def test_a_queue_concurrency_a_queue_rate_and_a_rate_per_key_hold_across_workers(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    # Three independent limits on one fleet (its start-up is most of the time). The work
    # comes once all three run (one slow to start on a busy machine found it done: a
    # single process ran every job).
    workers = start_fleet(fleet, url, tmp_path, 3, concurrency=4)
    with running(workers, tmp_path):
        narrow = fleet.app.enqueue_many(
            (fleet.narrow_a if n % 2 else fleet.narrow_b)(0.1) for n in range(16))
        metered = fleet.app.enqueue_many(fleet.metered() for _ in range(45))
        keyed = fleet.app.enqueue_many(
            fleet.metered_shop({"shop_id": shop}) for _ in range(22) for shop in ("a", "b"))
        wait_until(lambda: all(h.state == "completed" for h in narrow + metered + keyed), 30,
                   "all runs", tmp_path)
    runs = executions(tmp_path)
    # A queue's concurrency: on the runs' own spans. Not on the stored times: PostgreSQL
    # stamps a claim with its transaction's start, and a claim that waited for another
    # worker's outcome to free the slot began before it.
    narrow_runs = [r for r in runs if r.job_id in {h.id for h in narrow}]
    assert len(narrow_runs) == 16 and all(r.end is not None for r in narrow_runs)
    assert peak([(r.start, r.end or 0.0) for r in narrow_runs]) <= 2
    [info] = [q for q in fleet.app.queues() if q.name == "narrow"]
    assert info.concurrency == 2 and info.counts.get("completed") == 16
    # A queue's rate: on the store's start times.
    starts = [fleet.app.get_job(h.id).started_at.timestamp() for h in metered]
    assert _rate_holds(starts, 20), sorted(starts)
    # The fleet shared the work (which process ran a given job is its own business: a
    # worker storing outcomes claims the next due jobs in the same transaction).
    assert len({r.pid for r in runs}) >= 2
    # A rate per concurrency key: held back, never failed, for each key on its own.
    records = [fleet.app.get_job(h.id) for h in keyed]
    assert {r.attempts for r in records} == {1}
    for shop in ("a", "b"):
        starts = [r.started_at.timestamp() for r in records if r.concurrency_key == shop]
        assert len(starts) == 22 and _rate_holds(starts, 10), (shop, sorted(starts))
    # Per key, not for the job as a whole: both shops started in the first window.
    every = sorted((r.started_at.timestamp(), r.concurrency_key) for r in records)
    assert {key for at, key in every if at < every[0][0] + 1.0} == {"a", "b"}


def test_a_job_claimed_ahead_behind_slow_runs_goes_to_an_idle_worker(
    fleet: ModuleType, url: str, tmp_path: Path
) -> None:
    # Quick jobs first: the worker claims ahead (it holds more than it runs) while jobs
    # finish within 50 ms, so it may take the third slow job with the two it can run.
    [busy] = start_fleet(fleet, url, tmp_path, 1, concurrency=2)
    idle = None
    try:
        quick = fleet.app.enqueue_many(fleet.nap(0) for _ in range(20))
        wait_until(lambda: all(h.state == "completed" for h in quick), 20, "quick jobs",
                   tmp_path)
        [idle] = start_fleet(fleet, url, tmp_path, 1, concurrency=2)
        slow = fleet.app.enqueue_many(fleet.nap(2.0) for _ in range(3))
        assert [h.result(timeout=20) for h in slow] == [2.0] * 3
    finally:
        stop(busy)
        if idle is not None:
            stop(idle)
    runs = [r for r in executions(tmp_path) if r.job_id in {h.id for h in slow}]
    assert len(runs) == 3
    # None waited in a worker for another to end (the claimed-ahead job waiting for a slot
    # of the busy worker): each worker's runs started before any of its runs ended. Not
    # timed: a busy machine may start the idle worker's run late.
    assert len({r.pid for r in runs}) == 2, runs
    for pid in {r.pid for r in runs}:
        mine = [r for r in runs if r.pid == pid]
        assert max(r.start for r in mine) < min(r.end or 0.0 for r in mine), runs
    assert {fleet.app.get_job(h.id).attempts for h in slow} == {1}
