"""SPEC §6 on the stores: the next occurrence is always a stored ``scheduled`` record, the
following one is stored with ``rescheduled_from`` when it runs, a missed occurrence runs
once, run-time schedules are upserted and edited, ``cancel_jobs`` ends a schedule; in
zones, on leap days and across DST (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.blind_f.support import pending, recorder, states
from tests.acceptance.blind_surface.support import u


def _chain(app: Conveyor, job: str) -> list[int | None]:
    """rescheduled_from of the job's runs, oldest first, each pointing at the one before."""
    records = sorted(app.jobs_list(job=job), key=lambda r: r.id)
    return [r.rescheduled_from for r in records]


def test_a_paris_cron_is_stored_in_utc_and_chained_across_the_spring_gap(app: Conveyor) -> None:
    seen, _ = recorder(app, "nachts", trigger=app.cron("30 2 * * *", tz="Europe/Paris"))
    with FakeClock(app, start=u(2030, 3, 29, 12)) as clock:
        run_until_idle(app, clock=clock)
        assert pending(app, "nachts") == [u(2030, 3, 30, 1, 30)]  # 02:30 CET
        for _ in range(2):
            clock.advance(1, "day")
            run_until_idle(app, clock=clock)
        # 02:30 does not exist on March 31st: once, just after the gap (03:00 CEST)
        assert [s for s in states(app, "nachts")] == [
            ("completed", u(2030, 3, 30, 1, 30)), ("completed", u(2030, 3, 31, 1)),
            ("scheduled", u(2030, 4, 1, 0, 30))]
    ids = sorted(r.id for r in app.jobs_list(job="nachts"))
    assert _chain(app, "nachts") == [None, ids[0], ids[1]]
    assert len(seen) == 2


def test_a_leap_day_cron_fires_then_waits_four_years(app: Conveyor) -> None:
    seen, _ = recorder(app, "schalttag", trigger=app.cron("0 12 29 2 *"))
    with FakeClock(app, start=u(2032, 2, 28, 12)) as clock:
        run_until_idle(app, clock=clock)
        assert pending(app, "schalttag") == [u(2032, 2, 29, 12)]
        clock.advance(1, "day")
        run_until_idle(app, clock=clock)
        assert len(seen) == 1
        assert pending(app, "schalttag") == [u(2036, 2, 29, 12)]


def test_an_hourly_cron_after_five_hours_down_runs_once_and_looks_ahead(app: Conveyor) -> None:
    seen, _ = recorder(app, "stündlich", trigger=app.cron("0 * * * *"))
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)
        clock.advance(5, "hours")
        run_until_idle(app, clock=clock)
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        assert len(seen) == 1
        assert pending(app, "stündlich") == [u(2030, 1, 4, 14)]


def test_a_paused_schedule_piles_up_nothing_and_runs_once_when_resumed(app: Conveyor) -> None:
    seen, _ = recorder(app, "tick", queue="ticks", trigger=app.every("15 minutes"))
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)
        app.pause(queue="ticks")
        for _ in range(3):
            clock.advance(1, "hour")
            run_until_idle(app, clock=clock)
        assert seen == [] and len(app.jobs_list(job="tick")) == 1
        app.resume(queue="ticks")
        run_until_idle(app, clock=clock)
        assert len(seen) == 1
        assert pending(app, "tick") == [u(2030, 1, 4, 11, 15)]


def test_run_time_schedules_follow_the_app_timezone(open_app: Callable[..., Conveyor]) -> None:
    app = open_app(timezone="Asia/Tokyo")
    recorder(app, "asa")
    recorder(app, "asa-cron")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        handle = app.schedule_job(type="asa", data={"n": 1}, schedule="every day at 9:00")
        cron = app.schedule_cron_job("asa-cron", "0 9 * * *", data={"n": 2})
        run_until_idle(app, clock=clock)
    for h in (handle, cron):
        record = app.get_job(h.id)
        assert record is not None and record.state == "scheduled"
        assert record.run_at == u(2030, 1, 5, 0)  # 09:00 JST


def test_the_same_schedule_text_in_other_case_and_spacing_is_the_same_schedule(
        app: Conveyor) -> None:
    recorder(app, "digest")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)):
        first = app.schedule_job(type="digest", data={"to": "zoë"}, schedule="every day at noon")
        again = app.schedule_job(type="digest", data={"to": "zoë"},
                                 schedule="  Every Day  AT Noon ")
        assert len(app.jobs_list(job="digest", state="scheduled")) == 1
        assert app.get_job(again.id).run_at == app.get_job(first.id).run_at  # type: ignore[union-attr]


def test_a_keyed_run_time_schedule_is_edited_in_place(app: Conveyor) -> None:
    seen, _ = recorder(app, "sync-shop")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        old = app.schedule_job(type="sync-shop", data={"shop": 7}, schedule="every day at 4:00",
                               key="shop-7")
        new = app.schedule_job(type="sync-shop", data={"shop": 7}, schedule="every hour",
                               key="shop-7")
        assert pending(app, "sync-shop") == [u(2030, 1, 4, 9)]
        assert app.get_job(old.id).state == "cancelled"  # type: ignore[union-attr]
        assert app.get_job(new.id).state == "scheduled"  # type: ignore[union-attr]
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
    assert seen == [{"shop": 7}]


def test_cancel_repeats_leaves_only_the_newest_schedule(app: Conveyor) -> None:
    seen, job = recorder(app, "relance")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        one_off = job({"a": 1}).run_in(1, "day")
        app.schedule_job(type="relance", data={"a": 1}, schedule="every day", cancel_repeats=True)
        app.schedule_job(type="relance", data={"a": 1}, schedule="every hour",
                         cancel_repeats=True)
        assert app.get_job(one_off.id).state == "cancelled"  # type: ignore[union-attr]
        assert pending(app, "relance") == [u(2030, 1, 4, 9)]
        clock.advance(1, "day")
        run_until_idle(app, clock=clock)
    assert seen == [{"a": 1}]


def test_cancel_jobs_ends_a_code_schedule_and_a_run_time_one(app: Conveyor) -> None:
    ticks, _ = recorder(app, "tick", trigger=app.every("15 minutes"))
    shops, _ = recorder(app, "shop")
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)
        for n in (1, 2):
            app.schedule_job(type="shop", data={"shop_id": n, "extra": [n]}, schedule="every hour")
        assert app.cancel_jobs(type="tick") == 1
        assert app.cancel_jobs(type="shop", data={"shop_id": 1}) == 1
        for _ in range(6):
            clock.advance(1, "hour")
            run_until_idle(app, clock=clock)
    assert ticks == []
    assert shops and all(payload["shop_id"] == 2 for payload in shops)
    assert app.jobs_list(job="tick", state="scheduled") == []


def test_schedule_cron_job_with_seconds_hands_data_and_owner(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.job("relevé")
    def releve(data: Any) -> None:
        seen.append(data)

    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        handle = app.schedule_cron_job("relevé", "30 */5 * * * *", data={"m": "ü"}, owner=5)
        record = app.get_job(handle.id)
        assert record is not None and record.state == "scheduled"
        assert record.run_at == u(2030, 1, 4, 8, 10, 30) and record.owner == 5
        clock.advance(4, "minutes")
        run_until_idle(app, clock=clock)
        follow = app.jobs_list(job="relevé", state="scheduled")
    assert seen == [{"m": "ü"}]
    assert [r.rescheduled_from for r in follow] == [handle.id]
    assert follow[0].run_at == u(2030, 1, 4, 8, 15, 30) and follow[0].owner == 5


def test_cancelling_one_occurrence_stores_the_next_at_once(app: Conveyor) -> None:
    seen, _ = recorder(app, "tick", trigger=app.every("15 minutes"))
    with FakeClock(app, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(app, clock=clock)
        [first] = app.jobs_list(job="tick")
        assert app.cancel(first.id) is True
        # no worker has run since: the next occurrence is stored all the same
        assert pending(app, "tick") == [u(2030, 1, 4, 8, 30)]
        [following] = app.jobs_list(job="tick", state="scheduled")
        clock.advance(30, "minutes")
        run_until_idle(app, clock=clock)
    assert len(seen) == 1
    assert app.get_job(following.id).state == "completed"  # type: ignore[union-attr]


def test_every_90_minutes_counts_from_when_it_is_stored_on_the_app_clock(
        open_app: Callable[..., Conveyor]) -> None:
    first, redeployed = open_app(), open_app()
    for application in (first, redeployed):  # declared (read) now, on Python's real clock
        recorder(application, "neunzig", trigger=application.every("90 minutes"))
    with FakeClock(first, start=u(2030, 1, 4, 8, 7)) as clock:
        run_until_idle(first, clock=clock)  # stored (created) at 08:07 on the app's clock
        assert pending(first, "neunzig") == [u(2030, 1, 4, 9, 37)]
    with FakeClock(redeployed, start=u(2030, 1, 4, 8, 47), patch_python=False) as clock:
        redeployed.schedule_job(type="neunzig", data={"n": 1}, schedule="every 90 minutes")
        run_until_idle(redeployed, clock=clock)  # the code schedule keeps counting from 08:07
        assert pending(redeployed, "neunzig") == [u(2030, 1, 4, 9, 37), u(2030, 1, 4, 10, 17)]


class SharedClock:
    """A clock= object two apps share (FakeClock patches the whole process: one at a time)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_two_apps_working_at_once_fire_each_occurrence_once(
        open_app: Callable[..., Conveyor]) -> None:
    clock = SharedClock(u(2030, 1, 4, 8, 0, 30))
    apps = [open_app(clock=clock), open_app(clock=clock)]
    fired: list[Any] = []
    for application in apps:
        application.job("minütlich", trigger=application.cron("* * * * *"))(
            lambda meta: fired.append(meta.job.run_at))
    for _ in range(5):  # the first pass stores the schedule (08:01 next), then a minute on
        threads = [threading.Thread(target=a.run_worker, kwargs={"burst": True}) for a in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        clock.at += timedelta(minutes=1)
    assert sorted(fired) == [u(2030, 1, 4, 8, m) for m in range(1, 5)]
    chain = _chain(apps[0], "minütlich")
    assert chain[0] is None and len(set(chain)) == len(chain) == 5
