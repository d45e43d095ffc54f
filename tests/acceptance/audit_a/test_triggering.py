"""SPEC §3 — triggering, clause by clause: unit spellings, amounts of every numeric kind,
run_at's accepted values, trigger options' refusals, handles, and the Reaction-style calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 31, 10, tzinfo=UTC)
UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")


EVERY_UNIT = [
    (1, "Millisecond", timedelta(milliseconds=1)),
    (0.5, "milliseconds", timedelta(microseconds=500)),
    (1, "SECOND", timedelta(seconds=1)), (Fraction(3, 2), "seconds", timedelta(seconds=1.5)),
    (0, "minutes", timedelta(0)), (1, "Hour", timedelta(hours=1)),
    (0.25, "days", timedelta(hours=6)),
    (1.5, "weeks", timedelta(days=10, hours=12)), (1.0, "month", timedelta(days=28)),
    (1, "Quarters", timedelta(days=89)), (2, "years", timedelta(days=730)),
]


def test_every_unit_in_any_case_and_number(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START):
        for n, unit, delta in EVERY_UNIT:
            record = app.get_job(noop().run_in(n, unit).id)
            assert record is not None and record.run_at - START == delta, (n, unit)


@pytest.mark.parametrize("n", [True, "30", None, Decimal("1.5"), [1], float("nan"), -1e-9])
def test_an_amount_that_is_not_a_finite_number_says_what_is_accepted(
    sqlite_app: Conveyor, n: object
) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError, match="accepted") as caught:
        noop().run_in(n, "seconds")
    assert "number" in str(caught.value)
    assert sqlite_app.count() == 0


@pytest.mark.parametrize("unit", ["fortnight", "jours", "", "second s", "msec", 5])
def test_an_unknown_unit_lists_every_accepted_unit(sqlite_app: Conveyor, unit: object) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError) as caught:
        noop().run_in(1, unit)
    assert all(name in str(caught.value) for name in UNITS)
    assert sqlite_app.count() == 0


def test_a_quarter_from_the_last_day_of_november_ends_in_february(app: Conveyor) -> None:
    with FakeClock(app, start=datetime(2031, 11, 30, 23, 59, 59, tzinfo=UTC)):
        @app.job
        def noop() -> None: ...

        record = app.get_job(noop().run_in(1, "quarter").id)
        assert record is not None
        assert record.run_at == datetime(2032, 2, 29, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("when", [date(2031, 1, 1), "2031-01-01T00:00:00Z", 1e9, None])
def test_run_at_takes_only_a_datetime(sqlite_app: Conveyor, when: object) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError, match="datetime"):
        noop().run_at(when)
    assert sqlite_app.count() == 0


@pytest.mark.parametrize("when", [datetime(1, 1, 1, tzinfo=UTC),
                                  datetime(9999, 12, 31, 23, 59, 58, tzinfo=UTC)])
def test_run_at_at_both_ends_of_the_calendar(app: Conveyor, when: datetime) -> None:
    @app.job
    def noop() -> None: ...

    record = app.get_job(noop().run_at(when).id)
    assert record is not None and record.run_at == when
    assert record.state == ("queued" if when.year == 1 else "scheduled")
    with pytest.raises(ValueError, match="9999-12-31"):  # the last second is the limit
        noop().run_at(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))


@pytest.mark.parametrize(("options", "named"), [
    ({"queue": ""}, "queue"), ({"key": 5}, "key"), ({"timeout": -1}, "timeout"),
    ({"timeout": float("nan")}, "timeout"), ({"retention": "7 dayz"}, "dayz"),
    ({"remove_delay": -1}, "remove_delay"), ({"retry": "x"}, "Retry"),
    ({"priority": "urgent"}, "critical"), ({"priority": 2.5}, "critical"),
    ({"owner": 1.5}, "owner"), ({"prio": 1}, "priority"),
])
def test_a_bad_trigger_option_is_named_with_what_is_accepted(
    sqlite_app: Conveyor, options: dict[str, object], named: str
) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises((ValueError, TypeError), match=named):
        noop().run_now(**options)
    assert sqlite_app.count() == 0


def test_odd_but_valid_trigger_options_are_stored(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    handle = noop().run_now(queue="ëxports 😀", key="ключ", owner="0", priority="HIGH",
                            retry=3, timeout="5 minutes", retention=timedelta(days=1))
    record = app.get_job(handle.id)
    assert record is not None
    assert (record.queue, record.key, record.owner) == ("ëxports 😀", "ключ", "0")
    assert record.priority == "high" and record.max_attempts == 4
    for system in (0, None, ""):
        assert app.get_job(noop().run_now(owner=system).id).owner is None  # type: ignore[union-attr]


# -- handles ---------------------------------------------------------------------------------


def test_result_refuses_a_timeout_that_is_not_seconds(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    handle = noop().run_in(1, "hour")
    for timeout in (-1, float("nan"), "1"):
        with pytest.raises(ValueError, match="timeout"):
            handle.result(timeout=timeout)  # type: ignore[arg-type]


def test_result_with_a_zero_timeout_on_an_unfinished_job_times_out(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with pytest.raises(TimeoutError):
        noop().run_in(1, "hour").result(timeout=0)


def test_job_failed_carries_the_stored_error(app: Conveyor) -> None:
    @app.job
    def boom() -> None:
        raise KeyError("missing ✗")

    handle = boom().run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=30)
    assert caught.value.error["type"] == "KeyError"  # type: ignore[attr-defined]
    assert "missing ✗" in caught.value.error["message"]  # type: ignore[attr-defined]
    assert "Traceback" in caught.value.error["traceback"]  # type: ignore[attr-defined]


async def test_an_awaited_wait_times_out_and_awaiting_a_handle_gives_it_back(
    app: Conveyor,
) -> None:
    @app.job
    async def later() -> None: ...

    handle = await later().run_in(1, "hour")
    assert (await handle).id == handle.id
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0.05)
    await asyncio.sleep(0)


# -- the Reaction-style calls -------------------------------------------------------------------


def test_schedule_job_reads_reaction_retry_waits_in_milliseconds(app: Conveyor) -> None:
    @app.job
    def flaky(data: dict[str, int]) -> None:
        raise RuntimeError(f"boom {data['n']}")

    with FakeClock(app, start=START) as clock:
        handle = app.schedule_job(type="flaky", data={"n": 1}, priority="normal",
                                  retry={"retries": 2, "wait": 1500, "backoff": "exponential"})
        run_until_idle(app, clock)
        assert app.get_job(handle.id).run_at == START + timedelta(seconds=1.5)  # type: ignore[union-attr]
        clock.advance(1500, "milliseconds")
        run_until_idle(app, clock)
        assert app.get_job(handle.id).run_at == START + timedelta(seconds=4.5)  # type: ignore[union-attr]


@pytest.mark.parametrize(("retry", "named"), [
    ({"retries": 1, "waitt": 1}, "waitt"), ({"retries": -1}, "retries"),
    ({"retries": 1, "backoff": "Exponential"}, "exponential"),
])
def test_schedule_job_refuses_a_bad_reaction_retry(sqlite_app: Conveyor, retry: dict[str, object],
                                                   named: str) -> None:
    sqlite_app.job("x")(lambda data: None)
    with pytest.raises(ValueError, match=named):
        sqlite_app.schedule_job(type="x", data={}, retry=retry)
    assert sqlite_app.count() == 0


def test_schedule_job_of_an_unknown_type_names_the_defined_ones(sqlite_app: Conveyor) -> None:
    sqlite_app.job("known-job")(lambda data: None)
    with pytest.raises(LookupError, match="known-job"):
        sqlite_app.schedule_job(type="nope", data={})


def test_schedule_job_data_of_any_json_shape_is_the_single_argument(app: Conveyor) -> None:
    seen: list[object] = []

    @app.job("x")
    def x(data: object) -> None:
        seen.append(data)

    for data in ([1, "ü"], "text", 0, None):
        app.schedule_job(type="x", data=data)
    run_until_idle(app)
    assert sorted(map(repr, seen)) == sorted(map(repr, [[1, "ü"], "text", 0, {}]))


def test_schedule_cron_job_refuses_english_and_short_crontabs(sqlite_app: Conveyor) -> None:
    sqlite_app.job("x")(lambda data: None)
    for text in ("every 5 minutes", "*/5 * * *"):
        with pytest.raises(ValueError, match="0 3 \\* \\* \\*"):
            sqlite_app.schedule_cron_job("x", text, data={})
    assert sqlite_app.count() == 0


def test_retry_policy_given_on_the_trigger_beats_the_definition(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=5))
    def noop() -> None: ...

    record = app.get_job(noop().run_now(retry=Retry(retries=0)).id)
    assert record is not None and record.max_attempts == 1
