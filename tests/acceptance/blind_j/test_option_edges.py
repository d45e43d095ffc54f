"""SPEC §3 trigger options and §8 at their edges, on every store: an option value the
store cannot hold is a clear ``ValueError``-family error before anything is stored (never
a database error), and one it can hold round-trips."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import run_until_idle
from tests.acceptance.blind_core.support import START
from tests.acceptance.support import record_of


def plain_job(app: Conveyor) -> Any:
    @app.job("plain")
    def plain() -> str:
        return "ok"

    return plain


@pytest.mark.parametrize(
    "options",
    [
        {"priority": 2**70},
        {"priority": -(2**70)},
        {"priority": float("nan")},
        {"priority": True},
        {"key": "k\x00"},
        {"key": "\ud800"},
        {"queue": "q\x00"},
        {"owner": "o\x00"},
        {"timeout": float("inf")},
        {"timeout": float("nan")},
        {"retention": -1},
        {"remove_delay": "nope"},
        {"retry": "lots"},
        {"retry": {"retries": -3}},
    ],
)
def test_an_option_the_store_cannot_hold_is_refused(app: Conveyor, options: dict[str, Any]) -> None:
    plain = plain_job(app)
    with pytest.raises((ValueError, TypeError)):
        plain().run_now(**options)
    assert app.count() == 0


@pytest.mark.parametrize(
    "options",
    [
        {"key": "日本 ✓ " * 50},
        {"queue": "exports-é"},
        {"owner": "user-ü"},
        {"owner": 42},
        {"owner": 2**70},
        {"priority": 2**31 - 1},
        {"priority": -5},
    ],
)
def test_an_unusual_but_valid_option_round_trips(app: Conveyor, options: dict[str, Any]) -> None:
    plain = plain_job(app)
    handle = plain().run_now(**options)
    found = record_of(app, handle.id)
    for name, value in options.items():
        stored = getattr(found, name)
        assert stored == value or str(stored) == str(value) or int(stored) == value
    run_until_idle(app)
    if "queue" not in options:
        assert handle.result(timeout=30) == "ok"


def test_fractional_milliseconds_land_on_whole_microseconds(capp: Conveyor) -> None:
    plain = plain_job(capp)
    assert record_of(capp, plain().run_in(1.5, "milliseconds").id).run_at == START + timedelta(
        microseconds=1500
    )
    assert record_of(capp, plain().run_in(0.5, "weeks").id).run_at == START + timedelta(days=3.5)


def test_calendar_steps_clamp_to_the_month_end(capp: Conveyor) -> None:
    plain = plain_job(capp)
    feb = record_of(capp, plain().run_in(1, "month").id).run_at
    assert feb is not None and (feb.month, feb.day, feb.hour, feb.minute) == (2, 28, 23, 30)
    quarter = record_of(capp, plain().run_in(1, "quarter").id).run_at
    assert quarter is not None and (quarter.month, quarter.day) == (4, 30)
    year = record_of(capp, plain().run_in(1, "years").id).run_at
    assert year is not None and (year.year, year.month, year.day) == (2032, 1, 31)


def test_trigger_retry_overrides_the_definition(app: Conveyor) -> None:
    @app.job("bad", retry=Retry(retries=5, wait=0))
    def bad() -> None:
        raise RuntimeError("no")

    handle = bad().run_now(retry=Retry(retries=0))
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert (found.state, found.attempts, found.max_attempts) == ("failed", 1, 1)


def test_replace_leaves_other_owners_alone(app: Conveyor) -> None:
    plain = plain_job(app)
    mine = plain().run_in(1, "hour", key="k", owner="me")
    theirs = plain().run_in(1, "hour", key="k", owner="you")
    plain().run_in(1, "hour", key="k", owner="me", replace=True)
    assert record_of(app, mine.id).state == "cancelled"
    assert record_of(app, theirs.id).state == "scheduled"


def test_result_with_zero_timeout_on_a_pending_job_times_out(app: Conveyor) -> None:
    plain = plain_job(app)
    handle = plain().run_in(1, "hour")
    with pytest.raises(TimeoutError):
        handle.result(timeout=0)


def test_a_cancelled_job_result_raises_job_failed(app: Conveyor) -> None:
    plain = plain_job(app)
    handle = plain().run_in(1, "hour")
    assert app.cancel(handle.id) is True
    assert app.cancel(handle.id) is False
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_an_attempt_past_its_timeout_fails_and_retries(
    app: Conveyor, release: threading.Event
) -> None:
    calls: list[int] = []

    @app.job("slow", timeout=0.2, retry=Retry(retries=1, wait=0))
    def slow(meta: Any) -> str:
        calls.append(meta.attempt)
        if meta.attempt == 1:
            release.wait(30)
        return "second"

    handle = slow().run_now()
    app.run_worker(concurrency=2, burst=True)
    assert handle.result(timeout=30) == "second"
    found = record_of(app, handle.id)
    assert found.history[0].error is not None
    assert (
        "timed out" in str(found.history[0].error).lower()
        or "timeout" in str(found.history[0].error).lower()
    )


def test_an_async_job_runs_and_its_handle_can_be_awaited(app: Conveyor) -> None:
    import asyncio

    @app.job("aio")
    async def aio(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def trigger() -> Any:
        return await aio(1).run_now()

    handle = asyncio.run(trigger())
    run_until_idle(app)
    assert handle.result(timeout=30) == 2


def test_calendar_steps_keep_wall_time_in_the_app_zone_and_days_are_elapsed(make: Any) -> None:
    from datetime import UTC, datetime

    from conveyor.testing import FakeClock

    app = make(timezone="America/New_York")
    FakeClock(app, start=datetime(2030, 3, 9, 17, tzinfo=UTC))  # 12:00 EST, DST next day
    plain = plain_job(app)
    month = record_of(app, plain().run_in(1, "month").id).run_at
    day = record_of(app, plain().run_in(1, "day").id).run_at
    assert month == datetime(2030, 4, 9, 16, tzinfo=UTC)  # 12:00 EDT
    assert day == datetime(2030, 3, 10, 17, tzinfo=UTC)  # 24 hours later


def test_a_naive_run_at_under_a_utc_app_is_utc(app: Conveyor) -> None:
    from datetime import UTC, datetime

    plain = plain_job(app)
    stored = record_of(app, plain().run_at(datetime(2040, 1, 1, 9)).id).run_at
    assert stored == datetime(2040, 1, 1, 9, tzinfo=UTC)
