"""SPEC §4 finding: ``cancel_jobs(data=...)`` and ``enqueued(**subset)`` match a payload
subset with JSON equality (``true`` is not ``1``; integers beyond 64 bits compare exactly)
the same way on every store; ``jobs_list`` paging and filters refuse nonsense."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.testing import enqueued

REUSED = settings(
    max_examples=12, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from([0, 1, -1, 2**63, 2**63 - 1, -(2**64), 10**30, 1.5, 0.1])
    | st.sampled_from(["", "a", "é", "日本", "A", "1", "true", "null"])
)
payloads = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    scalars | st.dictionaries(st.sampled_from(["x", "y"]), scalars, max_size=2),
    max_size=3,
)


def same_json(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b and (a is None) == (b is None)


def contains(payload: Any, subset: dict[str, Any]) -> bool:
    """The documented subset match: every key of ``subset`` is in ``payload`` with an equal
    value, nested objects matched as subsets in turn."""
    if not isinstance(payload, dict):
        return False
    for key, want in subset.items():
        if key not in payload:
            return False
        have = payload[key]
        if isinstance(want, dict):
            if not contains(have, want):
                return False
        elif not same_json(have, want):
            return False
    return True


@REUSED
@given(stored=st.lists(payloads, min_size=1, max_size=5), subset=payloads)
def test_cancel_jobs_data_is_a_json_subset_match(
    app: Conveyor, stored: list[dict[str, Any]], subset: dict[str, Any]
) -> None:
    app.cancel_jobs()
    try:
        sync = app.jobs["sync"]
    except KeyError:

        @app.job("sync")
        def sync(payload: dict[str, Any]) -> None: ...

    for payload in stored:
        sync(payload).run_in(1, "hour")
    expected = sum(contains(p, subset) for p in stored)
    listed = [r for r in enqueued(app, job="sync", **subset) if r.state == "scheduled"]
    assert len(listed) == expected
    assert app.cancel_jobs(type="sync", data=subset) == expected


def test_jobs_list_pages_without_gaps_or_repeats(app: Conveyor) -> None:
    @app.job("p")
    def p(i: int) -> None: ...

    ids = {p(i).run_now().id for i in range(7)}
    pages = [app.jobs_list(limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    seen = [r.id for page in pages for r in page]
    assert set(seen) == ids and len(seen) == 7
    oldest = app.jobs_list(limit=1, newest_first=False)[0].id
    assert oldest == min(ids) and app.jobs_list(limit=1)[0].id == max(ids)
    assert app.jobs_list(limit=0) == []


@pytest.mark.parametrize("paging", [{"limit": -1}, {"offset": -1}, {"limit": "ten"}])
def test_bad_paging_is_refused(app: Conveyor, paging: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        app.jobs_list(**paging)


@pytest.mark.parametrize("filters", [{"state": "exploded"}, {"colour": "red"}])
def test_an_unknown_state_or_filter_is_refused(app: Conveyor, filters: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        app.count(**filters)
    with pytest.raises((ValueError, TypeError)):
        app.cancel_jobs(state="exploded")


def test_huge_and_odd_ids_are_simply_absent(app: Conveyor) -> None:
    for job_id in (2**70, -(2**70), 0):
        assert app.get_job(job_id) is None
        assert app.cancel(job_id) is False
        assert app.retry(job_id) is False
