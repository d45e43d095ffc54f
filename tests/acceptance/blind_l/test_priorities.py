"""§4 priorities: names and ints, higher first among due jobs, equal ones oldest due first,
and a delayed high-priority job does not jump ahead of its due time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def _recorder(app: Conveyor, order: list[str]):  # type: ignore[no-untyped-def]
    @app.job("step")
    def step(name):  # type: ignore[no-untyped-def]
        order.append(name)

    return step


def test_names_and_ints_order_due_jobs(app: Conveyor, clock: FakeClock) -> None:
    order: list[str] = []
    step = _recorder(app, order)
    for name, priority in [
        ("low", "low"), ("n", "normal"), ("c", "critical"), ("minus", -100),
        ("m", "medium"), ("h", "high"), ("big", 1000), ("seven", 7), ("default", None),
    ]:
        options = {} if priority is None else {"priority": priority}
        step(name).run_now(**options)
    run_until_idle(app, concurrency=1)
    assert order == ["big", "c", "h", "seven", "m", "n", "default", "low", "minus"]


def test_equal_priority_runs_oldest_due_first(app: Conveyor, clock: FakeClock) -> None:
    order: list[str] = []
    step = _recorder(app, order)
    step("due-last").run_at(START - timedelta(minutes=1))
    step("due-first").run_at(START - timedelta(hours=1))
    step("due-now").run_now()
    step("due-middle").run_at(START - timedelta(minutes=30))
    run_until_idle(app, concurrency=1)
    assert order == ["due-first", "due-middle", "due-last", "due-now"]


def test_a_delayed_urgent_job_waits_for_its_time(app: Conveyor, clock: FakeClock) -> None:
    order: list[str] = []
    step = _recorder(app, order)
    urgent = step("urgent").run_in(10, "minutes", priority="critical")
    step("slow").run_now(priority="low")
    run_until_idle(app, concurrency=1)
    assert order == ["slow"]
    assert record_of(app, urgent.id).state == "scheduled"
    step("later-low").run_in(10, "minutes", priority="low")
    clock.advance(10, "minutes")
    run_until_idle(app, concurrency=1)
    assert order == ["slow", "urgent", "later-low"]


def test_priority_reads_back_as_name_or_number(app: Conveyor) -> None:
    step = _recorder(app, [])
    record = record_of(app, step("x").run_now(priority="high").id)
    assert record.priority == "high"
    assert record.priority > record_of(app, step("y").run_now().id).priority
    assert record_of(app, step("z").run_now(priority=3).id).priority == 3


@pytest.mark.parametrize("bad", ["urgent", "HIGHEST", "", 1.5, [1]])
def test_unknown_priority_is_refused_naming_the_levels(sqlite_app: Conveyor, bad: object) -> None:
    step = _recorder(sqlite_app, [])
    with pytest.raises((ValueError, TypeError)) as caught:
        step("x").run_now(priority=bad)
    assert "critical" in str(caught.value)
    assert sqlite_app.jobs_list() == []
