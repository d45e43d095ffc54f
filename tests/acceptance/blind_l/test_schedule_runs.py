"""§6 schedules at run time: the stored next occurrence, the rescheduled_from chain,
downtime, run-time schedule identity, cancel_jobs ending a schedule, and pausing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def _occurrences(app: Conveyor, job: str) -> list[object]:
    return app.jobs_list(job=job, newest_first=False)


def test_interval_schedule_chain_and_downtime(app: Conveyor, clock: FakeClock) -> None:
    clock.advance(7, "minutes")  # 08:07

    @app.job("tick", trigger=app.every("15 minutes"))
    def tick(meta):  # type: ignore[no-untyped-def]
        return meta.job.run_at.isoformat()

    [first] = _occurrences(app, "tick")
    assert (first.state, first.run_at) == ("scheduled", START + timedelta(minutes=15))
    assert first.rescheduled_from is None
    clock.advance(8, "minutes")
    run_until_idle(app)
    done, following = _occurrences(app, "tick")
    assert done.id == first.id and done.state == "completed"
    assert following.state == "scheduled"
    assert following.run_at == START + timedelta(minutes=30)
    assert following.rescheduled_from == first.id
    clock.advance(1, "day")  # downtime: 96 missed occurrences
    run_until_idle(app)
    states = [record.state for record in _occurrences(app, "tick")]
    assert states == ["completed", "completed", "scheduled"]
    last = _occurrences(app, "tick")[-1]
    assert last.run_at == START + timedelta(days=1, minutes=30)


def test_cron_trigger_in_a_zone_stores_local_wall_time(app: Conveyor, clock: FakeClock) -> None:
    @app.job("nightly", trigger=app.cron("0 3 * * *", tz="Europe/Paris"))
    def nightly():  # type: ignore[no-untyped-def]
        return None

    [occurrence] = _occurrences(app, "nightly")
    assert occurrence.run_at == datetime(2030, 1, 8, 2, 0, tzinfo=UTC)


def test_runtime_schedule_is_identified_by_type_text_and_data(
    app: Conveyor, clock: FakeClock
) -> None:
    seen: list[object] = []

    @app.job("sync-shop")
    def sync_shop(data):  # type: ignore[no-untyped-def]
        seen.append(data)

    one = app.schedule_job(type="sync-shop", data={"shop": 1, "deep": {"a": 1}},
                           schedule="every day")
    again = app.schedule_job(type="sync-shop", data={"deep": {"a": 1}, "shop": 1},
                             schedule="every day")
    other = app.schedule_job(type="sync-shop", data={"shop": 2}, schedule="every day")
    assert again.id == one.id or record_of(app, one.id).state == "cancelled"
    pending = app.jobs_list(job="sync-shop", state="scheduled")
    assert len(pending) == 2
    assert {tuple(r.args) == ({"shop": 2},) or r.args == [{"shop": 2}] for r in pending}
    assert record_of(app, other.id).run_at == datetime(2030, 1, 8, tzinfo=UTC)
    clock.advance(1, "day")
    run_until_idle(app)
    assert sorted(d["shop"] for d in seen) == [1, 2]  # type: ignore[index]
    assert app.count(job="sync-shop", state="scheduled") == 2


def test_cancel_jobs_matching_an_occurrence_ends_its_schedule(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job("ping")
    def ping(data):  # type: ignore[no-untyped-def]
        return data

    app.schedule_job(type="ping", data={"shop_id": 7, "x": 1}, schedule="every hour")
    keep = app.schedule_job(type="ping", data={"shop_id": 8}, schedule="every hour")
    assert app.cancel_jobs(type="ping", data={"shop_id": 7}) == 1
    clock.advance(3, "hours")
    run_until_idle(app)
    ran = app.jobs_list(job="ping", state="completed")
    assert [r.args for r in ran] == [[{"shop_id": 8}]]
    assert app.count(job="ping", state="scheduled") == 1
    assert record_of(app, keep.id).state == "completed"


def test_cancelling_one_occurrence_skips_only_that_one(app: Conveyor, clock: FakeClock) -> None:
    @app.job("hourly", trigger=app.every("1 hour"))
    def hourly():  # type: ignore[no-untyped-def]
        return None

    [first] = _occurrences(app, "hourly")
    assert app.cancel(first.id) is True
    run_until_idle(app)
    pending = app.jobs_list(job="hourly", state="scheduled")
    assert [r.run_at for r in pending] == [START + timedelta(hours=2)]


def test_paused_scheduled_job_runs_once_after_resume(app: Conveyor, clock: FakeClock) -> None:
    @app.job("pausable", trigger=app.every("10 minutes"))
    def pausable():  # type: ignore[no-untyped-def]
        return None

    assert len(_occurrences(app, "pausable")) == 1  # lists upsert the schedule
    app.pause(job="pausable")
    clock.advance(1, "hour")
    run_until_idle(app)
    assert app.count(job="pausable", state="completed") == 0
    app.resume(job="pausable")
    run_until_idle(app)
    assert app.count(job="pausable", state="completed") == 1
    assert app.count(job="pausable", state="scheduled") == 1


def test_schedule_job_with_a_key_replaces_its_text(app: Conveyor, clock: FakeClock) -> None:
    @app.job("digest")
    def digest(data):  # type: ignore[no-untyped-def]
        return data

    first = app.schedule_job(type="digest", data={"u": 1}, schedule="every day at 9:00",
                             key="u1")
    second = app.schedule_job(type="digest", data={"u": 1}, schedule="every day at 18:00",
                              key="u1")
    pending = app.jobs_list(job="digest", state="scheduled")
    assert [r.run_at for r in pending] == [datetime(2030, 1, 7, 18, tzinfo=UTC)]
    assert pending[0].id == second.id
    if first.id != second.id:
        assert record_of(app, first.id).state == "cancelled"
