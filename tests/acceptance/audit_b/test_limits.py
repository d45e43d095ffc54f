"""SPEC §8 on both stores: ``max_depth`` and ``max_payload`` exactly at their bounds (UTF-8
bytes), the path named in a ``PayloadError``, results over the limit failing the attempt,
text stored on the user's behalf sanitised, and filters on numbers no store can compare."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, PayloadError


def _nest(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.fixture
def small(open_app: Any) -> Conveyor:
    app = open_app(max_depth=3, max_payload=100)

    @app.job("écho")
    def echo(payload: Any = None) -> Any:
        return payload

    @app.job
    def grow(n: int) -> str:
        return "é" * n

    return app


@pytest.mark.parametrize("payload", ["x" * 98, "é" * 49, "✓" * 32 + "xx", _nest(3),
                                     {"a": {"b": {"c": 1}}}, [], {}, "", 0, -(2**63), None])
def test_payloads_at_the_limits_are_stored_and_run(small: Conveyor, payload: Any) -> None:
    handle = small.jobs["écho"](payload).run_now()
    small.run_worker(burst=True)
    assert handle.result(timeout=30) == payload


@pytest.mark.parametrize("payload, where", [
    ("x" * 99, "101 bytes"),
    ("é" * 50, "102 bytes"),
    (_nest(4), "payload[0][0][0]"),
    ({"a": {"b": {"ç": {"d": 1}}}}, 'payload["a"]["b"]["ç"]'),
    ({"a": [0, 1, 2, "\x00"]}, 'payload["a"][3]'),
    ({"a": [0, 1, 2, "\ud800"]}, 'payload["a"][3]'),
    ({"k": [float("nan")]}, 'payload["k"][0]'),
])
def test_payloads_past_the_limits_are_refused_naming_where(
        small: Conveyor, payload: Any, where: str) -> None:
    with pytest.raises(PayloadError) as caught:
        small.jobs["écho"](payload).run_now()
    assert where in str(caught.value)
    assert small.count() == 0


def test_a_result_past_the_limit_fails_the_attempt_with_a_payload_error(small: Conveyor) -> None:
    fits, too_big = small.jobs["grow"](49).run_now(), small.jobs["grow"](50).run_now()
    small.run_worker(burst=True)

    assert small.get_job(fits.id).result == "é" * 49
    failed = small.get_job(too_big.id)
    assert failed.state == "failed" and failed.error["type"] == "PayloadError"
    assert "max_payload" in failed.error["message"]


@pytest.mark.parametrize("options, words", [
    ({"max_depth": 0}, "max_depth"), ({"max_depth": "64"}, "max_depth"),
    ({"max_payload": 0}, "max_payload"), ({"max_payload": -1}, "max_payload"),
    ({"max_payload": 1.5}, "max_payload"),
])
def test_bad_limit_options_are_refused_saying_what_is_accepted(options: dict,
                                                               words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        Conveyor("memory://", **options)
    assert "accepted" in str(caught.value)


def test_numbers_no_filter_can_compare_simply_do_not_match(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job(trigger=app.event("big.number", filter={"n": [1, 10**20]}))
    def on_number(payload: Any) -> None:
        got.append(payload["n"])

    for n in (10**400, -(10**400), 1e308, 10**20 + 1, True, "1", None, 10**20, 1):
        app.send_event("big.number", {"n": n})
    app.run_worker(burst=True)

    assert sorted(got) == [1, 10**20]
