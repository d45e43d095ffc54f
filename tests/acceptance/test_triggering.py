"""SPEC §3 — triggering: run_now / run_at / run_in, units, handles and payloads (options,
dedupe and the Reaction-style calls: test_trigger_options)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, JobFailed, JobHandle, PayloadError
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 31, 10, 0, tzinfo=UTC)


def _run_at(app: Conveyor, handle: JobHandle) -> datetime:
    record = app.get_job(handle.id)
    assert record is not None
    return record.run_at


# -- run_now / run_at / run_in -------------------------------------------------------------


def test_run_now_stores_a_queued_job_and_returns_a_handle(app: Conveyor) -> None:
    @app.job
    def resize(path: str, meta: object) -> str:
        return path.upper()

    handle = resize("ä.png").run_now()
    assert isinstance(handle, JobHandle)
    record = app.get_job(handle.id)
    assert record is not None
    assert record.state == "queued"
    assert record.job == "resize"
    assert record.args == ["ä.png"]
    run_until_idle(app)
    assert handle.result(timeout=30) == "Ä.PNG"


def test_run_at_in_the_future_is_scheduled_and_in_the_past_is_queued(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    later = noop().run_at(datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC))
    earlier = noop().run_at(datetime(1970, 1, 1, tzinfo=UTC))
    assert app.get_job(later.id).state == "scheduled"  # type: ignore[union-attr]
    assert app.get_job(earlier.id).state == "queued"  # type: ignore[union-attr]
    assert _run_at(app, later) == datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_run_at_accepts_any_aware_timezone(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    minus = timezone_of(-9, -30)
    handle = noop().run_at(datetime(2031, 1, 1, 0, 0, tzinfo=minus))
    assert _run_at(app, handle) == datetime(2031, 1, 1, 9, 30, tzinfo=UTC)


def timezone_of(hours: int, minutes: int = 0) -> object:
    from datetime import timezone

    return timezone(timedelta(hours=hours, minutes=minutes))


UNITS = [
    ("millisecond", 1, timedelta(milliseconds=1)),
    ("milliseconds", 250.5, timedelta(microseconds=250_500)),
    ("second", 1, timedelta(seconds=1)),
    ("seconds", 0.25, timedelta(milliseconds=250)),
    ("minute", 1, timedelta(minutes=1)),
    ("minutes", 90, timedelta(minutes=90)),
    ("hour", 1, timedelta(hours=1)),
    ("hours", 1.5, timedelta(minutes=90)),
    ("day", 1, timedelta(days=1)),
    ("days", 0.5, timedelta(hours=12)),
    ("week", 1, timedelta(weeks=1)),
    ("weeks", 2.5, timedelta(days=17, hours=12)),
    ("seconds", 0, timedelta(0)),
    ("days", 36500, timedelta(days=36500)),
]


CALENDAR = [
    ("month", 1, datetime(2030, 2, 28, 10, tzinfo=UTC)),
    ("months", 13, datetime(2031, 2, 28, 10, tzinfo=UTC)),
    ("quarter", 1, datetime(2030, 4, 30, 10, tzinfo=UTC)),
    ("quarters", 2, datetime(2030, 7, 31, 10, tzinfo=UTC)),
    ("year", 1, datetime(2031, 1, 31, 10, tzinfo=UTC)),
    ("years", 2, datetime(2032, 1, 31, 10, tzinfo=UTC)),
    ("months", 0, START),
]


def test_run_in_every_unit(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START):
        for unit, n, delta in UNITS:
            assert _run_at(app, noop().run_in(n, unit)) == START + delta, (n, unit)
        for unit, n, expected in CALENDAR:
            assert _run_at(app, noop().run_in(n, unit)) == expected, (n, unit)


def test_one_month_after_jan_31_in_a_leap_year_is_feb_29(sqlite_app: Conveyor) -> None:
    app = sqlite_app

    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=datetime(2032, 1, 31, tzinfo=UTC)):
        assert _run_at(app, noop().run_in(1, "month")) == datetime(2032, 2, 29, tzinfo=UTC)
        assert _run_at(app, noop().run_in(1, "year")) == datetime(2033, 1, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("n", "unit"),
    [(1, "fortnight"), (1, ""), (1, "sekunden"), (-1, "seconds"), (-0.001, "days"),
     (math.nan, "seconds"), (math.inf, "hours"), (-math.inf, "minutes")],
)
def test_run_in_refuses_bad_amounts_and_units_with_a_clear_error(
    sqlite_app: Conveyor, n: float, unit: str
) -> None:
    app = sqlite_app

    @app.job
    def noop() -> None: ...

    with pytest.raises(ValueError) as caught:
        noop().run_in(n, unit)
    message = str(caught.value)
    assert message
    if unit not in ("seconds", "days", "hours", "minutes"):
        # an unknown unit: the message lists what is accepted
        for accepted in ("millisecond", "second", "minute", "hour", "day", "week", "month",
                         "quarter", "year"):
            assert accepted in message
    assert app.count() == 0


@pytest.mark.parametrize("unit", ["month", "quarters", "year"])
def test_fractional_calendar_steps_are_refused(sqlite_app: Conveyor, unit: str) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError):
        noop().run_in(1.5, unit)
    assert sqlite_app.count() == 0


def test_a_delay_beyond_the_calendar_is_a_value_error(sqlite_app: Conveyor) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError):
        noop().run_in(10**9, "years")
    with pytest.raises(ValueError):
        noop().run_in(1e300, "seconds")
    assert sqlite_app.count() == 0


# -- handles ------------------------------------------------------------------------------------


async def test_triggers_can_be_awaited_and_give_the_handle_back(app: Conveyor) -> None:
    @app.job("retry-request")
    async def retry_request(request: dict[str, object]) -> object:
        return request["n"]

    now = await retry_request({"n": 1}).run_now()
    later = await retry_request({"n": 2}).run_in(2, "quarters")
    at = await retry_request({"n": 3}).run_at(datetime(2100, 1, 1, tzinfo=UTC))
    for handle in (now, later, at):
        assert isinstance(handle, JobHandle)
        assert app.get_job(handle.id) is not None
    assert app.get_job(later.id).state == "scheduled"  # type: ignore[union-attr]


async def test_a_handle_itself_may_be_awaited(app: Conveyor) -> None:
    @app.job
    async def noop() -> None: ...

    handle = noop().run_now()
    assert await handle is handle


def test_result_blocks_until_a_worker_finishes_the_job(app: Conveyor) -> None:
    import threading

    @app.job
    def slowish(text: str) -> str:
        return text[::-1]

    handle = slowish("ab—çd").run_now()
    worker = threading.Thread(target=lambda: app.run_worker(burst=True))
    worker.start()
    try:
        assert handle.result(timeout=30) == "dç—ba"
    finally:
        worker.join()


async def test_wait_gives_the_result_while_a_worker_runs(app: Conveyor) -> None:
    import asyncio

    @app.job
    async def echo(value: object) -> object:
        return value

    handle = await echo([None, {"k": "ü"}]).run_now()
    worker = asyncio.create_task(asyncio.to_thread(app.run_worker, burst=True))
    assert await handle.wait(timeout=30) == [None, {"k": "ü"}]
    await worker


def test_result_times_out_with_timeout_error(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    handle = noop().run_in(1, "hour")
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.1)


async def test_wait_times_out_with_timeout_error(app: Conveyor) -> None:
    @app.job
    async def noop() -> None: ...

    handle = await noop().run_in(1, "hour")
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0.1)


def test_result_of_a_failed_job_raises_job_failed_with_the_stored_error(app: Conveyor) -> None:
    @app.job
    def explode(text: str) -> None:
        raise KeyError(f"nope: {text}")

    handle = explode("ünïcødé").run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=30)
    assert "KeyError" in str(caught.value)
    assert "ünïcødé" in str(caught.value)
    assert "ünïcødé" in caught.value.error["message"]  # the stored error it carries
    assert caught.value.error.type == caught.value.error["type"]  # type: ignore[attr-defined]


async def test_wait_of_a_cancelled_job_raises_job_failed(app: Conveyor) -> None:
    @app.job
    async def noop() -> None: ...

    handle = await noop().run_in(1, "day")
    app.cancel(handle.id)
    with pytest.raises(JobFailed):
        await handle.wait(timeout=30)


def test_result_returns_none_and_falsy_results(app: Conveyor) -> None:
    @app.job
    def echo(value: object) -> object:
        return value

    handles = [echo(v).run_now() for v in (None, 0, "", [], {}, False)]
    run_until_idle(app)
    assert [h.result(timeout=30) for h in handles] == [None, 0, "", [], {}, False]


# -- payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [object(), {1, 2}, b"bytes", datetime(2030, 1, 1), math.nan, {"a": [0, 1, 2, object()]}],
    ids=["object", "set", "bytes", "datetime", "nan", "nested"],
)
def test_a_payload_json_cannot_hold_is_refused_at_trigger_time(
    sqlite_app: Conveyor, bad: object
) -> None:
    @sqlite_app.job
    def take(value: object) -> None: ...

    with pytest.raises(PayloadError) as caught:
        take(bad).run_now()
    assert str(caught.value)
    assert sqlite_app.count() == 0


def test_a_payload_error_names_the_offending_path(sqlite_app: Conveyor) -> None:
    @sqlite_app.job
    def take(value: object) -> None: ...

    with pytest.raises(PayloadError) as caught:
        take({"a": [0, 1, 2, {1, 2}]}).run_now()
    assert '["a"][3]' in str(caught.value)


def test_keyword_arguments_and_odd_strings_round_trip(app: Conveyor) -> None:
    @app.job
    def echo(*args: object, **kwargs: object) -> object:
        return {"args": list(args), "kwargs": kwargs}

    odd = ["", " ", "\t\n", "😀" * 50, "'; DROP TABLE jobs; --", "\\u0000", "ℌ𝔢𝔩𝔩𝔬"]
    handle = echo(*odd, **{"ключ": "значение", "": "empty key"}).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == {"args": odd,
                                        "kwargs": {"ключ": "значение", "": "empty key"}}
    record = app.get_job(handle.id)
    assert record is not None and record.args == odd
    assert record.kwargs == {"ключ": "значение", "": "empty key"}


def test_large_integers_round_trip(app: Conveyor) -> None:
    @app.job
    def echo(value: object) -> object:
        return value

    big = [2**53 + 1, -(2**63), 2**64, 10**30]
    handle = echo(big).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == big


def test_triggers_never_return_without_the_job_stored(open_app: Callable[..., Conveyor],
                                                     url: str) -> None:
    app = open_app()

    @app.job
    def noop() -> None: ...

    handles = [noop().run_now(), noop().run_in(1, "millisecond"),
               noop().run_at(datetime.now(UTC))]
    other = open_app(url)
    assert all(other.get_job(h.id) is not None for h in handles)


@pytest.mark.parametrize("value", [float("nan"), {1, 2}, b"x", object()])
def test_a_payload_error_is_caught_as_json_dumps_errors_are(
    sqlite_app: Conveyor, value: object
) -> None:
    @sqlite_app.job
    def keep(x: object) -> None: ...

    for family in (PayloadError, TypeError, ValueError):
        with pytest.raises(family):
            keep(value).run_now()
    assert sqlite_app.count() == 0
