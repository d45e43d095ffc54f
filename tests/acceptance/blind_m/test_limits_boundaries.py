"""SPEC §8: payloads and results at, below and above max_depth / max_payload; NUL and
lone surrogates refused in data but sanitised in text conveyor stores for the user."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, PayloadError
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _echo_job(app: Conveyor) -> Any:
    @app.job
    def echo(payload=None):
        return payload

    return echo


def test_depth_exactly_at_the_limit_passes_and_one_more_is_refused(
        open_app: Callable[..., Conveyor]) -> None:
    app = open_app(max_depth=5)
    echo = _echo_job(app)
    accepted = echo(_nested(5)).run_now()
    with pytest.raises(PayloadError):
        echo(_nested(6)).run_now()
    with pytest.raises(PayloadError):
        echo({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}).run_now()
    run_until_idle(app)
    assert record_of(app, accepted.id).result == _nested(5)


def test_default_depth_is_64(app: Conveyor) -> None:
    echo = _echo_job(app)
    echo(_nested(64)).run_now()
    with pytest.raises(PayloadError):
        echo(_nested(65)).run_now()


def test_size_is_counted_in_encoded_bytes(open_app: Callable[..., Conveyor]) -> None:
    app = open_app(max_payload=2000)
    echo = _echo_job(app)
    echo("a" * 1500).run_now()
    with pytest.raises(PayloadError):
        echo("a" * 2001).run_now()
    with pytest.raises(PayloadError):
        echo("é" * 1500).run_now()  # 1500 characters, 3000 bytes in UTF-8
    with pytest.raises(PayloadError):
        echo(["€"] * 700).run_now()


def test_default_size_limit_is_one_mebibyte(app: Conveyor) -> None:
    echo = _echo_job(app)
    echo("a" * ((1 << 20) - 4096)).run_now()
    with pytest.raises(PayloadError):
        echo("a" * ((1 << 20) + 1)).run_now()


@pytest.mark.parametrize(("payload", "path"), [
    ({"a": [0, 1, 2, "x\u0000"]}, 'payload["a"][3]'),
    ({"a": [0, 1, 2, "\ud800"]}, 'payload["a"][3]'),
    ({"ok": 1, "b": {"c": float("nan")}}, 'payload["b"]["c"]'),
    ({"b": [math.inf]}, 'payload["b"][0]'),
    ({"b": [{1, 2}]}, 'payload["b"][0]'),
    ({"b": b"bytes"}, 'payload["b"]'),
])
def test_refusals_name_the_path(app: Conveyor, payload: Any, path: str) -> None:
    echo = _echo_job(app)
    with pytest.raises(PayloadError) as raised:
        echo(payload).run_now()
    assert path in str(raised.value)
    assert app.count() == 0


def test_keys_with_nul_or_surrogates_are_refused(app: Conveyor) -> None:
    echo = _echo_job(app)
    for bad in ({"a\u0000": 1}, {"\udfff": 1}, {"k": {"x\u0000y": []}}):
        with pytest.raises(PayloadError):
            echo(bad).run_now()
    assert app.count() == 0


def test_results_that_break_the_rule_fail_the_attempt_with_a_stored_payload_error(
        open_app: Callable[..., Conveyor]) -> None:
    app = open_app(max_depth=3, max_payload=500)

    @app.job
    def bad_result(kind):
        return {"nul": "a\u0000", "surrogate": ["\ud800"], "deep": _nested(4),
                "big": "x" * 600, "object": object(), "nan": float("nan")}[kind]

    handles = {kind: bad_result(kind).run_now()
               for kind in ("nul", "surrogate", "deep", "big", "object", "nan")}
    run_until_idle(app)
    for kind, handle in handles.items():
        record = record_of(app, handle.id)
        assert record.state == "failed", kind
        assert "PayloadError" in str(record.error), (kind, record.error)
        assert record.result is None


def test_text_stored_for_the_user_is_sanitised_not_refused(app: Conveyor) -> None:
    @app.job
    def noisy(meta):
        meta.log.info("line \u0000 \ud800 end")
        meta.progress(0.25, message="step \u0000\udc00")
        raise RuntimeError("boom \u0000 \ud83d tail" + "z" * 2_000_000)

    handle = noisy().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    stored = str(record.error) + str(record.logs) + str(record.progress)
    assert "\u0000" not in stored and "\ud800" not in stored and "\ud83d" not in stored
    assert "\ufffd" in stored and "boom" in stored and "tail" in stored
    assert len(str(record.error)) < 2_000_000


def test_event_names_are_sanitised_and_huge_numbers_never_match(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid", filter={"n": [1], "deep": {"m": [2]}}))
    def on_paid(payload):
        return payload

    app.send_event("order\u0000.paid\ud800", {"n": 1, "deep": {"m": 2}})
    for number in (10**30, -(10**30), 2**63, -(2**63) - 1, 2**64, 1e308, -1e308, 1 + 2**-52):
        app.send_event("order.paid", {"n": number, "deep": {"m": 2}})
        app.send_event("order.paid", {"n": 1, "deep": {"m": number}})
    assert app.count(job="on_paid") == 0
    app.send_event("order.paid", {"n": 1, "deep": {"m": 2}})
    assert app.count(job="on_paid") == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=12)


def test_poison_anywhere_is_refused_and_clean_values_round_trip(tmp_path: Path) -> None:
    with Conveyor(f"sqlite:///{tmp_path}/jobs.db") as app:
        echo = _echo_job(app)

        @settings(max_examples=25)
        @given(value=json_values, poison=st.sampled_from(["\u0000", "\ud800", "\udfff"]))
        def check(value: Any, poison: str) -> None:
            with pytest.raises(PayloadError):
                echo({"wrap": [value, poison]}).run_now()
            handle = echo({"wrap": [value]}).run_now()
            assert record_of(app, handle.id).args == [{"wrap": [value]}]

        check()
