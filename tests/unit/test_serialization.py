"""JSON payloads: compact output, refusals naming the offending path (conveyor.serialization)."""

from __future__ import annotations

import decimal
import json
import math
import sys
import threading
import uuid
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.errors import PayloadError
from conveyor.serialization import Limits, dumps, loads, payload_of

ACCEPTED = "accepted: dict with str keys, list, tuple, str, int, float, bool, None"

# Text a payload may hold: valid Unicode without NUL (both are refused, see test_limits).
texts = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children) | st.dictionaries(texts, children),
    max_leaves=20,
)


# -- dumps: the happy path ------------------------------------------------------------


def test_dumps_is_compact() -> None:
    assert dumps({"a": [1, 2.5, None, True], "b": {"c": "d"}}) == (
        '{"a":[1,2.5,null,true],"b":{"c":"d"}}'
    )


def test_dumps_keeps_non_ascii_text() -> None:
    assert dumps({"name": "Zoë 東京"}) == '{"name":"Zoë 東京"}'


def test_dumps_stores_tuples_as_lists() -> None:
    assert dumps({"point": (1, 2)}) == '{"point":[1,2]}'
    assert loads(dumps((1, (2, 3)))) == [1, [2, 3]]


@pytest.mark.parametrize(
    ("value", "text"), [(None, "null"), (True, "true"), (3, "3"), (1.5, "1.5"), ("x", '"x"')]
)
def test_dumps_accepts_scalars(value: Any, text: str) -> None:
    assert dumps(value) == text


def test_dumps_accepts_dict_and_list_subclasses() -> None:
    assert dumps(OrderedDict(a=1)) == '{"a":1}'


def test_dumps_accepts_shared_references_that_are_not_cycles() -> None:
    shared = {"x": 1}
    assert dumps([shared, shared]) == '[{"x":1},{"x":1}]'


@given(json_values)
def test_dumps_round_trips_through_loads(value: Any) -> None:
    assert loads(dumps(value)) == value


@given(json_values)
def test_dumps_matches_json_dumps(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert dumps(value) == expected


def test_a_single_str_or_int_is_checked_against_the_limits_as_any_value() -> None:
    small = Limits(max_payload=16)
    assert dumps(-(10**15) + 1, limits=small) == "-999999999999999"
    with pytest.raises(PayloadError, match="17 bytes as JSON, more than max_payload=16"):
        dumps(10**16, limits=small)
    with pytest.raises(PayloadError, match="17 bytes as JSON, more than max_payload=16"):
        dumps("x" * 15, limits=small)
    with pytest.raises(PayloadError, match=r"payload contains a NUL character"):
        dumps("a\x00b")
    assert dumps("a\\u0000b") == '"a\\\\u0000b"'  # a backslash, not a NUL


def test_dumps_is_thread_safe() -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(2000):
                value = {"i": i, "j": j, "items": [i, j, {"k": str(j)}]}
                assert loads(dumps(value)) == value
                with pytest.raises(PayloadError):
                    dumps({"bad": {i, j}})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# -- dumps: refusals ------------------------------------------------------------------


def test_dumps_refuses_datetimes_naming_the_path() -> None:
    with pytest.raises(PayloadError) as info:
        dumps([{"when": datetime(2026, 1, 1)}], "payload args")
    assert str(info.value) == (
        "payload args[0][\"when\"] is a datetime, which JSON cannot hold; pass an ISO string "
        f"or a number ({ACCEPTED})"
    )


def test_dumps_names_the_root_with_what() -> None:
    with pytest.raises(PayloadError) as info:
        dumps(object(), "result")
    assert str(info.value) == (
        "result is an object, which JSON cannot hold; pass plain data (e.g. a dict of its "
        f"fields) ({ACCEPTED})"
    )


def test_dumps_default_what_is_payload() -> None:
    with pytest.raises(PayloadError, match=r'^payload\["x"\] is a set'):
        dumps({"x": {1}})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({1, 2}, f"payload is a set, which JSON cannot hold; pass a list ({ACCEPTED})"),
        (frozenset(), f"payload is a frozenset, which JSON cannot hold; pass a list ({ACCEPTED})"),
        (
            b"x",
            "payload is bytes, which JSON cannot hold; pass a str (e.g. base64 or text "
            f"decoded from the bytes) ({ACCEPTED})",
        ),
        (
            date(2026, 1, 1),
            f"payload is a date, which JSON cannot hold; pass an ISO string ({ACCEPTED})",
        ),
        (
            timedelta(1),
            "payload is a timedelta, which JSON cannot hold; pass a number of seconds "
            f"({ACCEPTED})",
        ),
        (
            decimal.Decimal("1.1"),
            f"payload is a Decimal, which JSON cannot hold; pass a str or a float ({ACCEPTED})",
        ),
        (
            uuid.UUID(int=0),
            f"payload is a UUID, which JSON cannot hold; pass str(uuid) ({ACCEPTED})",
        ),
    ],
)
def test_dumps_refuses_types_json_cannot_hold_with_a_hint(value: Any, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        dumps(value)
    assert str(info.value) == message


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_dumps_refuses_nan_and_infinity(number: float) -> None:
    with pytest.raises(PayloadError) as info:
        dumps({"ratio": [number]})
    assert str(info.value) == (
        f"payload[\"ratio\"][0] is {number!r}, which JSON cannot hold; pass a finite number, "
        f"None or a str ({ACCEPTED})"
    )


@pytest.mark.parametrize(
    ("key", "shown"), [(1, "1, which is an int"), (None, "None, which is None")]
)
def test_dumps_refuses_non_str_keys_json_would_convert(key: Any, shown: str) -> None:
    with pytest.raises(PayloadError) as info:
        dumps({"outer": [{key: "v"}]})
    assert str(info.value) == (
        f"payload[\"outer\"][0] has the key {shown}, not a str; JSON object keys must be str "
        f"({ACCEPTED})"
    )


@pytest.mark.parametrize("key", [True, 1.5, (1, 2)])
def test_dumps_refuses_every_kind_of_non_str_key(key: Any) -> None:
    with pytest.raises(PayloadError, match="JSON object keys must be str"):
        dumps({key: 1})


def test_dumps_refuses_non_str_keys_deep_inside_tuples() -> None:
    with pytest.raises(PayloadError, match=r'^payload\[1\]\[1\]\["a"\] has the key 2'):
        dumps(([], ({}, {"a": {2: 3}})))


def test_dumps_reports_the_first_offending_value() -> None:
    with pytest.raises(PayloadError, match=r'^payload\["a"\] is a set'):
        dumps({"a": {1}, "b": b"x"})


def test_dumps_refuses_circular_references() -> None:
    cycle: dict[str, Any] = {"name": "x"}
    cycle["self"] = cycle
    with pytest.raises(PayloadError) as info:
        dumps(cycle)
    assert str(info.value) == (
        "payload[\"self\"] is a circular reference (a container inside itself), which JSON "
        f"cannot hold ({ACCEPTED})"
    )


def test_dumps_refuses_values_nested_too_deeply() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(sys.getrecursionlimit() * 2):
        inner.append([])
        inner = inner[0]
    with pytest.raises(PayloadError) as info:
        dumps(deep)
    assert str(info.value).startswith("payload[0][0]")
    assert "is nested deeper than max_depth=64 levels" in str(info.value)
    assert len(str(info.value)) < 300


def test_dumps_refuses_ints_too_long_for_json_text() -> None:
    with pytest.raises(PayloadError) as info:
        dumps({"n": 10 ** (sys.get_int_max_str_digits() + 1)})
    assert str(info.value) == (
        f"payload[\"n\"] is an int too long to write as JSON text; pass it as a str ({ACCEPTED})"
    )


def test_payload_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        dumps({1})


def test_payload_error_does_not_chain_internal_exceptions() -> None:
    with pytest.raises(PayloadError) as info:
        dumps({"x": {1}})
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


# -- loads ----------------------------------------------------------------------------


def test_loads_none_is_none() -> None:
    assert loads(None) is None


def test_loads_decodes_json() -> None:
    assert loads('{"a":[1,null]}') == {"a": [1, None]}


# -- payload_of -----------------------------------------------------------------------


def test_payload_of_single_positional_argument_is_the_payload() -> None:
    data = {"shop_id": 1}
    assert payload_of((data,), {}) is data


def test_payload_of_keyword_arguments_are_the_payload() -> None:
    assert payload_of((), {"shop_id": 1}) == {"shop_id": 1}


def test_payload_of_no_arguments_is_an_empty_dict() -> None:
    assert payload_of((), {}) == {}


def test_payload_of_several_positional_arguments_is_the_kwargs_dict() -> None:
    assert payload_of([1, 2], {}) == {}
    assert payload_of([1, 2], {"b": 2}) == {"b": 2}


def test_payload_of_one_positional_argument_with_keywords_is_that_argument() -> None:
    assert payload_of((1,), {"b": 2}) == 1


def test_payload_of_returns_a_copy_of_kwargs() -> None:
    kwargs = {"a": 1}
    payload = payload_of((), kwargs)
    assert payload == kwargs
    assert payload is not kwargs
