"""SPEC §10: dependencies, chains and groups (nested), failure propagation down a graph,
cancel with cascade, durable children; every member an ordinary record."""

from __future__ import annotations

from typing import Any

import pytest

import conveyor
from conveyor import Conveyor, Fail, JobFailed, Retry
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def _jobs(app: Conveyor) -> Any:
    @app.job
    def add(x, y=1):
        return x + y

    @app.job
    def total(values):
        return sum(values)

    @app.job(retry=Retry(retries=0))
    def broken(x=None):
        raise Fail("broken on purpose")

    return add, total, broken


def test_failure_cancels_dependents_down_the_graph_naming_the_run(app: Conveyor) -> None:
    add, _, broken = _jobs(app)
    root = broken(1).run_now()
    child = add(1).run_now(depends_on=[root])
    sibling_root = add(5).run_now()
    grandchild = add(2).run_now(depends_on=[child, sibling_root])
    assert record_of(app, child.id).state == "blocked"
    assert record_of(app, grandchild.id).depends_on == [child.id, sibling_root.id]
    run_until_idle(app)
    assert record_of(app, root.id).state == "failed"
    assert record_of(app, sibling_root.id).state == "completed"
    for handle, cause in ((child, root), (grandchild, child)):
        record = record_of(app, handle.id)
        assert record.state == "cancelled"
        assert str(cause.id) in str(record.error)
        assert record.attempts == 0


def test_an_already_cancelled_or_failed_dependency_cancels_at_once(app: Conveyor) -> None:
    add, _, broken = _jobs(app)
    gone = add(1).run_in(1, "hour")
    app.cancel(gone.id)
    failed = broken().run_now()
    run_until_idle(app)
    for dependency in (gone, failed):
        late = add(3).run_now(depends_on=[dependency])
        record = record_of(app, late.id)
        assert record.state == "cancelled" and str(dependency.id) in str(record.error)


def test_a_completed_dependency_leaves_the_dependent_due(app: Conveyor) -> None:
    add, _, _ = _jobs(app)
    first = add(1).run_now()
    run_until_idle(app)
    second = add(2).run_now(depends_on=[first])
    assert record_of(app, second.id).state in ("queued", "scheduled")
    run_until_idle(app)
    assert second.result(timeout=30) == 3


def test_retrying_a_dependency_before_it_fails_for_good_keeps_dependents_blocked(
        app: Conveyor) -> None:
    calls: list[int] = []

    @app.job(retry=Retry(retries=1, wait=0))
    def shaky(meta):
        calls.append(meta.attempt)
        if meta.attempt == 1:
            raise RuntimeError("first time")
        return "ok"

    add, _, _ = _jobs(app)
    root = shaky().run_now()
    after = add(10).run_now(depends_on=[root])
    run_until_idle(app)
    assert calls == [1, 2]
    assert after.result(timeout=30) == 11


def test_nested_chain_and_group_results(app: Conveyor) -> None:
    add, total, _ = _jobs(app)
    flow = conveyor.chain(add(1), conveyor.group(add(), add(y=10), conveyor.chain(add(), add())),
                          total())
    handle = flow.run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == 3 + 12 + 4
    groups = conveyor.group(conveyor.group(add(1), add(2)), conveyor.chain(add(1), add()))
    grouped = groups.run_now()
    run_until_idle(app)
    assert grouped.result(timeout=30) == [[2, 3], 3]


def test_a_failed_member_stops_the_chain(app: Conveyor) -> None:
    add, _, broken = _jobs(app)
    handle = conveyor.chain(add(1), broken(), add(), add()).run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)
    states = sorted(r.state for r in app.jobs_list())
    assert states == ["cancelled", "cancelled", "completed", "failed"]


def test_a_failed_group_member_fails_the_group(app: Conveyor) -> None:
    add, _, broken = _jobs(app)
    handle = conveyor.group(add(1), broken(), add(3)).run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_cancel_with_cascade_reaches_children_and_dependents(app: Conveyor) -> None:
    add, _, _ = _jobs(app)

    @app.job
    async def parent(io):
        return await io.run_jobs("kids", [add(1), add(2)])

    top = parent().run_now()
    dependent = add(7).run_in(1, "hour", depends_on=[top])
    assert app.cancel(top.id, cascade=True)
    for handle in (top, dependent):
        assert record_of(app, handle.id).state == "cancelled"
    run_until_idle(app)
    assert app.count(state="completed") == 0


def test_cancel_with_cascade_of_a_waiting_parent_cancels_started_children(
        app: Conveyor) -> None:
    @app.job
    def child(n):
        return n

    @app.job
    async def parent(io):
        return await io.run_jobs("kids", [child(1), child(2)])

    app.pause(job="child")
    top = parent().run_now()
    run_until_idle(app)
    record = record_of(app, top.id)
    assert record.state == "waiting"
    assert len(record.children) == 2
    for kid in record.children:
        assert record_of(app, kid).parent_id == top.id
    app.cancel(top.id, cascade=True)
    app.resume(job="child")
    run_until_idle(app)
    assert {record_of(app, kid).state for kid in record.children} == {"cancelled"}
    assert record_of(app, top.id).state == "cancelled"


def test_a_failing_child_raises_job_failed_in_the_parent(app: Conveyor) -> None:
    _, _, broken = _jobs(app)

    @app.job
    async def parent(io):
        try:
            await io.run_job("kid", broken())
        except JobFailed as failure:
            return f"caught: {failure}"
        return "not raised"

    top = parent().run_now()
    run_until_idle(app)
    result = top.result(timeout=30)
    assert result.startswith("caught") and "broken on purpose" in result
