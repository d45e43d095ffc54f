"""Blind acceptance tests of SPEC §3 (triggering): odd but valid values, boundaries, and
invalid input that must get one clear error; every store."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conveyor import (
    Conveyor,
    JobFailed,
    JobHandle,
)
from tests.acceptance.blind_core.support import (
    START,
    UNITS,
    due,
    record,
)
from tests.conformance.helpers import ManualClock, drain


def test_run_now_stores_before_returning(app: Conveyor) -> None:
    @app.job
    def job(a: Any, b: Any = None) -> None: ...

    handle = job("", b={"k": [[], {}]}).run_now()
    rec = record(app, handle)
    assert rec.state == "queued"
    assert list(rec.args) == [""]
    assert rec.kwargs == {"b": {"k": [[], {}]}}


def test_run_at_stores_the_same_instant_in_utc(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for tz in [ZoneInfo("Asia/Kathmandu"), timezone(timedelta(hours=-11)),
               ZoneInfo("America/St_Johns")]:
        when = datetime(2032, 2, 29, 0, 0, 0, 123000, tzinfo=tz)
        rec = record(app, job().run_at(when))
        assert rec.run_at == when, tz
        assert rec.run_at.utcoffset() == timedelta(0)
        assert rec.state == "scheduled"


def test_naive_run_at_is_utc_under_a_utc_app(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    rec = record(app, job().run_at(datetime(2040, 6, 1, 12, 0)))
    assert rec.run_at == datetime(2040, 6, 1, 12, 0, tzinfo=UTC)


def test_naive_run_at_under_another_timezone_is_a_value_error(
        make: Callable[..., Conveyor]) -> None:
    app = make(timezone="Pacific/Chatham")

    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError):
        job().run_at(datetime(2040, 6, 1, 12, 0))
    aware = job().run_at(datetime(2040, 6, 1, 12, 0, tzinfo=ZoneInfo("Pacific/Chatham")))
    assert record(app, aware).run_at == datetime(2040, 6, 1, 12, 0,
                                                 tzinfo=ZoneInfo("Pacific/Chatham"))
    assert app.count() == 1


def test_every_unit_singular_and_plural(capp: Conveyor) -> None:
    @capp.job
    def job() -> None: ...

    for unit in UNITS:
        one = due(capp, job().run_in(1, unit))
        many = due(capp, job().run_in(1, unit + "s"))
        assert one == many > START, unit


def test_fractional_and_large_exact_steps(capp: Conveyor) -> None:
    @capp.job
    def job() -> None: ...

    for n, unit, delta in [(0.5, "millisecond", timedelta(microseconds=500)),
                           (1e-3, "seconds", timedelta(milliseconds=1)),
                           (1.25, "minutes", timedelta(seconds=75)),
                           (0, "hours", timedelta(0)),
                           (0.5, "week", timedelta(days=3.5)),
                           (10_000, "days", timedelta(days=10_000))]:
        assert record(capp, job().run_in(n, unit)).run_at == START + delta, (n, unit)


@pytest.mark.parametrize(("start", "n", "unit", "expected"), [
    (datetime(2031, 1, 31, 23, 30, tzinfo=UTC), 1, "month", datetime(2031, 2, 28, 23, 30)),
    (datetime(2032, 1, 31, 23, 30, tzinfo=UTC), 1, "month", datetime(2032, 2, 29, 23, 30)),
    (datetime(2031, 11, 30, 6, 0, tzinfo=UTC), 1, "quarter", datetime(2032, 2, 29, 6, 0)),
    (datetime(2032, 2, 29, 0, 0, tzinfo=UTC), 1, "year", datetime(2033, 2, 28, 0, 0)),
    (datetime(2031, 3, 31, 0, 0, tzinfo=UTC), 13, "months", datetime(2032, 4, 30, 0, 0)),
])
def test_calendar_steps_clamp_to_month_end(make: Callable[..., Conveyor], start: datetime,
                                           n: int, unit: str, expected: datetime) -> None:
    app = make(clock=ManualClock(start))

    @app.job
    def job() -> None: ...

    assert record(app, job().run_in(n, unit)).run_at == expected.replace(tzinfo=UTC)


def test_bad_run_in_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for n, unit in [(1, "fortnight"), (1, ""), (1, "SECONDS!"), (-1, "second"),
                    (-0.001, "day"), (math.inf, "seconds"), (math.nan, "minutes"),
                    (-math.inf, "hours"), (0.5, "month"), (1.5, "years")]:
        with pytest.raises(ValueError):
            job().run_in(n, unit)
    assert app.count() == 0


def test_unknown_unit_error_lists_the_accepted_units(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(ValueError) as caught:
        job().run_in(3, "fortnights")
    assert all(unit in str(caught.value) for unit in ("millisecond", "quarter", "year"))


def test_trigger_options_are_stored(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    handle = job().run_now(priority="critical", queue="очередь", key="🔑", owner="user-ü")
    rec = record(app, handle)
    assert (rec.queue, rec.key, rec.owner) == ("очередь", "🔑", "user-ü")
    system = [record(app, job().run_now(owner=o)).owner for o in (0, None)]
    assert system[0] == system[1]


def test_replace_cancels_pending_jobs_of_the_same_key_only(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    old = [job(i).run_now(key="k") for i in range(3)]
    other_key = job(9).run_now(key="K")
    empty_key = job(10).run_now(key="")
    new = job(99).run_now(key="k", replace=True)
    assert [record(app, h).state for h in old] == ["cancelled"] * 3
    assert record(app, other_key).state == "queued"
    assert record(app, empty_key).state == "queued"
    assert record(app, new).state == "queued"


def test_replace_with_no_key_matches_every_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    @app.job
    def other() -> None: ...

    old = [job(1).run_now(key="a"), job(2).run_now()]
    bystander = other().run_now()
    job(3).run_now(replace=True)
    assert [record(app, h).state for h in old] == ["cancelled", "cancelled"]
    assert record(app, bystander).state == "queued"


def test_replace_leaves_finished_jobs_alone(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    done = job().run_now(key="x")
    drain(app)
    job().run_now(key="x", replace=True)
    assert record(app, done).state == "completed"


def test_unique_returns_the_existing_pending_job_per_key_and_owner(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    first = job(1).run_now(key="ключ", unique=True)
    again = job(2).run_now(key="ключ", unique=True)
    other_owner = job(3).run_now(key="ключ", unique=True, owner="someone")
    assert again.id == first.id
    assert other_owner.id != first.id
    assert app.count() == 2


def test_schedule_job_passes_data_as_the_single_argument(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("reaction-style")
    def job(data: Any, meta: Any) -> None:
        got.append((data, meta.attempt))
        if meta.attempt == 1:
            raise RuntimeError("first try fails")

    data = {"nested": {"list": [1, [2, [3]]]}, "big": 2**62, "tiny": 5e-324}
    handle = app.schedule_job(type="reaction-style", data=data, priority="normal",
                              retry={"retries": 1, "wait": 0, "backoff": "exponential"})
    assert isinstance(handle, JobHandle)
    drain(app)
    assert got == [(data, 1), (data, 2)]
    assert record(app, handle).state == "completed"


def test_schedule_cron_job_returns_a_handle(app: Conveyor) -> None:
    @app.job
    def nightly(data: Any) -> None: ...

    handle = app.schedule_cron_job("nightly", "0 3 * * *", data={"ü": 1}, owner="u1")
    assert isinstance(handle, JobHandle)


def test_awaiting_a_trigger_and_waiting_for_it(app: Conveyor) -> None:
    @app.job
    async def double(x: float) -> float:
        return x * 2

    async def main() -> Any:
        handle = await double(-0.5).run_now()
        worker = asyncio.create_task(app.run_worker_async(burst=True))
        result = await handle.wait(timeout=10)
        await worker
        return result

    assert asyncio.run(main()) == -1.0


def test_result_times_out_on_a_job_that_never_runs(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    with pytest.raises(TimeoutError):
        job().run_in(1, "year").result(timeout=0.05)


def test_result_raises_job_failed_for_failed_and_cancelled(app: Conveyor) -> None:
    @app.job
    def boom() -> None:
        raise KeyError("ключ")

    failed = boom().run_now()
    cancelled = boom().run_in(1, "day")
    app.cancel(cancelled.id)
    drain(app)
    with pytest.raises(JobFailed) as caught:
        failed.result(timeout=30)
    assert "ключ" in str(caught.value)
    with pytest.raises(JobFailed):
        cancelled.result(timeout=30)
