"""EventBridge-style filters (pure): allowed values, nesting, prefix, numeric ranges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor import ConfigurationError
from conveyor.eventfilters import check_filter, matches


@pytest.mark.parametrize(("flt", "payload", "expected"), [
    ({}, {"a": 1}, True),
    ({"plan": ["pro"]}, {"plan": "pro"}, True),
    ({"plan": ["pro", "team"]}, {"plan": "team"}, True),
    ({"plan": ["pro"]}, {"plan": "free"}, False),
    ({"plan": ["pro"]}, {}, False),
    ({"plan": ["pro"]}, "not a dict", False),
    ({"user": {"country": ["FR"]}}, {"user": {"country": "FR"}}, True),
    ({"user": {"country": ["FR"]}}, {"user": {"country": "DE"}}, False),
    ({"user": {"country": ["FR"]}}, {"user": "FR"}, False),
    ({"tags": ["a"]}, {"tags": ["b", "a"]}, True),
    ({"n": [1]}, {"n": 1.0}, True),
    ({"flag": [True]}, {"flag": 1}, False),
    ({"x": [None]}, {"x": None}, True),
    ({"email": [{"prefix": "ops@"}]}, {"email": "ops@x.io"}, True),
    ({"email": [{"prefix": "ops@"}]}, {"email": "dev@x.io"}, False),
    ({"file": [{"suffix": ".png"}]}, {"file": "a.png"}, True),
    ({"name": [{"equals-ignore-case": "BOB"}]}, {"name": "bob"}, True),
    ({"state": [{"anything-but": ["done", "failed"]}]}, {"state": "new"}, True),
    ({"state": [{"anything-but": ["done", "failed"]}]}, {"state": "done"}, False),
    ({"age": [{"numeric": [">=", 18, "<", 65]}]}, {"age": 30}, True),
    ({"age": [{"numeric": [">=", 18, "<", 65]}]}, {"age": 65}, False),
    ({"age": [{"numeric": [">", 0]}]}, {"age": "5"}, False),
    ({"id": [{"exists": True}]}, {"id": 3}, True),
    ({"id": [{"exists": False}]}, {"id": 3}, False),
    ({"id": [{"exists": False}]}, {}, True),
])
def test_filter_matching(flt: dict[str, Any], payload: Any, expected: bool) -> None:
    assert matches(check_filter(flt), payload) is expected


@pytest.mark.parametrize(("flt", "message"), [
    ("pro", "must be a dict of field -> list of allowed values"),
    ({"plan": "pro"}, "event filter for 'plan' must be a non-empty list"),
    ({"plan": []}, "event filter for 'plan' must be a non-empty list"),
    ({"a": {"b": 3}}, "event filter for 'a.b' must be a non-empty list"),
    ({"plan": [{"regex": "x"}]}, "unknown value {'regex': 'x'}"),
    ({"age": [{"numeric": [">>", 1]}]}, "invalid 'numeric' matcher"),
    ({"age": [{"numeric": [">", "1"]}]}, "invalid 'numeric' matcher"),
    ({"x": [{"prefix": 3}]}, "invalid 'prefix' matcher"),
])
def test_a_bad_filter_gets_one_clear_error(flt: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_filter(flt)
    assert message in str(info.value)


values = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b", "c"]), st.booleans())


@given(value=values, allowed=st.lists(values, min_size=1, max_size=4))
def test_a_plain_value_list_matches_exactly_its_members(value: Any, allowed: list[Any]) -> None:
    same = any(type(a) is type(value) and a == value for a in allowed)
    assert matches({"f": allowed}, {"f": value}) is same


@given(n=st.integers(-100, 100), low=st.integers(-100, 100), high=st.integers(-100, 100))
def test_a_numeric_range_matches_numbers_inside_it(n: int, low: int, high: int) -> None:
    flt = {"n": [{"numeric": [">=", low, "<", high]}]}
    assert matches(flt, {"n": n}) is (low <= n < high)
