"""§3 ``run_in`` over generated starts and amounts: calendar steps clamp to the month's
end, fixed units land within a microsecond of the exact delay."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.testing import FakeClock
from tests.acceptance.support import record_of

STARTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
MONTHS_PER = {"month": 1, "months": 1, "quarter": 3, "quarters": 3, "year": 12, "years": 12}
FIXED = {
    "millisecond": timedelta(milliseconds=1),
    "seconds": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "day": timedelta(days=1),
    "weeks": timedelta(weeks=1),
}
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _job(app: Conveyor):  # type: ignore[no-untyped-def]
    if "later" not in app.jobs:

        @app.job("later")
        def later():  # type: ignore[no-untyped-def]
            return None

    return app.jobs["later"]


@SETTINGS
@given(start=STARTS, n=st.integers(0, 40), unit=st.sampled_from(sorted(MONTHS_PER)))
def test_calendar_steps_match_a_clamped_month_count(
    app: Conveyor, start: datetime, n: int, unit: str
) -> None:
    with FakeClock(app, start=start):
        handle = _job(app)().run_in(n, unit)
    assert record_of(app, handle.id).run_at == _add_months(start, n * MONTHS_PER[unit])


@SETTINGS
@given(start=STARTS, n=st.floats(0, 1000, allow_nan=False), unit=st.sampled_from(sorted(FIXED)))
def test_fixed_units_land_within_a_microsecond(
    app: Conveyor, start: datetime, n: float, unit: str
) -> None:
    with FakeClock(app, start=start):
        handle = _job(app)().run_in(n, unit)
    due = record_of(app, handle.id).run_at
    assert abs(due - (start + FIXED[unit] * n)) <= timedelta(microseconds=1)
    assert due >= start
