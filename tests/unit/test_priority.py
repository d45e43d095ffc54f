"""conveyor.Priority: the int a record's priority is, equal to its level name too."""

from __future__ import annotations

import json
import pickle

import pytest

from conveyor import ConfigurationError, Priority


def test_a_named_level_equals_its_name_and_its_number() -> None:
    high = Priority("high")
    assert high == 10 and high == "high" and high == " HIGH "
    assert high != "low" and high != 11
    assert high.name == "high" and high.label == "high"
    assert Priority(10) == Priority("high") and isinstance(high, int)


def test_an_unnamed_number_is_just_its_number() -> None:
    seven = Priority(7)
    assert seven == 7 and seven != "medium" and seven != "7"
    assert seven.name is None and seven.label == "7"


def test_it_orders_serialises_and_hashes_as_its_int() -> None:
    ordered = sorted([Priority("critical"), Priority(-3), Priority("low"), Priority(7)])
    assert ordered == [-10, -3, 7, 20]
    assert Priority("low") < "normal" < Priority("high") <= "high"
    assert json.dumps({"p": Priority("high")}) == '{"p": 10}'
    assert str(Priority("high")) == f"{Priority('high')}" == "10"
    assert repr(Priority("high")) == "Priority('high')" and repr(Priority(7)) == "Priority(7)"
    assert {Priority("high"): 1}[10] == 1 and hash(Priority(3)) == hash(3)
    assert pickle.loads(pickle.dumps(Priority("medium"))) == "medium"
    assert Priority() == "normal" and Priority(None) == 0


@pytest.mark.parametrize("bad", ["urgent", True, 2**31, 1.5])
def test_a_bad_value_says_what_is_accepted(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="accepted: low, normal, medium, high, critical"):
        Priority(bad)  # type: ignore[arg-type]
