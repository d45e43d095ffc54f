"""SPEC §6: later.js clauses joined with each other and with conveyor's extensions mean
the same in any order; found by ``test_later_model`` (a year clause before the rest sends
the text to later.js's grammar, where a list of times kept one time and the range
extension ``between the 5th and 10th hour`` was refused), and stored as such on every
store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor import Conveyor, parse_schedule
from conveyor.testing import FakeClock, run_until_idle

AFTER = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _hours(text: str, count: int = 6) -> list[str]:
    return [t.strftime("%m-%d %H:%M") for t in parse_schedule(text).next(AFTER, count)]


@pytest.mark.parametrize(
    "text",
    [
        "in 2027 at 17:46 and 2:31",
        "at 17:46 and 2:31 in 2027",
        "in 2027 at 5:46 pm and 2:31 am",
        "of jan in 2027 at 17:46 and 2:31",
        "in 2027 at 17:46, 2:31",
    ],
)
def test_every_time_of_a_list_fires_whatever_comes_before_it(text: str) -> None:
    assert _hours(text, 4) == ["01-01 02:31", "01-01 17:46", "01-02 02:31", "01-02 17:46"]


def test_three_times_out_of_order_after_a_year_each_fire() -> None:
    assert _hours("in 2027 at 5:46 pm and 2:31 and 18:30", 4) == [
        "01-01 02:31",
        "01-01 17:46",
        "01-01 18:30",
        "01-02 02:31",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "in 2027 every 2 hours between the 5th and 10th hour",
        "every 2 hours between the 5th and 10th hour in 2027",
        "of jan every 2 hours between the 5th and 10th hour in 2027",
        "in 2027 every 2 hours between the 5th and 10th",
    ],
)
def test_the_hour_range_extension_joins_a_year(text: str) -> None:
    assert _hours(text, 4) == ["01-01 05:00", "01-01 07:00", "01-01 09:00", "01-02 05:00"]


def test_the_minute_range_extension_joins_later_js_bounds() -> None:
    text = "every 5 min between the 1st and 20th min after 9:00 before 10:00 in 2027"
    assert _hours(text, 5) == [
        "01-01 09:01",
        "01-01 09:06",
        "01-01 09:11",
        "01-01 09:16",
        "01-02 09:01",
    ]


def test_a_numbered_and_the_last_day_both_fire_in_a_year() -> None:
    text = "on the 5th and last day in 2027"
    days = [t.strftime("%m-%d") for t in parse_schedule(text).next(AFTER, 5)]
    assert days == ["01-05", "01-31", "02-05", "02-28", "03-05"]


def test_a_joined_schedule_is_stored_and_runs_each_time(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job("stamp", trigger=app.schedule("in 2031 at 17:00 and 9:00"))
    def stamp() -> None:
        ran.append("x")

    with FakeClock(app, start=datetime(2031, 3, 1, 8, tzinfo=UTC)) as clock:
        run_until_idle(app, clock=clock)
        due = [r.run_at for r in app.jobs_list(job="stamp", state="scheduled")]
        assert due == [datetime(2031, 3, 1, 9, tzinfo=UTC)]
        for _ in range(2):
            clock.advance(8, "hours")
            run_until_idle(app, clock=clock)
    runs = sorted(app.jobs_list(job="stamp"), key=lambda r: r.id)
    assert [(r.state, r.run_at.hour) for r in runs if r.run_at] == [
        ("completed", 9),
        ("completed", 17),
        ("scheduled", 9),
    ]
    assert len(ran) == 2
