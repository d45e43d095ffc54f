"""§4 matching stored payloads: ``data=`` subsets with keys that look like paths or
quotes, numbers beyond 64 bits, and text searches with SQL wildcard characters."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import enqueued


def _store(app: Conveyor, payloads: list[Any]) -> list[int]:
    @app.job("shop")
    def shop(payload):  # type: ignore[no-untyped-def]
        return payload

    return [shop(p).run_in(1, "hour").id for p in payloads]


@pytest.mark.parametrize(
    ("payloads", "subset", "matched"),
    [
        ([{"a.b": 1}, {"a": {"b": 1}}], {"a.b": 1}, [0]),
        ([{"a.b": 1}, {"a": {"b": 1}}], {"a": {"b": 1}}, [1]),
        ([{'k"q': 1}, {"k": 1}], {'k"q': 1}, [0]),
        ([{"$": 1}, {"$.x": 2}, {"x": 2}], {"$.x": 2}, [1]),
        ([{"[0]": "z"}, {"l": ["z"]}], {"[0]": "z"}, [0]),
        ([{"k'": "it's"}, {"k": "its"}], {"k'": "it's"}, [0]),
        ([{"": 1}, {"x": 1}], {"": 1}, [0]),
        ([{"n": 2**70}, {"n": 2**70 + 1}, {"n": float(2**70)}], {"n": 2**70}, [0]),
        ([{"n": 2**70 + 1}, {"n": 2**70}], {"n": 2**70 + 1}, [0]),
        ([{"n": 2**63}, {"n": 2**63 - 1}], {"n": 2**63 - 1}, [1]),
        ([{"n": 0.1 + 0.2}, {"n": 0.3}], {"n": 0.3}, [1]),
        ([{"flag": True}, {"flag": 1}, {"flag": "true"}], {"flag": True}, [0]),
        ([{"v": None}, {}, {"v": "null"}], {"v": None}, [0]),
    ],
)
def test_cancel_jobs_data_matches_exactly_these_payloads(
    app: Conveyor, payloads: list[Any], subset: dict[str, Any], matched: list[int]
) -> None:
    ids = _store(app, payloads)
    if all(key.isidentifier() for key in subset):
        assert [r.id for r in enqueued(app, "shop", **subset)] == [ids[i] for i in matched]
    assert sorted(r.id for r in app.jobs_list(data=subset)) == [ids[i] for i in matched]
    assert app.count(data=subset) == len(matched)
    assert app.cancel_jobs(type="shop", data=subset) == len(matched)
    cancelled = [r.id for r in app.jobs_list(state="cancelled", newest_first=False)]
    assert cancelled == [ids[i] for i in matched]


@pytest.mark.parametrize(
    ("needle", "matched"),
    [("100%", [0]), ("a_b", [2]), ("%", [0]), ("_", [2]), ("\\", [4]), ("ÉTÉ", [5]), ("[x]", [3])],
)
def test_text_search_reads_wildcard_characters_literally(
    app: Conveyor, needle: str, matched: list[int]
) -> None:
    texts = ["sale 100% off", "sale 1000 off", "a_b", "[x]", "back\\slash", "ÉTÉ chaud"]
    ids = _store(app, [{"t": t} for t in texts])
    assert sorted(r.id for r in app.jobs_list(text=needle)) == [ids[i] for i in matched]
