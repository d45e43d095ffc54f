"""SPEC §3 and §8 at trigger time: every bad delay, unit and payload is one clear error
raised before anything is stored; every good one is stored as given."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, PayloadError
from conveyor.testing import run_until_idle
from tests.acceptance.blind_core.support import START
from tests.acceptance.support import record_of

REUSED = settings(
    max_examples=15, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def echo_job(app: Conveyor) -> Any:
    """The job ``echo`` (defined on first use), which returns its argument."""
    try:
        return app.jobs["echo"]
    except KeyError:
        pass

    @app.job("echo")
    def echo(value: Any) -> Any:
        return value

    return echo


def nothing_stored(app: Conveyor) -> None:
    assert app.count() == 0


@pytest.mark.parametrize("n", [-1, -0.001, math.nan, math.inf, -math.inf])
def test_a_negative_or_non_finite_delay_is_a_value_error(app: Conveyor, n: float) -> None:
    echo = echo_job(app)
    with pytest.raises(ValueError):
        echo(1).run_in(n, "seconds")
    nothing_stored(app)


@pytest.mark.parametrize("unit", ["", "fortnight", "decade", "seconds!", "1 second"])
def test_an_unknown_unit_is_refused_listing_the_accepted_ones(app: Conveyor, unit: str) -> None:
    echo = echo_job(app)
    with pytest.raises(ValueError) as caught:
        echo(1).run_in(1, unit)
    assert "quarter" in str(caught.value)
    nothing_stored(app)


@pytest.mark.parametrize("unit", ["month", "quarter", "year"])
def test_calendar_units_take_whole_steps_only(app: Conveyor, unit: str) -> None:
    echo = echo_job(app)
    with pytest.raises(ValueError):
        echo(1).run_in(1.5, unit)
    nothing_stored(app)


@pytest.mark.parametrize(
    "unit", ["millisecond", "seconds", "minute", "hours", "day", "weeks", "month", "years"]
)
def test_zero_delay_in_any_unit_is_due_now(capp: Conveyor, unit: str) -> None:
    echo = echo_job(capp)
    handle = echo(1).run_in(0, unit)
    assert record_of(capp, handle.id).run_at == START


def test_a_delay_beyond_the_calendar_is_a_value_error(app: Conveyor) -> None:
    echo = echo_job(app)
    for n, unit in [(10**30, "seconds"), (2**63, "milliseconds"), (10**6, "years")]:
        with pytest.raises(ValueError):
            echo(1).run_in(n, unit)
    nothing_stored(app)


def test_a_bool_is_not_a_count(app: Conveyor) -> None:
    echo = echo_job(app)
    with pytest.raises((TypeError, ValueError)):
        echo(1).run_in("5", "seconds")  # type: ignore[arg-type]
    nothing_stored(app)


def test_run_at_keeps_the_instant_of_any_aware_zone(capp: Conveyor) -> None:
    echo = echo_job(capp)
    tz = datetime(2040, 6, 1, 12, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Kathmandu")
    )
    run_at = record_of(capp, echo(1).run_at(tz).id).run_at
    assert run_at == tz and run_at is not None and run_at.utcoffset() == timedelta(0)


def test_run_at_refuses_what_is_not_a_datetime(app: Conveyor) -> None:
    echo = echo_job(app)
    for bad in ["2030-01-01", 1_900_000_000, None]:
        with pytest.raises((TypeError, ValueError)):
            echo(1).run_at(bad)  # type: ignore[arg-type]
    nothing_stored(app)


def test_a_naive_run_at_under_a_non_utc_app_is_a_value_error(make: Any) -> None:
    app = make(timezone="Europe/Paris")
    echo = echo_job(app)
    with pytest.raises(ValueError):
        echo(1).run_at(datetime(2040, 1, 1, 9))
    nothing_stored(app)


BAD_PAYLOADS: list[tuple[Any, str]] = [
    ({"a": [0, 1, 2, math.nan]}, '["a"][3]'),
    ({"a": math.inf}, '["a"]'),
    ({"a": [1, {"b": b"bytes"}]}, '["a"][1]["b"]'),
    ({"a": {1, 2}}, '["a"]'),
    ({"a": "nul\x00here"}, '["a"]'),
    ({"a": ["x", "\ud800"]}, '["a"][1]'),
    ({"k\x00": 1}, ""),
    ({"a": object()}, '["a"]'),
    ({"a": datetime(2030, 1, 1, tzinfo=UTC)}, '["a"]'),
    ({(1, 2): "tuple key"}, ""),
]


@pytest.mark.parametrize(("payload", "path"), BAD_PAYLOADS)
def test_a_payload_json_cannot_hold_is_refused_naming_its_path(
    app: Conveyor, payload: Any, path: str
) -> None:
    echo = echo_job(app)
    with pytest.raises(PayloadError) as caught:
        echo(payload).run_now()
    assert path in str(caught.value)
    nothing_stored(app)


def test_a_bad_keyword_argument_is_refused_too(app: Conveyor) -> None:
    @app.job("kw")
    def kw(**values: Any) -> None: ...

    with pytest.raises(PayloadError):
        kw(x=math.nan).run_now()
    with pytest.raises(PayloadError):
        kw(y=["\x00"]).run_now()
    nothing_stored(app)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_is_limited_by_max_depth(make: Any) -> None:
    app = make(max_depth=5)
    echo = echo_job(app)
    echo(nested(4)).run_now()
    with pytest.raises(PayloadError):
        echo(nested(40)).run_now()
    assert app.count() == 1


def test_the_default_depth_is_64_and_deep_input_never_crashes(app: Conveyor) -> None:
    echo = echo_job(app)
    with pytest.raises(PayloadError):
        echo(nested(100_000)).run_now()
    with pytest.raises(PayloadError):
        echo(nested(66)).run_now()
    echo(nested(60)).run_now()
    assert app.count() == 1


def test_the_payload_size_limit_counts_encoded_bytes(make: Any) -> None:
    app = make(max_payload=1000)
    echo = echo_job(app)
    with pytest.raises(PayloadError):
        echo("é" * 600).run_now()  # 600 characters, 1200 bytes encoded
    echo("e" * 500).run_now()
    with pytest.raises(PayloadError):
        echo("e" * 5000).run_now()
    assert app.count() == 1


def test_the_default_size_limit_is_one_mebibyte(app: Conveyor) -> None:
    echo = echo_job(app)
    with pytest.raises(PayloadError):
        echo("x" * (1 << 20)).run_now()
    echo("x" * ((1 << 20) - 1000)).run_now()
    assert app.count() == 1


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@REUSED
@given(value=json_values)
def test_any_json_value_round_trips_as_args_and_result(app: Conveyor, value: Any) -> None:
    echo = echo_job(app)
    handle = echo(value).run_now()
    assert record_of(app, handle.id).args == [value]
    run_until_idle(app)
    done = record_of(app, handle.id)
    assert (done.state, done.result) == ("completed", value)


@pytest.mark.parametrize("bad", [math.nan, {"x": [math.inf]}, "a\x00b", {"d": b"x"}])
def test_a_result_json_cannot_hold_fails_the_attempt_with_a_payload_error(
    app: Conveyor, bad: Any
) -> None:
    @app.job("bad-result")
    def bad_result() -> Any:
        return bad

    handle = bad_result().run_now()
    run_until_idle(app)
    done = record_of(app, handle.id)
    assert done.state == "failed" and done.result is None
    assert done.error is not None and "PayloadError" in str(done.error)
