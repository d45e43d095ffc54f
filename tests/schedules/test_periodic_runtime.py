"""Run-time schedules (``schedule_job(..., schedule=...)``, ``schedule_cron_job``), real
workers running schedules, and the built-in retention cleanup schedule, on every store."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from periodic_helpers import occurrences, pending

from conveyor import Conveyor, ScheduleError
from conveyor.errors import ConfigurationError
from conveyor.schedules.periodic import PURGE_JOB
from conveyor.testing import FakeClock


@pytest.fixture
def sync_shop(app: Conveyor) -> list[Any]:
    seen: list[Any] = []

    @app.job
    def sync_shop(data: Any) -> None:
        seen.append(data)

    return seen


def test_schedule_job_stores_a_schedule_and_returns_its_first_occurrence(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    handle = app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every day at 4:00",
                              priority="high", retry={"retries": 2, "wait": 1000})
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"
    assert (record.run_at.hour, record.run_at.minute) == (4, 0)
    assert record.args == [{"shop_id": 1}] and record.priority == 10
    assert record.max_attempts == 3 and record.schedule_id is not None
    [schedule] = app.schedules()
    assert schedule.source == "runtime" and schedule.job == "sync_shop"
    assert schedule.next_run == handle.id


def test_a_schedule_stored_with_its_data_keys_unsorted_keeps_its_id(
    app: Conveyor, sync_shop: list[Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = {"shop_id": 1, "region": "eu"}
    with monkeypatch.context() as earlier:  # ids counted the keys' order
        earlier.setattr("conveyor.schedules.runtime._canonical", lambda text: text)
        app.schedule_job("sync_shop", data, schedule="every day at 4:00")
    again = app.schedule_job("sync_shop", data, schedule="every day at 4:00")
    [schedule] = app.schedules()  # updated, not added
    assert [r.id for r in pending(app, schedule.id)] == [again.id]


def test_keyless_schedule_ids_of_ordinary_data_are_unchanged(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    data = {"shop": "Zürich ✓", "id": 1, "rate": 0.1, "tags": [{"b": None, "a": True}],
            "big": 10**20, "e": 1e-7}
    first = app.schedule_job("sync_shop", data, schedule="every day at 4:00")
    second = app.schedule_job("sync_shop", [3, {"z": "é", "a": -0.5}], schedule="every hour")
    ids = [app.get_job(h.id).schedule_id for h in (first, second)]  # type: ignore[union-attr]
    assert ids == ["sync_shop:d5c4785903bc", "sync_shop:4cfe6003ee8e"]  # as stored before


def test_keyless_schedules_take_the_apps_raised_limits(new_app: Any) -> None:
    app = new_app(max_payload=8 * 1024 * 1024, max_depth=100)
    app.job("big")(lambda data: None)
    deep: Any = "x"
    for _ in range(80):
        deep = [deep]
    for data in ({"blob": "x" * (2 * 1024 * 1024)}, deep):
        handle = app.schedule_job("big", data, schedule="every day")
        assert app.get_job(handle.id).args == [data]
    assert len(app.schedules()) == 2


def test_cancel_repeats_replaces_the_previous_runtime_schedule_and_pending_jobs(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    one_off = app.schedule_job("sync_shop", {"shop_id": 9})
    first = app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour")
    second = app.schedule_job("sync_shop", {"shop_id": 2}, schedule="every day at 5:00",
                              cancel_repeats=True)
    [schedule] = app.schedules()
    assert schedule.text == "every day at 5:00"
    assert app.get_job(one_off.id).state == "cancelled"  # type: ignore[union-attr]
    replaced = app.get_job(first.id)  # the old schedule's occurrence, kept as cancelled
    assert replaced is not None and replaced.state == "cancelled"
    assert [r.id for r in pending(app, schedule.id)] == [second.id]


def test_the_same_key_updates_one_schedule_and_other_keys_add_their_own(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour", key="shop-1")
    app.schedule_job("sync_shop", {"shop_id": 2}, schedule="every hour", key="shop-2")
    app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every 2 hours", key="shop-1")
    found = {s.id: s.text for s in app.schedules()}
    assert found == {"sync_shop:shop-1": "every 2 hours", "sync_shop:shop-2": "every hour"}
    assert all(len(pending(app, sid)) == 1 for sid in found)


def test_the_same_call_again_keeps_its_schedule_and_occurrence(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    first = app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour",
                             cancel_repeats=True)
    again = app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour",
                             cancel_repeats=True)
    kept = app.schedule_job("sync_shop", {"shop_id": 7}, schedule="every minute", unique=True)
    assert first.id == again.id == kept.id
    assert [s.text for s in app.schedules()] == ["every hour"]


def test_without_a_key_each_call_adds_a_schedule(app: Conveyor, sync_shop: list[Any]) -> None:
    app.schedule_job("sync_shop", {"shop_id": 1}, schedule="every hour")
    app.schedule_job("sync_shop", {"shop_id": 2}, schedule="every hour")
    assert len(app.schedules()) == 2


def test_schedule_cron_job_repeats_a_reaction_worker_per_owner(app: Conveyor) -> None:
    app.add_worker(type="report", worker=lambda job: job.done())
    app.schedule_cron_job("report", "0 6 * * 1", data={"user": 5}, owner=5)
    handle = app.schedule_cron_job("report", "30 6 * * 1", data={"user": 5}, owner=5)
    app.schedule_cron_job("report", "0 7 * * 1", data={"user": 6}, owner=6)
    found = {s.id: s.text for s in app.schedules()}
    assert found == {"report:runtime:owner=5": "30 6 * * 1", "report:runtime:owner=6": "0 7 * * 1"}
    record = app.get_job(handle.id)
    assert record is not None and record.owner == 5 and record.run_at.weekday() == 0
    with pytest.raises(ScheduleError, match="not a cron expression: 'every monday'"):
        app.schedule_cron_job("report", "every monday")


def test_bad_runtime_schedules_are_refused_before_anything_is_stored(
    app: Conveyor, sync_shop: list[Any],
) -> None:
    with pytest.raises(ScheduleError, match='unknown word "fortnight"'):
        app.schedule_job("sync_shop", {}, schedule="every fortnight")
    with pytest.raises(ConfigurationError, match="unknown trigger option 'colour'"):
        app.schedule_job("sync_shop", {}, schedule="every day", colour="red")
    with pytest.raises(ConfigurationError, match="invalid misfire"):
        app.schedule_job("sync_shop", {}, schedule="every day", misfire=-1)
    assert app.schedules() == [] and app.count() == 0


def test_a_worker_runs_each_occurrence_once_and_links_it_to_the_previous(
    app: Conveyor,
) -> None:
    runs: list[int] = []

    @app.job(trigger=app.every("1 second"))
    def tick(meta: Any) -> None:
        runs.append(meta.job.id)

    # The app's clock moves instead of the test sleeping (real processes racing a real
    # 1-second schedule: tests/process/test_schedule_processes.py).
    with FakeClock(app, start=datetime(2030, 1, 1, 12, tzinfo=UTC), patch_python=False) as clock:
        app.sync_schedules()  # as a starting worker does
        for _ in range(3):
            clock.advance(1)
            app.run_worker(burst=True)
        found = occurrences(app, "tick")
    done = [r for r in found if r.state == "completed"]
    assert len(done) == 3 and sorted(runs) == [r.id for r in done]
    assert [r.rescheduled_from for r in found[1:]] == [r.id for r in found[:-1]]
    steps = [b.run_at - a.run_at for a, b in itertools.pairwise(found)]
    assert steps == [timedelta(seconds=1)] * 3  # no occurrence skipped, none twice
    assert found[-1].state in ("scheduled", "queued")


def test_retention_cleanup_is_a_system_schedule_once_jobs_expire(app: Conveyor) -> None:
    clock = FakeClock(app, start=datetime(2030, 1, 1, 10, 7, tzinfo=UTC))

    @app.job(retention="1 hour")
    def short_lived() -> None: ...

    app.run_worker(burst=True)
    assert PURGE_JOB not in [s.id for s in app.schedules()]  # nothing expires yet
    handle = short_lived().run_now()
    app.run_worker(burst=True)
    [purge] = [s for s in app.schedules() if s.id == PURGE_JOB]
    assert purge.source == "system" and purge.explain == "Every hour"
    assert PURGE_JOB not in app.jobs and app.get_job(handle.id) is not None
    clock.advance(2, "hours")  # no worker ran since: the cleanup run purges it
    definition = app.definition(PURGE_JOB)
    assert definition is not None and definition.fn() == {"purged": 1, "events": 0}
    assert app.get_job(handle.id) is None


def test_a_worker_purges_a_run_whose_retention_has_passed_without_waiting_for_the_hour(
    app: Conveyor,
) -> None:
    @app.job(retention=0)
    def short_lived() -> None: ...

    handle = short_lived().run_now()
    app.run_worker(burst=True)
    assert app.get_job(handle.id) is None


def test_the_purge_schedule_runs_on_a_worker(store_url: str) -> None:
    if store_url.startswith("postgresql"):
        pytest.skip("the database clock decides what is due; this test moves the host clock")
    with Conveyor(store_url, retention="1 hour") as app:
        @app.job
        def work() -> None: ...

        handle = work().run_now()
        app.run_worker(burst=True)
        assert app.get_job(handle.id) is not None
        with time_machine.travel(time.time() + 7201, tick=True):
            app.run_worker(burst=True)
        assert app.get_job(handle.id) is None
        # The hourly run, or the worker's own pass before it, purged the expired run.
        [ran] = [r for r in app.jobs_list(job=PURGE_JOB) if r.state == "completed"]
        assert ran.result in ({"purged": 1, "events": 0}, {"purged": 0, "events": 0})
