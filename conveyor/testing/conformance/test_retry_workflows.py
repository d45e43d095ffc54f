"""app.retry on workflow members (SPEC §4, §10): a retried failed member carries its
chain on; a member never runs without the result it receives."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ConfigurationError, Conveyor, chain, group
from conveyor.testing.conformance.helpers import drain


@pytest.fixture
def flow(app: Conveyor) -> Conveyor:
    broken = {"now": True}

    @app.job
    def flaky(x: int) -> int:
        if broken["now"]:
            raise RuntimeError("down")
        return x * 10

    @app.job
    def plus(x: int, y: int = 1) -> int:
        return x + y

    @app.job
    def total(xs: list[int]) -> int:
        return sum(xs)

    app.broken = broken  # type: ignore[attr-defined]
    return app


def _states(app: Conveyor, ids: list[int]) -> list[str]:
    return [app.get_job(i).state for i in ids]  # type: ignore[union-attr]


def _fix(app: Conveyor) -> None:
    app.broken["now"] = False  # type: ignore[attr-defined]


def test_retrying_the_failed_member_carries_the_chain_on(flow: Conveyor) -> None:
    h = chain(flow.jobs.flaky(1), flow.jobs.plus(), flow.jobs.plus(y=5)).run_now()
    drain(flow)
    assert _states(flow, h.ids) == ["failed", "cancelled", "cancelled"]
    _fix(flow)
    assert flow.retry(h.ids[0]) is True
    assert _states(flow, h.ids) == ["queued", "blocked", "blocked"]
    assert all(flow.get_job(i).error is None for i in h.ids[1:])  # type: ignore[union-attr]
    drain(flow)
    assert h.result(timeout=5) == 16
    assert [flow.get_job(i).args for i in h.ids] == [[1], [10], [11]]  # type: ignore[union-attr]
    assert flow.get_job(h.ids[0]).attempts == 2  # type: ignore[union-attr]


def test_retrying_a_member_whose_predecessor_failed_is_refused_naming_it(flow: Conveyor) -> None:
    h = chain(flow.jobs.flaky(1), flow.jobs.plus(), flow.jobs.plus()).run_now()
    drain(flow)
    first = h.ids[0]
    for member in h.ids[1:]:
        with pytest.raises(ConfigurationError, match=f"retry run {first} first"):
            flow.retry(member)
    assert _states(flow, h.ids) == ["failed", "cancelled", "cancelled"]
    assert flow.queries.retry_many(h.ids[1:]) == set()
    assert flow.get_job(h.ids[1]).args == []  # type: ignore[union-attr]


def test_a_member_cancelled_before_its_input_is_fed_it_when_retried(flow: Conveyor) -> None:
    h = chain(flow.jobs.plus(1), flow.jobs.plus(), flow.jobs.plus()).run_now()
    flow.cancel(h.ids[1])  # blocked: it never received a result
    drain(flow)
    assert _states(flow, h.ids) == ["completed", "cancelled", "cancelled"]
    assert flow.retry(h.ids[1]) is True
    record = flow.get_job(h.ids[1])
    assert record is not None and record.state == "queued" and record.args == [2]
    assert record.payload == 2
    drain(flow)
    assert flow.get_job(h.ids[1]).result == 3  # type: ignore[union-attr]
    # the last one was cancelled by the cascade of the hand cancel: it goes on too
    assert h.result(timeout=5) == 4


def test_a_member_that_received_its_input_runs_again_with_it(flow: Conveyor) -> None:
    h = chain(flow.jobs.plus(4), flow.jobs.flaky()).run_now()
    drain(flow)
    assert _states(flow, h.ids) == ["completed", "failed"]
    _fix(flow)
    assert flow.retry(h.ids[1]) is True
    assert flow.get_job(h.ids[1]).args == [5]  # type: ignore[union-attr]
    drain(flow)
    assert h.result(timeout=5) == 50


def test_a_dependent_cancelled_by_hand_stays_cancelled(flow: Conveyor) -> None:
    h = chain(flow.jobs.flaky(1), flow.jobs.plus()).run_now()
    mine = flow.jobs.plus(7).run_now(depends_on=[h.ids[0]])
    flow.cancel(mine.id)
    drain(flow)
    _fix(flow)
    flow.retry(h.ids[0])
    drain(flow)
    assert h.result(timeout=5) == 11
    assert flow.get_job(mine.id).state == "cancelled"  # type: ignore[union-attr]


def test_retrying_a_failed_group_member_completes_the_chord(flow: Conveyor) -> None:
    h = chain(group(flow.jobs.flaky(1), flow.jobs.plus(2)), flow.jobs.total()).run_now()
    drain(flow)
    assert _states(flow, h.ids) == ["failed", "completed", "cancelled"]
    _fix(flow)
    flow.retry(h.ids[0])
    assert _states(flow, h.ids) == ["queued", "completed", "blocked"]
    drain(flow)
    assert h.result(timeout=5) == 13


def test_a_dependent_waits_for_a_dependency_retried_with_it(flow: Conveyor) -> None:
    a = flow.jobs.flaky(2).run_now()
    b = flow.jobs.plus(1).run_now(depends_on=[a])
    drain(flow)
    _fix(flow)
    assert flow.queries.retry_many([a.id, b.id]) == {a.id, b.id}
    assert _states(flow, [a.id, b.id]) == ["queued", "blocked"]
    drain(flow)
    assert b.result(timeout=5) == 2 and flow.get_job(b.id).args == [1]  # type: ignore[union-attr]


def test_plain_retries_are_unchanged(flow: Conveyor) -> None:
    done: Any = flow.jobs.plus(1).run_now()
    drain(flow)
    assert flow.retry(done.id) is True and flow.retry(done.id) is False  # queued: not finished
    assert flow.retry(10**9) is False
    drain(flow)
    assert flow.get_job(done.id).attempts == 2  # type: ignore[union-attr]


@pytest.fixture
def gated(app: Conveyor) -> Conveyor:
    """``count()`` returns 1, 2, ... on each run; ``later()`` is paused until resumed."""
    runs = {"n": 0}

    @app.job
    def count() -> int:
        runs["n"] += 1
        return runs["n"]

    @app.job
    def later() -> int:
        return 100

    @app.job
    def both(xs: list[int]) -> list[int]:
        return xs

    app.pause(job="later")
    return app


def test_a_blocked_dependent_waits_for_a_completed_dependency_retried(gated: Conveyor) -> None:
    h = chain(group(gated.jobs.count(), gated.jobs.later()), gated.jobs.both()).run_now()
    drain(gated)
    assert _states(gated, h.ids) == ["completed", "queued", "blocked"]
    assert gated.retry(h.ids[0]) is True
    gated.pause(job="count")
    gated.resume(job="later")
    drain(gated)  # its other dependency completes while the retried one has not run yet
    assert _states(gated, h.ids) == ["queued", "completed", "blocked"]
    gated.resume(job="count")
    drain(gated)
    assert h.result(timeout=5) == [2, 100]  # the new result, never None


def test_a_plain_dependent_waits_for_a_completed_dependency_retried(gated: Conveyor) -> None:
    first = gated.jobs.count().run_now()
    other = gated.jobs.later().run_now()
    mine = gated.jobs.both([]).run_now(depends_on=[first, other])
    drain(gated)
    assert gated.retry(first.id) is True
    gated.pause(job="count")
    gated.resume(job="later")
    drain(gated)
    assert _states(gated, [first.id, other.id, mine.id]) == ["queued", "completed", "blocked"]
    gated.resume(job="count")
    drain(gated)
    assert _states(gated, [first.id, mine.id]) == ["completed", "completed"]


def test_a_released_dependent_keeps_the_result_it_received(gated: Conveyor) -> None:
    h = chain(gated.jobs.count(), gated.jobs.both()).run_now()
    gated.pause(job="both")
    drain(gated)
    assert _states(gated, h.ids) == ["completed", "queued"]
    assert gated.retry(h.ids[0]) is True
    gated.resume(job="both")
    drain(gated)
    assert gated.get_job(h.ids[1]).args == [1]  # type: ignore[union-attr]
    assert gated.get_job(h.ids[0]).result == 2  # type: ignore[union-attr]
