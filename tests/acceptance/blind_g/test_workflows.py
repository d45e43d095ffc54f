"""SPEC §10: chains and groups failing in every position, nesting, member retries,
dependencies and cancellation with and without cascade."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import ArgumentsError, ConfigurationError, Conveyor, JobFailed, Retry, chain, group
from tests.acceptance.blind_g.support import error_of, rec, settle
from tests.conformance.helpers import ManualClock, drain


def _jobs(app: Conveyor) -> tuple[Any, Any]:
    """``add(x, n=1, fail=False)`` adds ``n`` to ``x`` (or fails); ``total(xs)`` sums."""
    @app.job("add-ü")
    def add(x: int, n: int = 1, fail: bool = False) -> int:
        if fail:
            raise ValueError(f"add({x}) failed on purpose")
        return x + n

    @app.job
    def total(xs: list[Any]) -> Any:
        return [sum(x if isinstance(x, int) else sum(x) for x in xs), xs]

    return add, total


def test_a_chain_failing_at_each_position_stops_there(app: Conveyor) -> None:
    add, _ = _jobs(app)
    handles = [chain(add(0, fail=pos == 0), add(fail=pos == 1), add(fail=pos == 2)).run_now()
               for pos in range(3)]
    drain(app)
    for pos, h in enumerate(handles):
        states = [rec(app, i).state for i in h.ids]
        assert states == ["completed"] * pos + ["failed"] + ["cancelled"] * (2 - pos), pos
        with pytest.raises(JobFailed):
            h.result(timeout=30)
        for later in h.ids[pos + 1:]:
            assert str(h.ids[pos]) in error_of(app, later)


def test_a_group_with_failing_members_still_runs_the_others(app: Conveyor) -> None:
    add, _ = _jobs(app)
    g = group(add(1, fail=True), add(2), add(3, fail=True)).run_now()
    drain(app)
    assert [rec(app, i).state for i in g.ids] == ["failed", "completed", "failed"]
    assert rec(app, g.ids[1]).result == 3
    with pytest.raises(JobFailed):
        g.result(timeout=30)


def test_a_chord_gathers_the_group_or_is_cancelled_by_any_member(app: Conveyor) -> None:
    add, total = _jobs(app)
    chords = [chain(add(1), group(add(fail=failing == 0), add(n=10, fail=failing == 1)),
                    total()).run_now() for failing in (None, 0, 1)]
    drain(app)
    assert chords[0].result(timeout=30) == [15, [3, 12]]
    for failing, h in enumerate(chords[1:]):
        with pytest.raises(JobFailed):
            h.result(timeout=30)
        assert rec(app, h.id).state == "cancelled"
        assert str(h.ids[1 + failing]) in error_of(app, h.id)


def test_groups_and_chains_nest_every_way(app: Conveyor) -> None:
    add, total = _jobs(app)
    h = group(chain(add(1), add()), group(add(5), group(add(6))), add(7),
              chain(group(add(1), add(2)), total(), )).run_now()
    drain(app)
    assert h.result(timeout=30) == [3, [6, [7]], 8, [5, [2, 3]]]
    assert len(h.ids) == 8 and len(set(h.ids)) == 8


def test_single_member_workflows_and_options_on_every_member(app: Conveyor) -> None:
    add, _ = _jobs(app)
    one_chain = chain(add(1)).run_now(queue="q-ü", priority="high")
    one_group = group(add(1)).run_now(queue="q-ü")
    drain(app, queues=["q-ü"])
    assert one_chain.result(timeout=30) == 2 and one_group.result(timeout=30) == [2]
    for i in [*one_chain.ids, *one_group.ids]:
        assert rec(app, i).queue == "q-ü"


def test_a_member_retrying_keeps_the_chain_blocked_until_it_succeeds(
        capp: Conveyor, clock: ManualClock) -> None:
    tries: list[int] = []

    @capp.job(retry=Retry(retries=2, wait=60))
    def flaky(x: int, meta: Any) -> int:
        tries.append(meta.attempt)
        if meta.attempt < 3:
            raise RuntimeError("not yet")
        return x * 2

    @capp.job
    def after(x: int) -> int:
        return x + 1

    h = chain(flaky(5), after()).run_now()
    drain(capp)
    assert rec(capp, h.ids[0]).state == "scheduled"
    assert rec(capp, h.ids[1]).state == "blocked"
    settle(capp, clock, seconds=60)
    assert rec(capp, h.ids[1]).state == "blocked"
    settle(capp, clock, seconds=60)
    assert h.result(timeout=30) == 11 and tries == [1, 2, 3]


def test_a_dependent_waits_for_all_and_lists_its_dependencies_in_order(
        capp: Conveyor, clock: ManualClock) -> None:
    add, total = _jobs(capp)

    @capp.job
    async def slow(io: Any) -> int:
        await io.wait("nap", 1, "hour")
        return 100

    a, b = slow().run_now(), add(1).run_now()
    done = add(0).run_now()
    drain(capp)
    dependent = total([1]).run_now(depends_on=[a, b.id, done])
    assert rec(capp, dependent).state == "blocked"
    assert rec(capp, dependent).depends_on == [a.id, b.id, done.id]
    drain(capp)
    assert rec(capp, dependent).state == "blocked"
    settle(capp, clock, hours=1)
    assert dependent.result(timeout=30) == [1, [1]]


def test_a_failed_dependency_cancels_the_graph_below_naming_the_run(app: Conveyor) -> None:
    add, total = _jobs(app)
    root = add(0, fail=True).run_now()
    ok = add(0).run_now()
    mid = add(1).run_now(depends_on=[ok, root])
    low = total([1]).run_now(depends_on=[mid])
    drain(app)
    assert rec(app, ok).state == "completed"
    assert [rec(app, h).state for h in (root, mid, low)] == ["failed", "cancelled", "cancelled"]
    assert str(root.id) in error_of(app, mid)
    assert str(root.id) in error_of(app, low) or str(mid.id) in error_of(app, low)
    with pytest.raises(JobFailed):
        low.result(timeout=30)


def test_cancel_without_cascade_leaves_children_running_and_the_parent_cancelled(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def kid(n: int, io: Any) -> int:
        await io.wait("nap", 1, "minute")
        return n

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [kid(1), kid(2)])

    h = parent().run_now()
    drain(capp)
    kids = rec(capp, h).children
    assert capp.cancel(h.id) and rec(capp, h).state == "cancelled"
    settle(capp, clock, minutes=1)
    assert rec(capp, h).state == "cancelled"
    kid_ids = [k if isinstance(k, int) else k.id for k in kids]
    assert [rec(capp, k).state for k in kid_ids] == ["completed", "completed"]
    assert [rec(capp, k).parent_id for k in kid_ids] == [h.id, h.id]


def test_cancel_with_cascade_spares_finished_children_and_reaches_their_dependents(
        capp: Conveyor, clock: ManualClock) -> None:
    add, total = _jobs(capp)

    @capp.job
    async def sleepy(io: Any) -> int:
        await io.wait("nap", 1, "day")
        return 1

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [add(1), sleepy()])

    h = parent().run_now()
    drain(capp)
    quick, slow_kid = [k if isinstance(k, int) else k.id for k in rec(capp, h).children]
    follower = total([0]).run_now(depends_on=[slow_kid])
    capp.cancel(h.id, cascade=True)
    settle(capp, clock, days=1)
    states = [rec(capp, i).state for i in (h.id, quick, slow_kid, follower.id)]
    assert states == ["cancelled", "completed", "cancelled", "cancelled"]


def test_members_that_cannot_take_their_input_are_refused_before_anything_is_stored(
        app: Conveyor) -> None:
    add, _ = _jobs(app)

    @app.job
    def keyed(x: int, *, k: int) -> int:
        return x + k

    @app.job
    def nothing() -> int:
        return 0

    with pytest.raises(ArgumentsError, match="'k'"):
        chain(add(1), keyed())
    for build in (lambda: chain(add(), add()), lambda: group(add()),
                  lambda: chain(add(1), nothing()), lambda: chain(add(1), add(1, 2, 3)),
                  lambda: chain(group(add(), add(1)), add())):
        with pytest.raises(ArgumentsError):
            build().run_now()
    assert app.count() == 0
    assert chain(add(1), keyed(k=5)).run_now().ids and app.count() == 2


def test_records_link_a_chord_by_dependencies_and_a_fan_out_by_parent(app: Conveyor) -> None:
    add, total = _jobs(app)

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [add(1), add(2)])

    h = chain(add(1), group(add(), add()), total()).run_now()
    p = parent().run_now()
    first, left, right, last = h.ids
    assert rec(app, first).depends_on == []
    assert rec(app, left).depends_on == [first] and rec(app, right).depends_on == [first]
    assert rec(app, last).depends_on == [left, right]
    assert all(rec(app, i).parent_id is None for i in h.ids)
    drain(app)
    kids = rec(app, p).children
    assert len(kids) == 2 and all(rec(app, k).parent_id == p.id for k in kids)
    assert p.result(timeout=30) == [2, 3] and rec(app, p).depends_on == []


def test_retrying_a_failed_chord_member_carries_the_chord_on(app: Conveyor) -> None:
    broken = {"on": True}

    @app.job(retry=Retry(retries=0))
    def part(x: int, n: int) -> int:
        if n == 2 and broken["on"]:
            raise ValueError("part 2 broken")
        return x * n

    @app.job
    def merge(xs: list[int]) -> int:
        return sum(xs)

    h = chain(part(1, 1), group(part(n=1), part(n=2), part(n=3)), merge()).run_now()
    drain(app)
    assert [rec(app, i).state for i in h.ids] == [
        "completed", "completed", "failed", "completed", "cancelled"]
    with pytest.raises(ConfigurationError, match=f"retry run {h.ids[2]} first"):
        app.retry(h.id)
    broken["on"] = False
    assert app.retry(h.ids[2])
    assert rec(app, h.id).state == "blocked"
    drain(app)
    assert h.result(timeout=30) == 6
    assert rec(app, h.ids[2]).attempts == 2
