"""SPEC §4 finding and §8 hostile input, on every store: filters carrying text no job can
hold (NUL, lone surrogates, integers beyond 64 bits, NaN) either match nothing or are
one clear ``ValueError``-family error, never a database error; a result over
``max_payload`` fails its attempt with a stored ``PayloadError``."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, PayloadError
from conveyor.testing import enqueued, run_until_idle
from tests.acceptance.support import record_of

HOSTILE = ["\x00", "a\x00b", "\ud800", 2**70, -(2**70)]


def a_pending_job(app: Conveyor) -> Any:
    @app.job("target")
    def target(payload: dict[str, Any]) -> None: ...

    return target({"a": 1}).run_in(1, "hour", key="k", owner="o")


def nothing_or_value_error(call: Any) -> None:
    try:
        found = call()
    except (ValueError, TypeError):
        return
    assert found in (0, [], None, False)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_match_nothing_or_are_refused(app: Conveyor, value: Any) -> None:
    handle = a_pending_job(app)
    for name in ("owner", "key", "type"):
        nothing_or_value_error(lambda name=name: app.cancel_jobs(**{name: value}))
    for name in ("owner", "queue", "job", "state"):
        nothing_or_value_error(lambda name=name: app.count(**{name: value}))
        nothing_or_value_error(lambda name=name: app.jobs_list(**{name: value}))
    nothing_or_value_error(lambda: app.cancel_jobs(data={"a": value}))
    nothing_or_value_error(lambda: app.cancel_jobs(data={str(value): 1}))
    nothing_or_value_error(lambda: enqueued(app, a=value))
    nothing_or_value_error(lambda: app.get_job(value))
    assert record_of(app, handle.id).state == "scheduled"


def test_a_nan_filter_matches_nothing_or_is_refused(app: Conveyor) -> None:
    handle = a_pending_job(app)
    nothing_or_value_error(lambda: app.cancel_jobs(data={"a": float("nan")}))
    assert record_of(app, handle.id).state == "scheduled"


def test_a_result_over_max_payload_fails_the_attempt(make: Any) -> None:
    app = make(max_payload=2000)

    @app.job("big")
    def big() -> str:
        return "x" * 5000

    handle = big().run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state == "failed" and "PayloadError" in str(found.error)


def test_a_result_nested_too_deep_fails_the_attempt(make: Any) -> None:
    app = make(max_depth=3)

    @app.job("deep")
    def deep() -> Any:
        return [[[[[1]]]]]

    handle = deep().run_now()
    run_until_idle(app)
    found = record_of(app, handle.id)
    assert found.state == "failed" and "PayloadError" in str(found.error)


def test_payload_error_is_a_value_error_family_error() -> None:
    assert issubclass(PayloadError, ValueError | TypeError)
