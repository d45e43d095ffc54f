"""SPEC §6 — recurring schedules: parse_schedule, the English and cron grammars, stored
occurrences, exactly-once firing, upserts and cancelling."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, Schedule, parse_schedule
from conveyor.testing import FakeClock, run_until_idle

AFTER = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)  # a Friday


def _next(text: str, count: int = 3, after: datetime = AFTER, tz: str | None = None
          ) -> list[datetime]:
    schedule = parse_schedule(text, tz=tz)
    assert isinstance(schedule, Schedule)
    times = schedule.next(after=after, count=count)
    assert all(t.tzinfo is not None for t in times)
    return [t.astimezone(UTC) for t in times]


def u(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("text", "expected"), [
    ("every 15 minutes", [u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 30), u(2030, 1, 4, 8, 45)]),
    ("every 1 minute", [u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 9), u(2030, 1, 4, 8, 10)]),
    ("every 5 hours", [u(2030, 1, 4, 10), u(2030, 1, 4, 15), u(2030, 1, 4, 20)]),
    ("every 30 seconds", [u(2030, 1, 4, 8, 7, 30), u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 8, 30)]),
    ("every day", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every day at noon", [u(2030, 1, 4, 12), u(2030, 1, 5, 12), u(2030, 1, 6, 12)]),
    ("every day at midnight", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("at 17:00", [u(2030, 1, 4, 17), u(2030, 1, 5, 17), u(2030, 1, 6, 17)]),
    ("every weekday at 9:30 am", [u(2030, 1, 4, 9, 30), u(2030, 1, 7, 9, 30),
                                  u(2030, 1, 8, 9, 30)]),
    ("every weekend at 10:15 am", [u(2030, 1, 5, 10, 15), u(2030, 1, 6, 10, 15),
                                   u(2030, 1, 12, 10, 15)]),
    ("every monday and wednesday at 9:00 and 17:00",
     [u(2030, 1, 7, 9), u(2030, 1, 7, 17), u(2030, 1, 9, 9)]),
    ("every sunday at 11:59 pm", [u(2030, 1, 6, 23, 59), u(2030, 1, 13, 23, 59),
                                  u(2030, 1, 20, 23, 59)]),
    ("on the last day of the month", [u(2030, 1, 31), u(2030, 2, 28), u(2030, 3, 31)]),
    ("on the 1st day of the month", [u(2030, 2, 1), u(2030, 3, 1), u(2030, 4, 1)]),
    ("0 3 * * *", [u(2030, 1, 5, 3), u(2030, 1, 6, 3), u(2030, 1, 7, 3)]),
    ("*/20 9-10 * * 1-5", [u(2030, 1, 4, 9), u(2030, 1, 4, 9, 20), u(2030, 1, 4, 9, 40)]),
    ("@daily", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("@hourly", [u(2030, 1, 4, 9), u(2030, 1, 4, 10), u(2030, 1, 4, 11)]),
    ("@monthly", [u(2030, 2, 1), u(2030, 3, 1), u(2030, 4, 1)]),
    ("@yearly", [u(2031, 1, 1), u(2032, 1, 1), u(2033, 1, 1)]),
])
def test_parse_schedule_next_times(text: str, expected: list[datetime]) -> None:
    assert _next(text) == expected


def test_six_field_cron_has_seconds() -> None:
    times = _next("*/20 * * * * *", count=3)
    assert times == [u(2030, 1, 4, 8, 7, 20), u(2030, 1, 4, 8, 7, 40), u(2030, 1, 4, 8, 8)]


def test_cron_in_a_timezone() -> None:
    paris = _next("0 3 * * *", count=2, tz="Europe/Paris")
    assert paris == [u(2030, 1, 5, 2), u(2030, 1, 6, 2)]  # winter: UTC+1
    summer = _next("0 3 * * *", count=1, after=u(2030, 7, 1), tz="Europe/Paris")
    assert summer == [u(2030, 7, 1, 1)]  # summer: UTC+2


def test_english_in_a_timezone() -> None:
    times = _next("every weekday at 9:30 am", count=1, tz="America/New_York")
    assert times == [u(2030, 1, 4, 14, 30)]
    assert times[0].astimezone(ZoneInfo("America/New_York")).hour == 9


def test_next_defaults_to_one_time_after_now() -> None:
    times = parse_schedule("every 15 minutes").next()
    assert len(times) == 1
    assert times[0] > datetime.now(UTC)


def test_explain_is_a_sentence() -> None:
    for text in ("every 15 minutes", "0 3 * * *", "every weekday at 9:30 am"):
        sentence = parse_schedule(text).explain()
        assert isinstance(sentence, str) and sentence.strip()


@pytest.mark.parametrize(("text", "word"), [
    ("every 3 fortnights", "fortnights"),
    ("every funday", "funday"),
    ("every day at 25:00", "25:00"),
    ("every blorp", "blorp"),
])
def test_unreadable_text_names_the_word_and_shows_examples(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert word in message
    assert "every" in message.replace(text, "")  # an example


@pytest.mark.parametrize("text", ["", "   ", "every", "61 * * * *", "* * *", "@sometimes"])
def test_other_bad_schedules_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


# -- stored occurrences ------------------------------------------------------------------------


def test_every_occurrence_is_a_stored_record_linked_to_the_previous(app: Conveyor) -> None:
    @app.job(trigger=app.every("15 minutes"))
    def tick() -> None: ...

    with FakeClock(app, start=AFTER) as clock:
        run_until_idle(app, clock=clock)
        first = [r for r in app.jobs_list(job="tick") if r.state == "scheduled"]
        assert [r.run_at for r in first] == [u(2030, 1, 4, 8, 15)]
        clock.advance(8, "minutes")
        run_until_idle(app, clock=clock)
        records = {r.id: r for r in app.jobs_list(job="tick")}
        done = [r for r in records.values() if r.state == "completed"]
        pending = [r for r in records.values() if r.state == "scheduled"]
        assert [r.id for r in done] == [first[0].id]
        assert len(pending) == 1
        assert pending[0].run_at == u(2030, 1, 4, 8, 30)
        assert pending[0].rescheduled_from == first[0].id


def test_a_schedule_fires_once_however_many_apps_run_it(
    url: str, open_app: Callable[..., Conveyor]
) -> None:
    apps = [open_app(url) for _ in range(3)]
    for each in apps:
        @each.job("cron-job", trigger=each.cron("*/5 * * * *"))
        def cron_job() -> None: ...

    clocks = [FakeClock(each, start=AFTER, patch_python=False) for each in apps]
    try:
        for _ in range(2):
            for each, clock in zip(apps, clocks, strict=True):
                run_until_idle(each, clock=clock)
            for clock in clocks:
                clock.advance(5, "minutes")
        for each, clock in zip(apps, clocks, strict=True):
            run_until_idle(each, clock=clock)
    finally:
        for clock in clocks:
            clock.stop()
    records = apps[0].jobs_list(job="cron-job")
    done = sorted(r.run_at for r in records if r.state == "completed")
    assert done == [u(2030, 1, 4, 8, 10), u(2030, 1, 4, 8, 15)]
    assert [r.state for r in records].count("scheduled") == 1


def test_run_time_schedule_job_is_identified_by_type_text_and_data(app: Conveyor) -> None:
    @app.job("report")
    def report(data: object) -> None: ...

    with FakeClock(app, start=AFTER):
        app.schedule_job(type="report", data={"shop": "ü"}, schedule="every day")
        app.schedule_job(type="report", data={"shop": "ü"}, schedule="every day")
        assert app.count(job="report", state="scheduled") == 1
        app.schedule_job(type="report", data={"shop": "other"}, schedule="every day")
        app.schedule_job(type="report", data={"shop": "ü"}, schedule="every 2 hours")
        assert app.count(job="report", state="scheduled") == 3


def test_the_same_data_in_another_key_order_is_the_same_schedule(app: Conveyor) -> None:
    @app.job("report")
    def report(data: object) -> None: ...

    with FakeClock(app, start=AFTER):
        app.schedule_job(type="report", data={"shop": 1, "day": {"a": 1, "b": [{"x": 1, "y": 2}]}},
                         schedule="every day")
        app.schedule_job(type="report", data={"day": {"b": [{"y": 2, "x": 1}], "a": 1}, "shop": 1},
                         schedule="every  Day")
        assert app.count(job="report", state="scheduled") == 1
        assert len(app.schedules()) == 1


def test_cancelling_the_pending_occurrence_ends_the_schedule(app: Conveyor) -> None:
    @app.job("sync")
    def sync(data: object) -> None: ...

    with FakeClock(app, start=AFTER) as clock:
        app.schedule_job(type="sync", data={"shop_id": 7}, schedule="every 10 minutes")
        assert app.cancel_jobs(type="sync", data={"shop_id": 7}) == 1
        clock.advance(1, "hour")
        run_until_idle(app, clock=clock)
        assert app.count(job="sync", state="completed") == 0
        assert app.count(job="sync", state="scheduled") == 0


def test_a_bad_schedule_in_code_fails_at_definition(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError):
        sqlite_app.schedule("every sometimes")
    with pytest.raises(ValueError):
        sqlite_app.cron("0 3 * * *", tz="Not/AZone")


def test_schedules_without_tz_follow_the_app_timezone(open_app: Callable[..., Conveyor]) -> None:
    app = open_app(timezone="Europe/Paris")

    @app.job(trigger=app.schedule("every day at 9:00"))
    def nine() -> None: ...

    @app.job
    def report(data: object) -> None: ...

    with FakeClock(app, start=u(2030, 1, 4, 6)) as clock:
        run_until_idle(app, clock=clock)
        assert [r.run_at for r in app.jobs_list(job="nine", state="scheduled")] == [
            u(2030, 1, 4, 8)]
        handle = app.schedule_job(type="report", data={}, schedule="every day at 10:00")
        assert app.get_job(handle.id).run_at == u(2030, 1, 4, 9)  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "expected"), [
    ("every 5 minutes in 2031", [u(2031, 1, 1), u(2031, 1, 1, 0, 5)]),
    ("at 10:00 in 2031", [u(2031, 1, 1, 10), u(2031, 1, 2, 10)]),
    ("every day in 2031", [u(2031, 1, 1), u(2031, 1, 2)]),
    ("every monday in 2031", [u(2031, 1, 6), u(2031, 1, 13)]),
    ("every day at noon in 2031", [u(2031, 1, 1, 12), u(2031, 1, 2, 12)]),
])
def test_in_a_year_limits_any_schedule(text: str, expected: list[datetime]) -> None:
    assert _next(text, count=2) == expected
    assert all(t.year == 2031 for t in _next(text, count=5, after=u(2031, 12, 31, 12)))
