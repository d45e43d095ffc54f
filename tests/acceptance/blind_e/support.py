"""Helpers of the second blind pass over SPEC §1-4 and §8: JSON values for property
tests, equality that tells value types apart, and the check of a refusal's message."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

KEYS = st.sampled_from(["a", "b", "", "ü\u2028", "a.b"])
NUMBERS = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1, 1.0, 2**63, float(2**70), 2**70, 1e16, 10**16, 5e-324]),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS,
                    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                            max_size=8))
# Values JSON can hold (no NUL, no lone surrogates), a few levels deep.
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)), max_leaves=8)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=4)


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values read back: same types (bool is not int, int is not float),
    float signs and bits kept, dict keys and list order kept."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def as_read_back(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists)."""
    if isinstance(value, dict):
        return {k: as_read_back(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_read_back(v) for v in value]
    return value


def refused(call: Any, *needles: str, error: type[BaseException] = ValueError) -> str:
    """Run ``call()``, which must raise ``error`` (ValueError by default) whose message
    names each of ``needles`` (what was wrong, what is accepted); the message."""
    try:
        call()
    except error as exc:
        text = str(exc)
    else:
        raise AssertionError(f"{call} was not refused")
    missing = [n for n in needles if n.lower() not in text.lower()]
    assert not missing, f"{missing} not in {text!r}"
    return text
