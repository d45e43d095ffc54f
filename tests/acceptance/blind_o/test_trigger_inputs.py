"""§3 triggering with odd-but-valid (and plainly invalid) inputs: number types, huge
delays, time zones spelled every way, awaited triggers, waiting for outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, JobFailed
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START

UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")


def _echo(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("echo")
    def echo(x=None):  # type: ignore[no-untyped-def]
        return x

    return echo


@pytest.mark.parametrize(
    ("n", "step"),
    [
        (Fraction(1, 4), timedelta(seconds=0.25)),
        (0.000_001, timedelta(microseconds=1)),
        (10**9, timedelta(seconds=10**9)),
    ],
)
def test_numeric_types_for_n_are_read_as_their_value(
    app: Conveyor, clock: FakeClock, n: object, step: timedelta
) -> None:
    handle = _echo(app)().run_in(n, "seconds")
    assert record_of(app, handle.id).run_at == START + step


@pytest.mark.parametrize(("n", "unit"), [(10**7, "years"), (10**12, "days"), (1e300, "weeks")])
def test_a_delay_past_the_calendar_is_a_value_error_not_an_overflow(
    sqlite_app: Conveyor, n: object, unit: str
) -> None:
    echo = _echo(sqlite_app)
    with pytest.raises(ValueError):
        echo().run_in(n, unit)
    assert sqlite_app.count() == 0


@pytest.mark.parametrize("n", [1.5, 0.25, Fraction(1, 2)])
@pytest.mark.parametrize("unit", ["month", "quarters", "year"])
def test_fractional_calendar_steps_are_refused_naming_the_units(
    sqlite_app: Conveyor, n: object, unit: str
) -> None:
    echo = _echo(sqlite_app)
    with pytest.raises(ValueError) as caught:
        echo().run_in(n, unit)
    assert "week" in str(caught.value)  # says which units take a fraction
    assert sqlite_app.count() == 0


def test_whole_floats_are_fine_for_calendar_steps(app: Conveyor) -> None:
    echo = _echo(app)
    with FakeClock(app, start=datetime(2030, 1, 31, 12, tzinfo=UTC)):
        handle = echo().run_in(1.0, "month")
    assert record_of(app, handle.id).run_at == datetime(2030, 2, 28, 12, tzinfo=UTC)


@pytest.mark.parametrize("n", [-1, -0.001, float("nan"), float("inf"), float("-inf")])
def test_negative_and_non_finite_n_name_what_is_accepted(sqlite_app: Conveyor, n: float) -> None:
    echo = _echo(sqlite_app)
    with pytest.raises(ValueError) as caught:
        echo().run_in(n, "seconds")
    assert str(n) in str(caught.value) or repr(n) in str(caught.value)
    assert sqlite_app.count() == 0


def test_minus_zero_is_zero(app: Conveyor, clock: FakeClock) -> None:
    handle = _echo(app)().run_in(-0.0, "seconds")
    assert record_of(app, handle.id).state == "queued"


@pytest.mark.parametrize("unit", ["fortnight", "", "SECONDZ", "lightyears"])
def test_an_unknown_unit_names_itself_and_every_accepted_unit(
    sqlite_app: Conveyor, unit: str
) -> None:
    echo = _echo(sqlite_app)
    with pytest.raises(ValueError) as caught:
        echo().run_in(1, unit)
    message = str(caught.value)
    for accepted in UNITS:
        assert accepted in message
    if unit:
        assert unit in message


@pytest.mark.parametrize("tz", ["UTC", "Etc/UTC", ZoneInfo("UTC"), UTC])
def test_a_naive_run_at_under_a_utc_zone_spelled_any_way_is_utc(open_app, tz: object) -> None:  # type: ignore[no-untyped-def]
    app = open_app(timezone=tz)
    handle = _echo(app)().run_at(datetime(2031, 5, 1, 9, 30))
    assert record_of(app, handle.id).run_at == datetime(2031, 5, 1, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("tz", ["Europe/Paris", ZoneInfo("Asia/Kolkata")])
def test_a_naive_run_at_under_another_zone_is_refused(tmp_path, tz: object) -> None:  # type: ignore[no-untyped-def]
    with Conveyor(f"sqlite:///{tmp_path}/tz.db", timezone=tz) as app:  # type: ignore[arg-type]
        echo = _echo(app)
        with pytest.raises(ValueError) as caught:
            echo().run_at(datetime(2031, 5, 1, 9, 30))
        assert "aware" in str(caught.value) or "tzinfo" in str(caught.value)
        assert app.count() == 0


def test_an_aware_run_at_in_any_zone_is_the_same_instant_read_back_in_utc(app: Conveyor) -> None:
    echo = _echo(app)
    kolkata = datetime(2031, 5, 1, 9, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    odd_offset = datetime(2031, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3, minutes=-17)))
    for when in (kolkata, odd_offset):
        stored = record_of(app, echo().run_at(when).id).run_at
        assert stored == when
        assert stored.utcoffset() == timedelta(0)


def test_an_unknown_app_timezone_is_refused_when_opening(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as caught:
        Conveyor(f"sqlite:///{tmp_path}/x.db", timezone="Mars/Olympus_Mons")
    assert "Mars/Olympus_Mons" in str(caught.value)


def test_a_run_at_in_the_past_is_due_at_once(app: Conveyor, clock: FakeClock) -> None:
    echo = _echo(app)
    handle = echo("late").run_at(datetime(1999, 12, 31, 23, 59, tzinfo=UTC))
    assert record_of(app, handle.id).state == "queued"
    run_until_idle(app)
    assert handle.result(timeout=5) == "late"


def test_run_at_with_a_date_or_a_string_is_refused(sqlite_app: Conveyor) -> None:
    echo = _echo(sqlite_app)
    for when in ("2031-05-01T09:30:00Z", 1_900_000_000):
        with pytest.raises((TypeError, ValueError)):
            echo().run_at(when)
    assert sqlite_app.count() == 0


def test_every_async_trigger_form_stores_and_gives_the_handle_back(
    app: Conveyor, clock: FakeClock
) -> None:
    echo = _echo(app)

    async def trigger_all() -> list[object]:
        return [
            await echo(1).run_now(),
            await echo(2).run_in(1.5, "seconds"),
            await echo(3).run_in(2, "quarters"),
            await echo(4).run_at(START + timedelta(days=1)),
        ]

    handles = asyncio.run(trigger_all())
    states = [record_of(app, h.id).state for h in handles]  # type: ignore[attr-defined]
    assert states == ["queued", "scheduled", "scheduled", "scheduled"]
    assert record_of(app, handles[2].id).run_at == datetime(2030, 7, 7, 8, tzinfo=UTC)  # type: ignore[attr-defined]


def test_a_handle_awaited_twice_is_still_itself(app: Conveyor) -> None:
    echo = _echo(app)

    async def twice() -> tuple[object, object, object]:
        handle = echo("x").run_now()
        return handle, await handle, await handle

    handle, first, second = asyncio.run(twice())
    assert first is handle and second is handle


def test_waiting_times_out_with_timeout_error_sync_and_async(
    app: Conveyor, clock: FakeClock
) -> None:
    handle = _echo(app)("never run").run_in(1, "day")
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    with pytest.raises(TimeoutError):
        asyncio.run(handle.wait(timeout=0.05))
    assert record_of(app, handle.id).state == "scheduled"


def test_result_of_a_cancelled_job_raises_job_failed_sync_and_async(app: Conveyor) -> None:
    handle = _echo(app)("doomed").run_in(1, "hour")
    assert app.cancel(handle.id)
    with pytest.raises(JobFailed):
        handle.result(timeout=5)
    with pytest.raises(JobFailed):
        asyncio.run(handle.wait(timeout=5))


def test_job_failed_carries_the_stored_error(app: Conveyor) -> None:
    @app.job(retry=0)
    def explode(what):  # type: ignore[no-untyped-def]
        raise LookupError(f"no such thing: {what} ✗")

    handle = explode("ünïcode").run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=5)
    assert "no such thing: ünïcode ✗" in str(caught.value)
    assert "LookupError" in str(caught.value) or "LookupError" in repr(caught.value.__dict__)
