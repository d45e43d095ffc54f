"""SPEC §6 — recurring schedules, clause by clause: odd spellings of the English grammar,
interval alignment, impossible times and unknown words named in errors, cron edge cases,
daylight saving changes, ``next()``'s arguments, and stored schedules (creation on the
app's clock, redeploys, missed occurrences, run-time identity, cancel_repeats)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, parse_schedule
from conveyor.testing import FakeClock, run_until_idle

AFTER = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)  # a Friday


def u(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _next(text: str, count: int = 3, tz: str | None = None,
          after: datetime = AFTER) -> list[datetime]:
    times = parse_schedule(text, tz=tz).next(after=after, count=count)
    assert all(t.tzinfo is not None for t in times)
    return [t.astimezone(UTC) for t in times]


@pytest.mark.parametrize(("text", "expected"), [
    ("EVERY DAY AT NOON", [u(2030, 1, 4, 12), u(2030, 1, 5, 12), u(2030, 1, 6, 12)]),
    ("  every 15 minutes ", [u(2030, 1, 4, 8, 15), u(2030, 1, 4, 8, 30), u(2030, 1, 4, 8, 45)]),
    ("at 12 am", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("at 12:00 pm", [u(2030, 1, 4, 12), u(2030, 1, 5, 12), u(2030, 1, 6, 12)]),
    ("at 9pm", [u(2030, 1, 4, 21), u(2030, 1, 5, 21), u(2030, 1, 6, 21)]),
    ("at 0:00", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("every 45 seconds", [u(2030, 1, 4, 8, 7, 45), u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 8, 45)]),
    ("every 7 minutes", [u(2030, 1, 4, 8, 14), u(2030, 1, 4, 8, 21), u(2030, 1, 4, 8, 28)]),
    ("every 1 second", [u(2030, 1, 4, 8, 7, 1), u(2030, 1, 4, 8, 7, 2), u(2030, 1, 4, 8, 7, 3)]),
    ("every 3 hrs", [u(2030, 1, 4, 9), u(2030, 1, 4, 12), u(2030, 1, 4, 15)]),
    ("every 2 months", [u(2030, 3, 1), u(2030, 5, 1), u(2030, 7, 1)]),
    ("every weekend", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 12)]),
    ("every mon", [u(2030, 1, 7), u(2030, 1, 14), u(2030, 1, 21)]),
    ("every monday, wednesday and friday at 8:00",
     [u(2030, 1, 7, 8), u(2030, 1, 9, 8), u(2030, 1, 11, 8)]),
    ("every day at 9:00, 12:00 and 5 pm", [u(2030, 1, 4, 9), u(2030, 1, 4, 12), u(2030, 1, 4, 17)]),
    ("on the 31st day of the month", [u(2030, 1, 31), u(2030, 3, 31), u(2030, 5, 31)]),
    ("on the 15th and last day of the month", [u(2030, 1, 15), u(2030, 1, 31), u(2030, 2, 15)]),
    ("at 5:00 pm on the last day of the month",
     [u(2030, 1, 31, 17), u(2030, 2, 28, 17), u(2030, 3, 31, 17)]),
    ("every 10 mins between the 1st and 30th min",
     [u(2030, 1, 4, 8, 11), u(2030, 1, 4, 8, 21), u(2030, 1, 4, 9, 1)]),
    ("every weekday except on friday", [u(2030, 1, 7), u(2030, 1, 8), u(2030, 1, 9)]),
    ("0 0 * * 7", [u(2030, 1, 6), u(2030, 1, 13), u(2030, 1, 20)]),
    ("0 0 29 2 *", [u(2032, 2, 29), u(2036, 2, 29), u(2040, 2, 29)]),
    ("*/30 * * * * *", [u(2030, 1, 4, 8, 7, 30), u(2030, 1, 4, 8, 8), u(2030, 1, 4, 8, 8, 30)]),
    ("0 0 12 * * MON-FRI", [u(2030, 1, 4, 12), u(2030, 1, 7, 12), u(2030, 1, 8, 12)]),
    ("@midnight", [u(2030, 1, 5), u(2030, 1, 6), u(2030, 1, 7)]),
    ("@annually", [u(2031, 1, 1), u(2032, 1, 1), u(2033, 1, 1)]),
])
def test_odd_spellings_and_edges(text: str, expected: list[datetime]) -> None:
    assert _next(text) == expected


def test_intervals_align_on_local_wall_clock_with_half_hour_offsets() -> None:
    # Kolkata is +05:30: every 5 hours fires at 00, 05, 10, 15, 20 h there
    assert _next("every 5 hours", tz="Asia/Kolkata") == [
        u(2030, 1, 4, 9, 30), u(2030, 1, 4, 14, 30), u(2030, 1, 4, 18, 30)]


@pytest.mark.parametrize(("tz", "day"), [("Europe/Paris", u(2030, 3, 31)),
                                         ("America/New_York", u(2030, 11, 3))])
def test_a_time_skipped_or_repeated_by_dst_fires_once_that_day(tz: str, day: datetime) -> None:
    times = _next("every day at 2:30 am", count=5, tz=tz, after=day - timedelta(days=2))
    assert len(times) == len(set(times)) == 5
    local = [t.astimezone(ZoneInfo(tz)) for t in times]
    assert len({t.date() for t in local}) == 5  # one per local day, the change's day included
    assert all(t.hour in (2, 3) for t in local)


@pytest.mark.parametrize(("text", "word"), [
    ("at 24:00", "24:00"), ("at 9:60", "9:60"), ("at 13:00 pm", "13:00"),
    ("every 0 minutes", "0"), ("every 5", "5"), ("every -5 minutes", "-"),
    ("every 1.5 hours", "1.5"), ("every blursday", "blursday"),
    ("every 5 fortnights", "fortnights"),
    ("at 9:30 qm", "qm"), ("hello there", "hello"),
])
def test_unreadable_english_names_the_word_and_shows_examples(text: str, word: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert f'"{word}"' in message
    assert "every 15 minutes" in message  # an example


@pytest.mark.parametrize(("text", "field"), [
    ("* * * *", "5 or 6 fields"), ("60 * * * *", "minute"), ("0 0 1 13 *", "month"),
    ("0 0 30 2 *", "day-of-month"), ("@reboot", "@daily"),
])
def test_bad_cron_names_the_field_and_shows_examples(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=field) as caught:
        parse_schedule(text)
    assert "0 3 * * *" in str(caught.value)


@pytest.mark.parametrize(("arguments", "named"), [
    ({"count": -1}, "count"), ({"count": True}, "count"), ({"count": 2.0}, "count"),
    ({"after": "2030-01-01"}, "after"),
])
def test_next_refuses_bad_arguments(arguments: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_schedule("every day").next(**arguments)  # type: ignore[arg-type]


def test_next_with_count_zero_and_past_the_end() -> None:
    assert parse_schedule("every day").next(count=0) == []
    assert parse_schedule("at 10:00 am in 2031").next(after=u(2032, 1, 1), count=3) == []
    with pytest.raises(ValueError, match="Nowhere/X"):
        parse_schedule("0 3 * * *", tz="Nowhere/X")


# -- stored schedules ----------------------------------------------------------------------------


def _scheduled(app: Conveyor) -> list[tuple[str, datetime]]:
    return sorted((r.job, r.run_at) for r in app.jobs_list(state="scheduled"))


def _declare(app: Conveyor, runs: list[str]) -> None:
    for job_id, trigger in (("ninety", app.every("90 minutes")),
                            ("quarter-hourly", app.schedule("Every 15 Minutes")),
                            ("paris", app.cron("0 3 * * *", tz="Europe/Paris"))):
        app.job(job_id, trigger=trigger)(lambda job_id=job_id: runs.append(job_id))


def test_code_schedules_start_on_the_apps_clock_and_a_redeploy_does_not_double_them(
    app: Conveyor, open_app: Callable[..., Conveyor]
) -> None:
    runs: list[str] = []
    _declare(app, runs)
    with FakeClock(app, start=AFTER) as clock:
        run_until_idle(app, clock)
        expected = [("ninety", AFTER + timedelta(minutes=90)),
                    ("paris", u(2030, 1, 5, 2)), ("quarter-hourly", u(2030, 1, 4, 8, 15))]
        assert _scheduled(app) == expected
        clock.advance(3, "hours")  # downtime: two missed occurrences of each run once
        run_until_idle(app, clock)
        assert sorted(runs) == ["ninety", "quarter-hourly"]
    again = open_app()  # the next deploy
    _declare(again, runs)
    with FakeClock(again, start=AFTER + timedelta(hours=3)) as clock:
        run_until_idle(again, clock)
    assert _scheduled(app) == [("ninety", AFTER + timedelta(minutes=270)),
                               ("paris", u(2030, 1, 5, 2)),
                               ("quarter-hourly", u(2030, 1, 4, 11, 15))]
    done = app.jobs_list(job="quarter-hourly", state="completed")
    pending = app.jobs_list(job="quarter-hourly", state="scheduled")
    assert pending[0].rescheduled_from == done[0].id


def test_run_time_schedules_are_identified_by_type_text_data_key_and_owner(
    app: Conveyor,
) -> None:
    app.job("report")(lambda data: None)
    with FakeClock(app, start=AFTER):
        app.schedule_job(type="report", data={"shop": "é", "n": [1]}, schedule="every day")
        app.schedule_job(type="report", data={"n": [1], "shop": "é"}, schedule="Every  Day")
        assert app.count(state="scheduled") == 1  # updated, not added
        app.schedule_job(type="report", data={"shop": "e", "n": [1]}, schedule="every day")
        app.schedule_job(type="report", data={"shop": "é", "n": [1]}, schedule="every day",
                         owner="u1")
        keyed = app.schedule_job(type="report", data={"v": 1}, schedule="every day", key="k")
        rekeyed = app.schedule_job(type="report", data={"v": 2}, schedule="at noon", key="k")
        assert app.count(state="scheduled") == 4
        record = app.get_job(rekeyed.id)
        assert record is not None and record.args == [{"v": 2}]
        assert record.run_at == u(2030, 1, 4, 12) and app.get_job(keyed.id).state == "cancelled"  # type: ignore[union-attr]
        assert app.cancel_jobs(type="report", data={"shop": "é"}) == 2  # ends both schedules
        assert app.count(state="scheduled") == 2


def test_cancel_repeats_replaces_the_types_other_schedules(app: Conveyor) -> None:
    seen: list[object] = []
    app.job("x")(lambda data: seen.append(data))
    with FakeClock(app, start=AFTER) as clock:
        app.schedule_job(type="x", data={"v": 1}, schedule="every day", cancel_repeats=True)
        app.schedule_job(type="x", data={"v": 2}, schedule="every day at noon",
                         cancel_repeats=True)
        assert [r.args for r in app.jobs_list(state="scheduled")] == [[{"v": 2}]]
        clock.advance(3, "days")
        run_until_idle(app, clock)
    assert seen == [{"v": 2}]


def test_stored_schedules_follow_the_app_timezone_across_the_spring_change(
    open_app: Callable[..., Conveyor],
) -> None:
    app = open_app(timezone="America/New_York")  # 2030-03-10 02:00 EST -> 03:00 EDT
    runs: list[tuple[str, datetime]] = []
    with FakeClock(app, start=u(2030, 3, 9, 12)) as clock:
        app.job("nightly", trigger=app.schedule("every day at 2:30 am"))(
            lambda: runs.append(("nightly", clock.now())))
        app.job("five-hourly", trigger=app.every("5 hours"))(
            lambda: runs.append(("five-hourly", clock.now())))
        run_until_idle(app, clock)
        for _ in range(11):
            due = min(r.run_at for r in app.jobs_list(state="scheduled"))
            clock.advance(due - clock.now())
            run_until_idle(app, clock)
    assert runs == [
        ("five-hourly", u(2030, 3, 9, 15)), ("five-hourly", u(2030, 3, 9, 20)),
        ("five-hourly", u(2030, 3, 10, 1)), ("five-hourly", u(2030, 3, 10, 5)),
        ("nightly", u(2030, 3, 10, 7)),  # 02:30 does not exist that night: 03:00 EDT
        ("five-hourly", u(2030, 3, 10, 9)), ("five-hourly", u(2030, 3, 10, 14)),
        ("five-hourly", u(2030, 3, 10, 19)), ("five-hourly", u(2030, 3, 11, 0)),
        ("five-hourly", u(2030, 3, 11, 4)), ("nightly", u(2030, 3, 11, 6, 30)),
    ]
