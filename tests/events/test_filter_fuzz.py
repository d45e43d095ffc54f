"""Fuzz: any valid filter against any JSON-like payload (huge and non-finite numbers
included) answers True or False and never raises."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.eventfilters import check_filter, matches

#: Examples of the filter fuzz (pure Python: cheap).
EXAMPLES = 500

numbers = st.one_of(
    st.integers(), st.floats(),
    st.sampled_from([10**400, -(10**400), 10**4000, 1e308, float("nan"), float("inf")]),
)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=5)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=10,
)
finite = st.one_of(st.integers(-(10**300), 10**300),
                   st.floats(allow_nan=False, allow_infinity=False))
ops = st.sampled_from(["=", "<", "<=", ">", ">="])
matchers = st.one_of(
    st.none(), st.booleans(), finite, st.text(max_size=3),
    st.builds(lambda s: {"prefix": s}, st.text(max_size=3)),
    st.builds(lambda s: {"suffix": s}, st.text(max_size=3)),
    st.builds(lambda s: {"equals-ignore-case": s}, st.text(max_size=3)),
    st.builds(lambda v: {"anything-but": v},
              st.one_of(st.none(), st.text(max_size=3), finite,
                        st.lists(st.one_of(st.text(max_size=3), finite), max_size=3))),
    st.builds(lambda pairs: {"numeric": [x for pair in pairs for x in pair]},
              st.lists(st.tuples(ops, finite), min_size=1, max_size=2)),
    st.builds(lambda b: {"exists": b}, st.booleans()),
)
filters = st.recursive(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.lists(matchers, min_size=1,
                                                              max_size=3), max_size=3),
    lambda inner: st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, min_size=1,
                                  max_size=2),
    max_leaves=6,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(filters, values)
def test_any_filter_against_any_payload_answers_without_raising(
    flt: dict[str, Any], payload: Any
) -> None:
    check_filter(flt)
    assert matches(flt, payload) in (True, False)


@given(st.sampled_from([10**400, -(10**400), float("nan"), float("inf"), float("-inf")]))
def test_numbers_a_filter_cannot_compare_do_not_match(number: Any) -> None:
    for op in ("=", "<", "<=", ">", ">="):
        assert not matches({"v": [{"numeric": [op, 0]}]}, {"v": number})
    assert matches({"v": [{"anything-but": [1]}]}, {"v": number})
