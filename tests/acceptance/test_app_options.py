"""SPEC §1 and §6 — the app's keyword options: a misspelled one is a clear error on every
store (never silently ignored), and ``timezone=`` / ``tz=`` take a ``ZoneInfo`` as well as
its IANA name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, parse_schedule
from conveyor.testing import FakeClock, run_until_idle

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize("typo", ["leese", "time_zone", "tz", "retension", "Lease"])
def test_a_misspelled_app_option_is_refused_naming_it_and_the_real_ones(
    url: str, typo: str
) -> None:
    with pytest.raises(ValueError, match=typo) as caught:
        Conveyor(url, **{typo: 5})  # type: ignore[arg-type]
    for accepted in ("lease", "timezone", "retention", "clock", "store"):
        assert accepted in str(caught.value)


def test_a_memory_app_refuses_a_misspelled_option_too() -> None:
    with pytest.raises(ValueError, match="leese"):
        Conveyor("memory://", leese=5)  # type: ignore[call-arg]


def test_timezone_takes_a_zoneinfo_or_datetime_utc(tmp_path: Path) -> None:
    for given, name in ((PARIS, "Europe/Paris"), (UTC, "UTC"), (None, "UTC")):
        with Conveyor(f"sqlite:///{tmp_path}/jobs.db", timezone=given) as app:  # type: ignore[arg-type]
            assert app.timezone == name


def test_a_fixed_offset_timezone_is_refused_asking_for_an_iana_name(tmp_path: Path) -> None:
    from datetime import timezone

    with pytest.raises(ValueError, match="IANA"):
        Conveyor(f"sqlite:///{tmp_path}/jobs.db", timezone=timezone(timedelta(hours=2)))  # type: ignore[arg-type]


def test_an_app_in_a_zoneinfo_reads_schedules_in_that_zone(
    open_app: Callable[..., Conveyor]
) -> None:
    app = open_app(timezone=PARIS)

    @app.job(trigger=app.schedule("every day at 9:00"))
    def nine() -> None: ...

    with FakeClock(app, start=datetime(2030, 7, 1, 5, tzinfo=UTC)) as clock:
        run_until_idle(app, clock=clock)
        assert [r.run_at for r in app.jobs_list(job="nine", state="scheduled")] == [
            datetime(2030, 7, 1, 7, tzinfo=UTC)]  # 09:00 CEST


@pytest.mark.parametrize("text", ["0 9 * * *", "every day at 9:00"])
def test_parse_schedule_takes_a_zoneinfo(text: str) -> None:
    after = datetime(2030, 1, 1, tzinfo=UTC)
    by_name = parse_schedule(text, tz="Europe/Paris").next(after=after, count=3)
    assert parse_schedule(text, tz=PARIS).next(after=after, count=3) == by_name
    assert parse_schedule(text, tz=PARIS).tz == "Europe/Paris"


def test_cron_and_every_take_a_zoneinfo(open_app: Callable[..., Conveyor]) -> None:
    app = open_app()
    assert app.cron("0 3 * * *", tz=PARIS).schedule.tz == "Europe/Paris"  # type: ignore[arg-type]
    assert app.every("2 hours", tz=PARIS).schedule.tz == "Europe/Paris"  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [None, 5, b"every day", ["every day"]])
def test_a_schedule_that_is_not_text_is_a_value_error(text: object) -> None:
    with pytest.raises(ValueError, match="text"):
        parse_schedule(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(("day", "spelled"), [
    (1, "first"), (2, "second"), (3, "third"), (11, "11th"), (12, "12th"), (13, "13th"),
    (21, "21st"), (22, "22nd"), (23, "23rd"), (31, "31st"),
])
def test_explain_spells_ordinals_right(day: int, spelled: str) -> None:
    assert f"the {spelled} day" in parse_schedule(f"0 0 {day} * *").explain()


@pytest.mark.parametrize(("span", "text"), [
    (timedelta(minutes=15), "every 15 minutes"), (900, "every 15 minutes"),
    (timedelta(hours=5), "every 5 hours"), (timedelta(minutes=90), "every 90 minutes"),
    (timedelta(days=1), "every 1 day"), (timedelta(weeks=2), "every 2 weeks"),
    (30.0, "every 30 seconds"),
])
def test_every_takes_a_timedelta_or_seconds_as_the_same_text(
    sqlite_app: Conveyor, span: object, text: str
) -> None:
    after = datetime(2030, 1, 1, 0, 7, tzinfo=UTC)
    trigger = sqlite_app.every(span)  # type: ignore[arg-type]
    assert trigger.schedule.text == text
    if "counted from" not in trigger.schedule.explain():  # (else: from its own creation)
        assert trigger.schedule.next(after=after, count=3) == parse_schedule(text).next(
            after=after, count=3)


@pytest.mark.parametrize("span", [0, -5, 1.5, timedelta(seconds=0.5), float("nan"), True,
                                  float("inf"), [15]])
def test_every_refuses_a_span_that_is_not_whole_seconds(sqlite_app: Conveyor, span: object) -> None:
    with pytest.raises(ValueError, match="every"):
        sqlite_app.every(span)  # type: ignore[arg-type]


@pytest.mark.parametrize("store", [5, object(), "memory://"])
def test_store_that_is_not_a_store_object_is_refused(store: object) -> None:
    with pytest.raises(ValueError, match="store="):
        Conveyor(store=store)  # type: ignore[arg-type]
