"""§2/§4 arguments and results are JSON: what goes in comes back exactly, with its types
(big ints, floats at the edges, unicode keys, empty and huge strings); what JSON cannot
hold is refused at trigger time naming the value."""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, PayloadError
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12),
)
KEYS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)

EDGE_VALUES: list[Any] = [
    2**63,
    -(2**63) - 1,
    2**64 + 1,
    10**30,
    -(10**40),
    1.0,
    -1.5,
    0.1,
    1e308,
    -1e308,
    5e-324,
    1e-7,
    1e16,
    1.7976931348623157e308,
    2.0**70,
    "",
    " ",
    "\u2028\u2029",
    "e\u0301",
    "🎉" * 3,
    "'; DROP TABLE jobs; --",
    "\\u0000",
    "null",
    {"": "", "ключ": "значение", "🔑": ["x"], "a.b": 1, "$set": True},
    [[[[[]]]]],
    {"nested": {"deeper": {"deepest": [1, 2.5, None, False]}}},
    [True, 1, 1.0, "1"],
]


def _exact(value: Any) -> str:
    """A rendering that tells 1 from 1.0 from True (== does not)."""
    return json.dumps(value, sort_keys=True)


def _echo(app: Conveyor):  # type: ignore[no-untyped-def]
    """The ``echo`` job of ``app``, defined on first use (hypothesis calls again)."""
    if "echo" in app.jobs:
        return app.jobs["echo"]

    @app.job("echo")
    def echo(*args, **kwargs):  # type: ignore[no-untyped-def]
        return {"args": list(args), "kwargs": kwargs, "types": [type(a).__name__ for a in args]}

    return echo


def test_edge_values_round_trip_exactly_through_args_and_results(app: Conveyor) -> None:
    echo = _echo(app)
    handles = [echo(value).run_now() for value in EDGE_VALUES]
    run_until_idle(app)
    for value, handle in zip(EDGE_VALUES, handles, strict=True):
        record = record_of(app, handle.id)
        assert _exact(record.args) == _exact([value]), value
        assert _exact(handle.result(timeout=5)["args"]) == _exact([value]), value


def test_negative_zero_and_whole_floats_keep_their_float_type(app: Conveyor) -> None:
    echo = _echo(app)
    handle = echo(-0.0, 3.0, 1e22, 2**53 + 1).run_now()
    run_until_idle(app)
    result = handle.result(timeout=5)
    assert result["types"] == ["float", "float", "float", "int"]
    assert math.copysign(1, result["args"][0]) == -1
    assert result["args"][3] == 2**53 + 1


@settings(
    max_examples=15, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    args=st.lists(VALUES, max_size=3),
    kwargs=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), VALUES, max_size=3),
)
def test_generated_payloads_round_trip_exactly(
    app: Conveyor, args: list[Any], kwargs: dict[str, Any]
) -> None:
    echo = _echo(app)
    handle = echo(*args, **kwargs).run_now()
    record = record_of(app, handle.id)
    assert _exact(record.args) == _exact(args)
    assert _exact(record.kwargs) == _exact(kwargs)
    run_until_idle(app)
    result = handle.result(timeout=5)
    assert _exact(result["args"]) == _exact(args)
    assert _exact(result["kwargs"]) == _exact(kwargs)


def test_a_huge_string_under_the_limit_round_trips(app: Conveyor) -> None:
    echo = _echo(app)
    text = "ж" * 200_000 + "end"  # 400 KB of UTF-8
    handle = echo(text).run_now()
    run_until_idle(app)
    assert handle.result(timeout=5)["args"] == [text]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({1, 2}, "set"),
        (datetime(2030, 1, 1), "datetime"),
        (Decimal("1.10"), "Decimal"),
        (b"bytes", "bytes"),
        (object(), "object"),
        ({"outer": [1, {"inner": float("nan")}]}, "nan"),
        ({"ok": 1, "bad": float("inf")}, "inf"),
        ({(1, 2): "tuple key"}, "tuple"),
    ],
)
def test_what_json_cannot_hold_is_refused_at_trigger_time_naming_it(
    sqlite_app: Conveyor, value: object, named: str
) -> None:
    echo = _echo(sqlite_app)
    with pytest.raises(PayloadError) as caught:
        echo(value).run_now()
    assert named.lower() in str(caught.value).lower()
    with pytest.raises(PayloadError):
        echo(keyword=value).run_now()
    assert sqlite_app.count() == 0


def test_a_result_json_cannot_hold_fails_the_attempt_with_a_stored_payload_error(
    app: Conveyor,
) -> None:
    @app.job(retry=0)
    def gives_a_set():  # type: ignore[no-untyped-def]
        return {"ids": {1, 2, 3}}

    handle = gives_a_set().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error is not None and "PayloadError" in str(record.error["type"])
    assert record.result is None


def test_tuples_come_back_as_lists_and_the_job_sees_lists(app: Conveyor) -> None:
    echo = _echo(app)
    handle = echo((1, (2, 3))).run_now()
    run_until_idle(app)
    assert handle.result(timeout=5)["args"] == [[1, [2, 3]]]
    assert record_of(app, handle.id).args == [[1, [2, 3]]]
