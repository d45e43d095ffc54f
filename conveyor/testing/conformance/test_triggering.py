"""Triggering: run_now / run_at / run_in, units, options, payloads, handles (SPEC §3)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, PayloadError, Retry

from .helpers import ManualClock, NewApp, drain, run_failing

FIXED_UNITS = {
    "millisecond": 0.001, "second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0,
    "week": 604800.0,
}


@pytest.fixture
def echo(app: Conveyor) -> object:
    @app.job
    def echo(value: object = None) -> object:
        return value

    return echo


def test_run_now_stores_a_queued_job_and_returns_its_handle(app: Conveyor, echo) -> None:
    h = echo({"a": 1}).run_now()
    assert isinstance(h, JobHandle)
    record = app.get_job(h.id)
    assert record is not None
    assert record.state == "queued"
    assert record.job == "echo"
    assert record.args == [{"a": 1}]
    assert record.payload == {"a": 1}


def test_triggered_job_is_committed_before_the_call_returns(app: Conveyor, echo) -> None:
    if app.url.startswith("memory"):
        pytest.skip("a memory store has no second connection")
    h = echo(7).run_now()
    with Conveyor(app.url, lease=2) as other:  # a second connection sees it at once
        record = other.get_job(h.id)
        assert record is not None and record.state == "queued"


def test_run_at_stores_the_due_time_in_utc(app: Conveyor, echo) -> None:
    when = datetime(2030, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    record = app.get_job(echo().run_at(when).id)
    assert record is not None
    assert record.state == "scheduled"
    assert record.run_at == when
    assert record.run_at.tzinfo is UTC


def test_run_at_in_the_past_is_queued_at_once(app: Conveyor, echo) -> None:
    h = echo().run_at(datetime.now(UTC) - timedelta(hours=1))
    assert h.state == "queued"


def test_naive_run_at_is_utc_under_a_utc_app(app: Conveyor, echo) -> None:
    record = app.get_job(echo().run_at(datetime(2030, 1, 1, 9, 30)).id)
    assert record is not None
    assert record.run_at == datetime(2030, 1, 1, 9, 30, tzinfo=UTC)


def test_naive_run_at_under_a_non_utc_app_is_refused(new_app: NewApp) -> None:
    with new_app(timezone="Europe/Paris") as paris:
        @paris.job
        def task() -> None: ...

        with pytest.raises(ValueError, match=r"naive datetime .*Europe/Paris.*timezone-aware"):
            task().run_at(datetime(2030, 1, 1, 9, 30))
        assert paris.count() == 0


@pytest.mark.parametrize("unit", sorted(FIXED_UNITS) + [u + "s" for u in sorted(FIXED_UNITS)])
def test_run_in_every_fixed_unit_singular_and_plural(app: Conveyor, echo, unit: str) -> None:
    record = app.get_job(echo().run_in(3, unit).id)
    assert record is not None and record.run_at is not None
    expected = 3 * FIXED_UNITS[unit.rstrip("s")]
    assert (record.run_at - record.created_at).total_seconds() == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("n", "unit", "seconds"), [
    (1.5, "weeks", 1.5 * 604800), (0.25, "days", 21600), (2.5, "hours", 9000),
    (0.5, "minute", 30), (1.25, "seconds", 1.25), (500.5, "milliseconds", 0.5005),
])
def test_run_in_accepts_fractions_up_to_weeks(
    app: Conveyor, echo, n: float, unit: str, seconds: float
) -> None:
    record = app.get_job(echo().run_in(n, unit).id)
    assert record is not None and record.run_at is not None
    assert (record.run_at - record.created_at).total_seconds() == pytest.approx(seconds, abs=0.01)


def test_run_in_takes_a_timedelta(app: Conveyor, echo) -> None:
    record = app.get_job(echo().run_in(timedelta(minutes=1, seconds=30)).id)
    assert record is not None and record.run_at is not None
    assert (record.run_at - record.created_at).total_seconds() == pytest.approx(90, abs=0.01)
    with pytest.raises(ValueError, match="accepted: a finite number >= 0"):
        echo().run_in(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="a timedelta carries its own unit"):
        echo().run_in(timedelta(seconds=5), "minutes")
    assert app.count() == 1


@pytest.mark.parametrize(("start", "n", "unit", "due"), [
    (datetime(2027, 1, 31, 12, tzinfo=UTC), 1, "month", datetime(2027, 2, 28, 12, tzinfo=UTC)),
    (datetime(2028, 1, 31, 12, tzinfo=UTC), 1, "months", datetime(2028, 2, 29, 12, tzinfo=UTC)),
    (datetime(2027, 3, 31, 8, tzinfo=UTC), 2, "months", datetime(2027, 5, 31, 8, tzinfo=UTC)),
    (datetime(2027, 11, 30, tzinfo=UTC), 1, "quarter", datetime(2028, 2, 29, tzinfo=UTC)),
    (datetime(2027, 1, 15, tzinfo=UTC), 2, "quarters", datetime(2027, 7, 15, tzinfo=UTC)),
    (datetime(2028, 2, 29, tzinfo=UTC), 1, "year", datetime(2029, 2, 28, tzinfo=UTC)),
    (datetime(2027, 6, 1, tzinfo=UTC), 3, "years", datetime(2030, 6, 1, tzinfo=UTC)),
])
def test_run_in_calendar_units_step_on_the_calendar(
    app: Conveyor, echo, start: datetime, n: int, unit: str, due: datetime
) -> None:
    app.use_clock(ManualClock(start))
    h = echo().run_in(n, unit)
    app.use_clock(None)
    record = app.get_job(h.id)
    assert record is not None
    assert record.run_at == due


def test_run_in_unknown_unit_lists_the_accepted_units(app: Conveyor, echo) -> None:
    with pytest.raises(ValueError) as info:
        echo().run_in(3, "fortnights")
    message = str(info.value)
    assert "fortnights" in message
    for unit in ("millisecond", "second", "minute", "hour", "day", "week", "month",
                 "quarter", "year"):
        assert unit in message
    assert app.count() == 0


@pytest.mark.parametrize("n", [-1, -0.5, math.inf, -math.inf, math.nan])
def test_run_in_refuses_negative_or_non_finite_amounts(app: Conveyor, echo, n: float) -> None:
    with pytest.raises(ValueError, match="accepted: a finite number >= 0"):
        echo().run_in(n, "seconds")
    assert app.count() == 0


def test_run_in_refuses_fractional_calendar_steps(app: Conveyor, echo) -> None:
    with pytest.raises(ValueError, match="whole number"):
        echo().run_in(1.5, "months")


def test_run_in_refuses_an_amount_that_is_not_a_number(app: Conveyor, echo) -> None:
    with pytest.raises(ValueError, match="must be a number"):
        echo().run_in("3", "seconds")


def test_trigger_options_are_stored(app: Conveyor, echo) -> None:
    h = echo(1).run_in(
        1, "hour", priority="high", queue="exports", key="k1", owner=42,
        retry=Retry(retries=4, wait=1), timeout=5, retention="7 days", remove_delay=60,
    )
    record = app.get_job(h.id)
    assert record is not None
    assert (record.priority, record.queue, record.key, record.owner) == (10, "exports", "k1", 42)
    assert record.max_attempts == 5
    assert record.attempts == 0


@pytest.mark.parametrize("owner", [0, None, ""])
def test_owner_zero_or_none_means_the_system(app: Conveyor, echo, owner: object) -> None:
    record = app.get_job(echo().run_now(owner=owner).id)
    assert record is not None and record.owner is None


def test_unknown_trigger_option_is_refused_listing_accepted(app: Conveyor, echo) -> None:
    with pytest.raises(ValueError, match="unknown trigger option 'prio'; accepted: priority"):
        echo().run_now(prio=1)
    assert app.count() == 0


def test_replace_and_unique_together_are_refused(app: Conveyor, echo) -> None:
    with pytest.raises(ValueError, match="cannot be combined"):
        echo().run_now(replace=True, unique=True)


@pytest.mark.parametrize("bad", ["urgent", 1.5, True, 2**31, -(2**31) - 1, 10**30])
def test_bad_priority_is_refused_listing_names(app: Conveyor, echo, bad: object) -> None:
    with pytest.raises(ValueError, match="low, normal, medium, high, critical or an int"):
        echo().run_now(priority=bad)
    assert app.count() == 0


@pytest.mark.parametrize("priority", [2**31 - 1, -(2**31)])
def test_the_largest_priorities_every_store_holds_are_accepted(
    app: Conveyor, echo, priority: int
) -> None:
    record = app.get_job(echo().run_now(priority=priority).id)
    assert record is not None and record.priority == priority


def test_payload_error_names_the_offending_path_at_trigger_time(app: Conveyor, echo) -> None:
    with pytest.raises(PayloadError) as info:
        echo({"files": [{"path": "a.png", "at": datetime(2030, 1, 1)}]}).run_now()
    assert '["files"][0]["at"]' in str(info.value)
    assert "datetime" in str(info.value)
    assert app.count() == 0


def test_payload_error_for_keyword_arguments_names_the_keyword(app: Conveyor) -> None:
    @app.job
    def price(amount: object) -> None: ...

    with pytest.raises(PayloadError, match=r'payload\["amount"\] is a Decimal'):
        price(amount=Decimal("1.5")).run_now()
    assert app.count() == 0


def test_payload_error_is_raised_for_run_at_and_run_in_too(app: Conveyor, echo) -> None:
    with pytest.raises(PayloadError):
        echo({1, 2}).run_in(1, "second")
    with pytest.raises(PayloadError):
        echo(object()).run_at(datetime(2030, 1, 1, tzinfo=UTC))
    assert app.count() == 0


async def test_handle_is_awaitable_and_gives_itself_back(app: Conveyor, echo) -> None:
    h = await echo(1).run_now()
    assert isinstance(h, JobHandle)
    assert app.get_job(h.id) is not None
    h2 = await echo(2).run_in(2, "quarters")
    assert h2.state == "scheduled"


def test_result_returns_the_stored_result(app: Conveyor, echo) -> None:
    h = echo({"x": [1, 2]}).run_now()
    drain(app)
    assert h.result(timeout=5) == {"x": [1, 2]}


def test_result_raises_job_failed_carrying_the_error(app: Conveyor) -> None:
    h = run_failing(app, KeyError("missing thing"))
    with pytest.raises(JobFailed) as info:
        h.result(timeout=5)
    assert info.value.state == "failed"
    assert info.value.job_id == h.id
    assert info.value.error["type"] == "KeyError"
    assert "missing thing" in info.value.error["message"]
    assert "Traceback" in info.value.error["traceback"]


def test_result_of_a_cancelled_job_raises_job_failed(app: Conveyor, echo) -> None:
    h = echo().run_now()
    assert app.cancel(h.id)
    with pytest.raises(JobFailed) as info:
        h.result(timeout=1)
    assert info.value.state == "cancelled"


def test_result_times_out_with_timeout_error(app: Conveyor, echo) -> None:
    h = echo().run_now()
    with pytest.raises(TimeoutError, match=f"job {h.id} did not finish within 0.05 s"):
        h.result(timeout=0.05)


async def test_wait_returns_the_result_in_async_code(app: Conveyor, echo) -> None:
    h = await echo("ok").run_now()
    await app.run_worker_async(burst=True)
    assert await h.wait(timeout=5) == "ok"


async def test_wait_raises_job_failed_and_timeout_error(app: Conveyor) -> None:
    @app.job
    async def broken() -> None:
        raise RuntimeError("nope")

    failing = await broken().run_now()
    pending = await broken().run_in(1, "hour")
    await app.run_worker_async(burst=True)
    with pytest.raises(JobFailed, match="RuntimeError: nope"):
        await failing.wait(timeout=5)
    with pytest.raises(TimeoutError):
        await pending.wait(timeout=0.05)


def test_enqueue_many_stores_every_call_in_order(app: Conveyor, echo) -> None:
    handles = app.enqueue_many(echo(i) for i in range(50))
    assert [app.get_job(h.id).args for h in handles] == [[i] for i in range(50)]  # type: ignore[union-attr]
    drain(app)
    assert [h.result(timeout=5) for h in handles] == list(range(50))


@pytest.mark.parametrize("option", ["key", "queue", "owner"])
def test_text_options_with_nul_characters_are_refused(app: Conveyor, echo, option: str) -> None:
    with pytest.raises(ValueError, match=f"invalid {option} .*NUL"):
        echo().run_now(**{option: "a\x00b"})
    assert app.count() == 0


@pytest.mark.parametrize(("n", "unit"), [(1e12, "weeks"), (10**30, "ms"), (10**6, "years")])
def test_run_in_past_year_9999_is_refused(app: Conveyor, echo, n: float, unit: str) -> None:
    with pytest.raises(ValueError, match="outside the supported date range"):
        echo().run_in(n, unit)
    assert app.count() == 0


def test_retries_beyond_what_a_store_holds_are_refused() -> None:
    with pytest.raises(ValueError, match="Retry retries must be at most 2147483646"):
        Retry(retries=2**31)


def test_removing_the_clock_returns_to_the_real_time(app: Conveyor, echo) -> None:
    app.use_clock(ManualClock(datetime(2031, 5, 1, tzinfo=UTC)))
    echo().run_now()

    async def awaited() -> JobHandle:
        return await echo().run_now()

    asyncio.run(awaited())
    app.use_clock(None)
    for _ in range(3):  # every pooled connection, not just the one that held the clock
        for h in (echo().run_now(), asyncio.run(awaited())):
            record = app.get_job(h.id)
            assert record is not None and record.run_at is not None
            assert record.run_at.year < 2031
        assert app.store.now() < datetime(2031, 1, 1, tzinfo=UTC).timestamp()
