"""§3 run_in / run_at: every unit spelling, calendar steps, fractions, and the refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START

FIXED_UNITS = {
    "millisecond": timedelta(milliseconds=1), "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1), "hour": timedelta(hours=1),
    "day": timedelta(days=1), "week": timedelta(weeks=1),
}


def _noop(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("noop")
    def noop(x=None):  # type: ignore[no-untyped-def]
        return x

    return noop


def test_fixed_units_singular_and_plural_with_fractions(app: Conveyor, clock: FakeClock) -> None:
    noop = _noop(app)
    for unit, step in FIXED_UNITS.items():
        for spelled in (unit, unit + "s"):
            handle = noop().run_in(2.5, spelled)
            assert record_of(app, handle.id).run_at == START + step * 2.5, spelled
            assert record_of(app, handle.id).state == "scheduled"


# (single month, quarter and year steps: the shipped conformance suite's test_triggering)
CALENDAR_STEPS = [
    (datetime(2027, 5, 31, tzinfo=UTC), 2, "quarters", datetime(2027, 11, 30, tzinfo=UTC)),
    (datetime(2028, 2, 29, tzinfo=UTC), 4, "years", datetime(2032, 2, 29, tzinfo=UTC)),
    (datetime(2027, 12, 31, tzinfo=UTC), 2, "months", datetime(2028, 2, 29, tzinfo=UTC)),
]


def test_calendar_steps_clamp_to_the_month_end(app: Conveyor) -> None:
    noop = _noop(app)
    for start, n, unit, expected in CALENDAR_STEPS:
        with FakeClock(app, start=start):
            handle = noop().run_in(n, unit)
        assert record_of(app, handle.id).run_at == expected, (start, n, unit)


def test_zero_delay_is_due_at_once_and_runs(app: Conveyor, clock: FakeClock) -> None:
    noop = _noop(app)
    handle = noop(5).run_in(0, "seconds")
    assert record_of(app, handle.id).run_at == START
    run_until_idle(app)
    assert handle.result(timeout=30) == 5


def test_delay_becomes_due_after_exactly_that_long(app: Conveyor, clock: FakeClock) -> None:
    noop = _noop(app)
    handle = noop(1).run_in(1.5, "milliseconds")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "scheduled"
    clock.advance(timedelta(microseconds=1500))
    run_until_idle(app)
    assert record_of(app, handle.id).state == "completed"


@pytest.mark.parametrize(
    ("n", "unit"),
    [
        (-1, "seconds"), (-0.001, "days"), (math.nan, "seconds"), (math.inf, "hours"),
        (-math.inf, "minutes"), (1, "fortnight"), (1, "secs?"), (1, ""), (1.5, "months"),
        (0.5, "quarter"), (2.25, "years"),
    ],
)
def test_refused_delays_raise_value_errors_naming_the_units(
    sqlite_app: Conveyor, n: float, unit: str
) -> None:
    app = sqlite_app
    noop = _noop(app)
    with pytest.raises(ValueError) as caught:
        noop().run_in(n, unit)
    message = str(caught.value).lower()
    if unit in {"fortnight", "secs?", ""}:
        assert "second" in message and "quarter" in message, message
    assert app.jobs_list() == [], "a refused trigger stores nothing"


def test_aware_run_at_in_any_zone_is_stored_as_the_same_instant_in_utc(app: Conveyor) -> None:
    noop = _noop(app)
    when = datetime(2031, 3, 30, 2, 30, tzinfo=timezone(timedelta(hours=-9, minutes=-30)))
    paris = datetime(2031, 10, 26, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))
    for moment in (when, paris):
        stored = record_of(app, noop().run_at(moment).id).run_at
        assert stored == moment.astimezone(UTC)  # (fold=1 never equals across zones)
        assert stored.utcoffset() == timedelta(0)


def test_naive_run_at_under_a_utc_app_means_utc(app: Conveyor) -> None:
    noop = _noop(app)
    stored = record_of(app, noop().run_at(datetime(2031, 6, 1, 9, 15)).id).run_at
    assert stored == datetime(2031, 6, 1, 9, 15, tzinfo=UTC)


def test_naive_run_at_under_a_non_utc_app_is_refused(store_url: str) -> None:
    with Conveyor(store_url, timezone="America/New_York") as app:
        noop = _noop(app)
        with pytest.raises(ValueError) as caught:
            noop().run_at(datetime(2031, 6, 1, 9, 15))
        assert "naive" in str(caught.value).lower() or "tzinfo" in str(caught.value).lower()
        aware = datetime(2031, 6, 1, 9, 15, tzinfo=ZoneInfo("America/New_York"))
        assert record_of(app, noop().run_at(aware).id).run_at == aware


def test_far_future_and_past_run_at(app: Conveyor, clock: FakeClock) -> None:
    noop = _noop(app)
    far = datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    late = noop("far").run_at(far)
    past = noop("past").run_at(datetime(1999, 1, 1, tzinfo=UTC))
    assert record_of(app, late.id).run_at == far
    run_until_idle(app)
    assert record_of(app, past.id).state == "completed"
    assert record_of(app, late.id).state == "scheduled"


def test_an_awkward_fractional_delay_is_due_after_exactly_that_long(
    app: Conveyor, clock: FakeClock
) -> None:
    noop = _noop(app)
    for n, unit in [(1.0157349907167372, "minutes"), (0.1 + 0.2, "seconds"), (2 / 3, "hours")]:
        handle = noop(n).run_in(n, unit)
        clock.advance(n, unit)
        run_until_idle(app)
        assert record_of(app, handle.id).state == "completed", (n, unit)
