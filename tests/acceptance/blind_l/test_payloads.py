"""§2-4 payloads: any JSON value round-trips as arguments and result on every store, and
what JSON cannot hold is refused at trigger time with a PayloadError naming the value."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, PayloadError
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=12)
_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False, width=64) | _text
)
JSON = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


def _echo(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("echo")
    def echo(value, **named):  # type: ignore[no-untyped-def]
        return {"value": value, "named": named}

    return echo


@settings(max_examples=15, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=JSON, named=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), JSON,
                                         max_size=3))
def test_any_json_round_trips_through_the_store(
    app: Conveyor, value: Any, named: dict[str, Any]
) -> None:
    echo = app.jobs["echo"] if "echo" in app.jobs else _echo(app)
    named.pop("value", None)
    handle = echo(value, **named).run_now()
    record = record_of(app, handle.id)
    assert (record.args, record.kwargs) == ([value], named)
    run_until_idle(app)
    assert handle.result(timeout=30) == {"value": value, "named": named}


def test_big_and_deep_payloads_round_trip(app: Conveyor) -> None:
    echo = _echo(app)
    deep: Any = "bottom"
    for level in range(30):  # 61 lists and dicts deep, under max_depth=64
        deep = {f"l{level}": [deep]}
    big = {"ints": [2**70, -(2**64), 10**30], "text": "é✓𝔘" * 20_000, "deep": deep,
           "floats": [1e308, 5e-324, -0.0, 0.1]}
    handle = echo(big).run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).args == [big]
    assert handle.result(timeout=30)["value"] == big


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({1, 2}, "set"),
        (b"raw", "bytes"),
        (object(), "object"),
        (dt.datetime(2030, 1, 1), "datetime"),
        (Decimal("1.5"), "Decimal"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        ({"a": [0, 1, 2, {3}]}, '["a"][3]'),
        ({"ok": {"inner": (lambda: 1)}}, '["ok"]["inner"]'),
        ("nul \x00 inside", "NUL"),
        ("lone \ud800 surrogate", "surrogate"),
    ],
)
def test_unstorable_payloads_are_refused_at_trigger_time(
    sqlite_app: Conveyor, payload: object, named: str
) -> None:
    echo = _echo(sqlite_app)
    for call in (echo(payload), echo(1, extra=payload)):
        with pytest.raises(PayloadError) as caught:
            call.run_now()
        assert named.lower() in str(caught.value).lower(), str(caught.value)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)
    assert sqlite_app.jobs_list() == []


def test_too_deep_payload_names_the_path(sqlite_app: Conveyor) -> None:
    echo = _echo(sqlite_app)
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    with pytest.raises(PayloadError) as caught:
        echo({"x": deep}).run_now()
    assert 'payload["x"][0]' in str(caught.value)
    assert sqlite_app.jobs_list() == []


def test_a_result_json_cannot_hold_fails_the_attempt(app: Conveyor) -> None:
    @app.job("bad-result")
    def bad_result():  # type: ignore[no-untyped-def]
        return {"when": {1, 2}}

    handle = bad_result().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error["type"] == "PayloadError"
    assert record.result is None
