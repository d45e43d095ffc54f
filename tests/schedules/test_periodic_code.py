"""Schedules declared on definitions, on every store: stored at once with their next
occurrence, upserted by id (deploying twice or changing the text leaves one schedule),
listed by ``app.schedules()``, paused, resumed and removed; each occurrence exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from periodic_helpers import fire_due, next_fire, occurrences, pending, utc

from conveyor import Conveyor, ScheduleError, parse_schedule
from conveyor.errors import ConfigurationError
from conveyor.schedules.periodic import occurrence
from conveyor.stores.base import NewJob


@pytest.fixture
def shared_url(store_url: str) -> str:
    """A store several apps (processes) share: SQLite and PostgreSQL."""
    if store_url == "memory://":
        pytest.skip("each memory:// app has a store of its own")
    return store_url


def deploy(url: str, text: str = "0 3 * * *", **trigger: object) -> Conveyor:
    """An app process declaring the ``nightly`` job (as a deploy would)."""
    app = Conveyor(url, lease=2)

    @app.job(trigger=app.schedule(text, **trigger))  # type: ignore[arg-type]
    def nightly() -> None: ...
    app.sync_schedules()  # as a starting worker does

    return app


def declare_hourly(app: Conveyor) -> None:
    """Job "hourly" on ``every("hour")``, its schedule saved as a starting worker does."""

    @app.job(trigger=app.every("hour"))
    def hourly() -> None: ...

    app.sync_schedules()


def test_a_code_schedule_stores_its_next_occurrence_as_a_scheduled_job(app: Conveyor) -> None:
    @app.job(trigger=app.cron("0 3 * * *", tz="Europe/Paris"))
    def nightly() -> None: ...
    app.sync_schedules()  # as a starting worker does

    [record] = app.schedules()
    assert (record.id, record.job, record.text, record.tz) == (
        "nightly", "nightly", "0 3 * * *", "Europe/Paris")
    assert record.explain == "At 03:00 every day (Europe/Paris time)"
    assert record.source == "code" and not record.paused and record.kind == "cron"
    assert record.next == parse_schedule("0 3 * * *", tz="Europe/Paris").next(count=3)
    assert [(t.hour, t.minute) for t in record.next_local] == [(3, 0)] * 3
    [stored] = pending(app, "nightly")
    assert stored.state == "scheduled" and stored.run_at == record.next[0]
    assert record.next_run == stored.id and record.last_run is None


def test_lists_show_a_code_schedules_next_occurrence_before_any_worker_started(
    app: Conveyor,
) -> None:
    @app.job(trigger=app.every("15 minutes"))
    def tick() -> None: ...

    [stored] = app.jobs_list(state="scheduled")
    assert stored.job == "tick" and stored.run_at == parse_schedule("every 15 minutes").next()[0]
    assert app.count(job="tick", state="scheduled") == 1
    assert app.counts()["scheduled"] == 1  # saved once, not once per read


def test_deploying_twice_leaves_one_schedule_and_one_pending_occurrence(shared_url: str) -> None:
    first, second = deploy(shared_url), deploy(shared_url)
    try:
        assert [s.id for s in second.schedules()] == ["nightly"]
        assert len(pending(second, "nightly")) == 1
    finally:
        first.close()
        second.close()


def test_changing_the_text_replaces_the_definition_and_cancels_its_pending_occurrence(
    shared_url: str,
) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        old = deploy(shared_url, "0 3 * * *")
        new = deploy(shared_url, "every day at 5:15")
    try:
        [record] = new.schedules()
        assert record.text == "every day at 5:15"
        assert next_fire(new, "nightly") == utc(2024, 5, 2, 5, 15)
        replaced, stored = occurrences(new, "nightly")
        assert (replaced.state, replaced.run_at) == ("cancelled", utc(2024, 5, 2, 3))
        assert stored.run_at == utc(2024, 5, 2, 5, 15) and stored.state != "cancelled"
    finally:
        old.close()
        new.close()


def test_an_interval_keeps_counting_from_when_it_was_first_deployed(shared_url: str) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12, 7), tick=False):
        first = deploy(shared_url, "every 90 minutes")
    with time_machine.travel(utc(2024, 5, 1, 12, 31), tick=False):
        second = deploy(shared_url, "every 90 minutes")
    try:
        assert next_fire(second, "nightly") == utc(2024, 5, 1, 13, 37)
    finally:
        first.close()
        second.close()


def test_pausing_removes_the_pending_occurrence_and_resuming_stores_the_next(
    app: Conveyor,
) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        declare_hourly(app)

        assert app.pause_schedule("hourly") is True
        assert pending(app, "hourly") == [] and app.schedules()[0].paused
        assert app.schedules()[0].next == []
    with time_machine.travel(utc(2024, 5, 1, 14, 30), tick=False):
        assert fire_due(app) == []
        assert app.resume_schedule("hourly") is True
    assert next_fire(app, "hourly") == utc(2024, 5, 1, 15)
    assert not app.schedules()[0].paused


def test_a_paused_schedule_stays_paused_when_the_app_starts_again(shared_url: str) -> None:
    first = deploy(shared_url)
    first.pause_schedule("nightly")
    second = deploy(shared_url)
    try:
        assert second.schedules()[0].paused and pending(second, "nightly") == []
    finally:
        first.close()
        second.close()


def test_removing_a_schedule_deletes_it_and_cancels_its_pending_occurrence(app: Conveyor) -> None:
    declare_hourly(app)

    assert app.remove_schedule("hourly") is True
    assert app.schedules() == []
    assert [r.state for r in occurrences(app, "hourly")] == ["cancelled"]  # record kept
    assert app.remove_schedule("hourly") is False


def test_unknown_schedule_ids_are_false(app: Conveyor) -> None:
    assert app.pause_schedule("nope") is False
    assert app.resume_schedule("nope") is False
    assert app.get_schedule("nope") is None


def test_the_last_run_and_its_state_are_listed(app: Conveyor) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        declare_hourly(app)

    with time_machine.travel(utc(2024, 5, 1, 13, 0, 1), tick=False):
        [ran] = fire_due(app)
        record = app.schedules()[0]
    assert record.last_run is not None
    assert (record.last_run.id, record.last_run.state) == (ran, "completed")
    assert record.next[0] == utc(2024, 5, 1, 14)


def _store_at_once(app: Conveyor, jobs: list[NewJob], revision: int) -> list[int | None]:
    """Each job stored three times from its own thread and store connection, at once."""
    ids: list[int | None] = []
    stores = [app.store.clone() for _ in jobs]

    def store_it(i: int) -> None:
        ids.extend(stores[i].add_occurrences([(jobs[i], revision)] * 3))

    threads = [threading.Thread(target=store_it, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in stores:
        if store is not app.store:  # (a memory store's clone is itself)
            store.close()
    return ids


def test_an_occurrence_stored_by_many_threads_at_once_exists_once(app: Conveyor) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        declare_hourly(app)
    app.store.claim("test-worker", None, 10, app.lease)  # the 13:00 one runs: none waits

    row = app.store.get_schedule("hourly")
    assert row is not None
    job = occurrence(row, utc(2024, 5, 1, 18).timestamp(), None)
    ids = _store_at_once(app, [job] * 6, row.revision)
    assert len(ids) == 18 and len(set(ids)) == 1 and None not in ids
    assert [r.run_at for r in pending(app, "hourly")] == [utc(2024, 5, 1, 18)]


def test_a_schedule_keeps_one_next_occurrence_however_many_store_one(app: Conveyor) -> None:
    """A worker storing the occurrence after the one it claimed and the maintenance
    leader filling that gap compute it at two moments that may straddle a fire time:
    whichever stores second keeps the first one's (SQLite and PostgreSQL alike)."""
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        declare_hourly(app)
    [claimed] = app.store.claim("test-worker", None, 10, app.lease)

    row = app.store.get_schedule("hourly")
    assert row is not None
    jobs = [occurrence(row, utc(2024, 5, 1, 14 + i).timestamp(), claimed.id) for i in range(6)]
    ids = _store_at_once(app, jobs, row.revision)
    assert len(ids) == 18 and len(set(ids)) == 1 and None not in ids
    [waiting] = pending(app, "hourly")
    assert waiting.id == ids[0] and waiting.rescheduled_from == claimed.id


def test_an_occurrence_of_a_paused_or_changed_schedule_is_refused(app: Conveyor) -> None:
    declare_hourly(app)

    row = app.store.get_schedule("hourly")
    assert row is not None
    later = occurrence(row, row.created_at + 86400 * 3, None)
    assert app.store.add_occurrences([(later, row.revision + 1)]) == [None]
    app.pause_schedule("hourly")
    assert app.store.add_occurrences([(later, row.revision)]) == [None]


def test_triggers_explain_themselves_and_refuse_bad_text(app: Conveyor) -> None:
    trigger = app.every("15 minutes")
    assert trigger.kind == "interval" and trigger.explain().startswith("Every 15 minutes")
    assert trigger.next(utc(2024, 1, 1, 0, 7), count=2) == [
        utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 0, 30)]
    assert app.cron("@daily").schedule.cron == "0 0 * * *"
    with pytest.raises(ScheduleError, match="not a cron expression: 'every day'"):
        app.cron("every day")
    with pytest.raises(ScheduleError, match='unknown word "blursday"'):
        app.schedule("every blursday")
    with pytest.raises(ConfigurationError, match="invalid misfire"):
        app.every("hour", misfire="soon")


def test_every_takes_an_amount_and_a_unit_as_run_in_does(app: Conveyor) -> None:
    assert app.every(15, "minutes").schedule.text == "every 15 minutes"
    assert app.every(1, "hour").explain() == "Every hour"
    paris = app.every(15, tz="Europe/Paris").schedule  # a number alone is seconds
    assert (paris.text, paris.tz) == ("every 15 seconds", "Europe/Paris")


def test_occurrences_carry_the_definitions_options(app: Conveyor) -> None:
    @app.job(trigger=app.every("hour"), queue="reports", priority="high", retry=3,
             timeout=60)
    def report() -> None: ...
    app.sync_schedules()  # as a starting worker does

    [job] = pending(app, "report")
    assert (job.queue, job.priority, job.max_attempts) == ("reports", 10, 4)
    assert job.rescheduled_from is None and job.schedule_id == "report"
    assert job.run_at - job.created_at <= timedelta(hours=1)


def test_a_scheduled_job_must_be_callable_without_arguments(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match=r"called without arguments.*'x'"):
        @app.job(trigger=app.every("hour"))
        def needs_x(x: int, meta: object) -> None: ...
        app.sync_schedules()  # as a starting worker does

    @app.job(trigger=app.every("hour"))
    def has_defaults(meta: object, x: int = 1) -> None: ...
    app.sync_schedules()  # as a starting worker does

    assert [s.id for s in app.schedules()] == ["has_defaults"]


def test_the_leader_stores_a_missing_next_occurrence_linked_to_the_latest(
    app: Conveyor,
) -> None:
    with time_machine.travel(utc(2024, 5, 1, 12), tick=False):
        declare_hourly(app)

    with time_machine.travel(utc(2024, 5, 1, 13, 0, 1), tick=False):
        # a worker claimed the occurrence and died before storing the next one
        [claimed] = app.store.claim("doomed", None, 10, app.lease)
        assert pending(app, "hourly") == []
        app.maintain(app.store, leader=False)
        assert pending(app, "hourly") == []  # only the leader fills gaps
        app.maintain(app.store, leader=True)
    [following] = pending(app, "hourly")
    assert following.run_at == utc(2024, 5, 1, 14)
    assert following.rescheduled_from == claimed.id
