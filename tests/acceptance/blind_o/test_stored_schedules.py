"""§6 schedules as stored records: the next occurrence is a ``scheduled`` record, chains
of ``rescheduled_from``, failures and downtime, redeploys that change the text, and
run-time schedules identified by (type, text, data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock, run_until_idle

from .conftest import START


def _pending(app: Conveyor, job: str) -> list[datetime]:
    return sorted(r.run_at for r in app.jobs_list(job=job, state=["scheduled", "queued"]))


def test_an_every_trigger_given_as_amount_and_unit_or_timedelta_aligns_like_text(
    app: Conveyor, clock: FakeClock
) -> None:
    clock.move_to(START + timedelta(minutes=7))

    @app.job(trigger=app.every(15, "minutes"))
    def by_amount():  # type: ignore[no-untyped-def]
        return None

    @app.job(trigger=app.every(timedelta(minutes=15)))
    def by_delta():  # type: ignore[no-untyped-def]
        return None

    run_until_idle(app)
    expected = [START + timedelta(minutes=15)]
    assert _pending(app, "by_amount") == expected
    assert _pending(app, "by_delta") == expected


def test_each_run_links_to_the_occurrence_before_it(app: Conveyor, clock: FakeClock) -> None:
    @app.job(trigger=app.cron("0 * * * *"))
    def hourly(meta):  # type: ignore[no-untyped-def]
        return meta.job.id

    run_until_idle(app)
    for _ in range(3):
        clock.advance(1, "hour")
        run_until_idle(app)
    runs = app.jobs_list(job="hourly", newest_first=False)
    assert [r.state for r in runs] == ["completed"] * 3 + ["scheduled"]
    assert runs[0].rescheduled_from is None
    assert [r.rescheduled_from for r in runs[1:]] == [r.id for r in runs[:-1]]
    assert [r.run_at for r in runs] == [START + timedelta(hours=h) for h in (1, 2, 3, 4)]
    assert [r.result for r in runs[:3]] == [r.id for r in runs[:3]]


def test_a_failing_occurrence_does_not_end_its_schedule(app: Conveyor, clock: FakeClock) -> None:
    @app.job(trigger=app.every("1 hour"), retry=Retry(retries=0))
    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("always")

    run_until_idle(app)
    clock.advance(1, "hour")
    run_until_idle(app)
    clock.advance(1, "hour")
    run_until_idle(app)
    states = [r.state for r in app.jobs_list(job="broken", newest_first=False)]
    assert states == ["failed", "failed", "scheduled"]


def test_after_a_long_downtime_a_missed_occurrence_runs_once(
    app: Conveyor, clock: FakeClock
) -> None:
    calls: list[int] = []

    @app.job(trigger=app.every("10 minutes"))
    def ticks():  # type: ignore[no-untyped-def]
        calls.append(1)

    run_until_idle(app)
    clock.advance(3, "days")
    run_until_idle(app)
    assert len(calls) == 1
    [upcoming] = _pending(app, "ticks")
    assert clock.now() < upcoming <= clock.now() + timedelta(minutes=10)


def test_a_redeploy_with_another_cron_replaces_the_pending_occurrence(
    url: str, clock: FakeClock, open_app
) -> None:  # type: ignore[no-untyped-def]
    first = open_app()

    @first.job("report", trigger=first.cron("0 3 * * *"))
    def report_v1():  # type: ignore[no-untyped-def]
        return 1

    run_until_idle(first)
    assert _pending(first, "report") == [datetime(2030, 1, 8, 3, tzinfo=UTC)]
    second = open_app()
    FakeClock(second, start=clock.now())

    @second.job("report", trigger=second.cron("0 5 * * *"))
    def report_v2():  # type: ignore[no-untyped-def]
        return 2

    run_until_idle(second)
    assert _pending(second, "report") == [datetime(2030, 1, 8, 5, tzinfo=UTC)]


def test_deploying_the_same_schedule_twice_keeps_one(open_app, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    apps = [open_app(), open_app()]
    for each in apps:
        FakeClock(each, start=START)

        @each.job("nightly", trigger=each.schedule("every day at 3:00"))
        def nightly():  # type: ignore[no-untyped-def]
            return None

        run_until_idle(each)
    assert _pending(apps[0], "nightly") == [datetime(2030, 1, 8, 3, tzinfo=UTC)]


def test_schedule_job_is_identified_by_type_text_and_data(app: Conveyor, clock: FakeClock) -> None:
    @app.job("sync-shop")
    def sync_shop(data):  # type: ignore[no-untyped-def]
        return data

    app.schedule_job(type="sync-shop", data={"shop": 1, "ü": [1, 2]}, schedule="every day")
    app.schedule_job(type="sync-shop", data={"ü": [1, 2], "shop": 1}, schedule="every day")
    assert len(_pending(app, "sync-shop")) == 1
    app.schedule_job(type="sync-shop", data={"shop": 2}, schedule="every day")
    app.schedule_job(type="sync-shop", data={"shop": 1, "ü": [1, 2]}, schedule="every 2 days")
    assert len(_pending(app, "sync-shop")) == 3


def test_a_run_time_schedule_hands_its_data_to_each_occurrence(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job("sync-shop")
    def sync_shop(data):  # type: ignore[no-untyped-def]
        return data

    data = {"shop": 7, "big": 2**64, "name": "Café ☕"}
    app.schedule_job(type="sync-shop", data=data, schedule="every hour")
    for _ in range(2):
        clock.advance(1, "hour")
        run_until_idle(app)
    done = app.jobs_list(job="sync-shop", state="completed")
    assert [r.result for r in done] == [data, data]


def test_cancel_jobs_by_data_ends_a_run_time_schedule(app: Conveyor, clock: FakeClock) -> None:
    @app.job("sync-shop")
    def sync_shop(data):  # type: ignore[no-untyped-def]
        return data

    app.schedule_job(type="sync-shop", data={"shop": 1}, schedule="every hour")
    app.schedule_job(type="sync-shop", data={"shop": 2}, schedule="every hour")
    assert app.cancel_jobs(type="sync-shop", data={"shop": 1}) == 1
    clock.advance(5, "hours")
    run_until_idle(app)
    clock.advance(1, "hour")
    run_until_idle(app)
    payloads = [r.args[0]["shop"] for r in app.jobs_list(job="sync-shop", state="completed")]
    assert payloads == [2, 2]
    assert [r.args[0] for r in app.jobs_list(job="sync-shop", state="scheduled")] == [{"shop": 2}]


def test_a_schedule_in_the_app_zone_fires_on_its_wall_clock(open_app) -> None:  # type: ignore[no-untyped-def]
    app = open_app(timezone="America/New_York")
    with FakeClock(app, start=datetime(2030, 3, 9, 12, tzinfo=UTC)) as clock:

        @app.job(trigger=app.cron("0 8 * * *"))
        def morning():  # type: ignore[no-untyped-def]
            return None

        run_until_idle(app)
        firsts = []
        for _ in range(2):
            [due] = _pending(app, "morning")
            firsts.append(due)
            clock.move_to(due)
            run_until_idle(app)
    # 08:00 EST is 13:00 UTC; after the change early on 10 March, 08:00 EDT is 12:00 UTC
    assert firsts == [datetime(2030, 3, 9, 13, tzinfo=UTC), datetime(2030, 3, 10, 12, tzinfo=UTC)]


def test_schedule_cron_job_reaches_an_add_worker_function(app: Conveyor, clock: FakeClock) -> None:
    seen: list[object] = []

    def work(job):  # type: ignore[no-untyped-def]
        seen.append(job.data)
        job.done("ok")

    app.add_worker(type="cronType", worker=work)
    handle = app.schedule_cron_job("cronType", "*/30 * * * *", data={"n": 1})
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"
    assert record.run_at == START + timedelta(minutes=30)
    clock.advance(30, "minutes")
    run_until_idle(app)
    assert seen == [{"n": 1}]
    assert _pending(app, "cronType") == [START + timedelta(minutes=60)]


def test_a_longer_interval_keeps_counting_from_creation_across_a_redeploy(
    open_app, clock: FakeClock
) -> None:  # type: ignore[no-untyped-def]
    clock.move_to(START + timedelta(minutes=7))
    first = open_app()

    @first.job("p90", trigger=first.every("90 minutes"))
    def p90_v1():  # type: ignore[no-untyped-def]
        return None

    run_until_idle(first)
    assert _pending(first, "p90") == [START + timedelta(minutes=97)]
    clock.advance(90, "minutes")
    run_until_idle(first)
    clock.advance(30, "minutes")  # 10:07, redeployed with the same text
    second = open_app()
    with FakeClock(second, start=clock.now()):

        @second.job("p90", trigger=second.every("90 minutes"))
        def p90_v2():  # type: ignore[no-untyped-def]
            return None

        run_until_idle(second)
        assert _pending(second, "p90") == [START + timedelta(minutes=187)]
