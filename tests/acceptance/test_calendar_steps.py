"""SPEC §1 and §3 — months, quarters and years are calendar steps, taken on the calendar
and wall clock of the app's ``timezone=``: Jan 31 + 1 month is Feb 28/29 there, and 09:00
stays 09:00 across a change of daylight saving time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, RetryIn
from conveyor.testing import FakeClock, run_until_idle

PARIS = ZoneInfo("Europe/Paris")


def paris(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)  # type: ignore[misc]


@pytest.mark.parametrize(("now", "n", "unit", "due"), [
    (paris(2030, 1, 31, 0, 30), 1, "month", paris(2030, 2, 28, 0, 30)),  # UTC: still Jan 30
    (paris(2032, 1, 31, 0, 30), 1, "month", paris(2032, 2, 29, 0, 30)),
    (paris(2030, 3, 1, 9, 0), 1, "month", paris(2030, 4, 1, 9, 0)),  # CET -> CEST
    (paris(2030, 10, 15, 9, 0), 1, "quarter", paris(2031, 1, 15, 9, 0)),  # CEST -> CET
    (paris(2030, 11, 30, 23, 30), 1, "year", paris(2031, 11, 30, 23, 30)),
])
def test_run_in_takes_calendar_steps_in_the_app_timezone(
    open_app: Callable[..., Conveyor], now: datetime, n: int, unit: str, due: datetime
) -> None:
    app = open_app(timezone="Europe/Paris")

    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=now):
        handle = noop().run_in(n, unit)
    record = app.get_job(handle.id)
    assert record is not None
    assert record.run_at == due.astimezone(UTC)


@settings(max_examples=30)
@given(
    moment=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
    months=st.integers(min_value=0, max_value=40),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]),
)
def test_a_month_step_keeps_the_local_day_and_time_of_day(
    moment: datetime, months: int, zone: str
) -> None:
    local = moment.replace(tzinfo=ZoneInfo(zone))
    if not _exists(local):
        return  # a wall time the zone skips (a spring-forward gap): no such "now"
    with Conveyor("memory://", timezone=zone) as app:
        @app.job
        def noop() -> None: ...

        with FakeClock(app, start=local):
            handle = noop().run_in(months, "months")
        due = app.get_job(handle.id).run_at.astimezone(ZoneInfo(zone))  # type: ignore[union-attr]
    assert (due.year * 12 + due.month) - (local.year * 12 + local.month) == months
    assert due.day == local.day or (due.day < local.day and due.day >= 28)
    wanted = datetime.combine(due.date(), local.time(), tzinfo=ZoneInfo(zone))
    if _exists(wanted):  # not in a spring-forward gap on the due day
        assert due.time() == local.time()


def _exists(wall: datetime) -> bool:
    return wall.astimezone(UTC).astimezone(wall.tzinfo).replace(tzinfo=None) == \
        wall.replace(tzinfo=None)


def test_retry_in_a_month_is_a_calendar_step_in_the_app_timezone(
    open_app: Callable[..., Conveyor]
) -> None:
    app = open_app(timezone="Europe/Paris")

    @app.job
    def monthly(meta: object) -> None:
        raise RetryIn(1, "month")

    with FakeClock(app, start=paris(2030, 3, 31, 9, 0)) as clock:
        handle = monthly().run_now()
        run_until_idle(app, clock)
    assert app.get_job(handle.id).run_at == paris(2030, 4, 30, 9, 0).astimezone(UTC)  # type: ignore[union-attr]
