"""SPEC §10: chains, groups, dependencies and durable child runs — results, failures,
cancels and the links every record carries (sync and async forms)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, chain, group
from conveyor.testing import run_until_idle
from tests.acceptance.blind_p.support import client
from tests.acceptance.support import record_of


def _math(app: Conveyor) -> tuple[Any, Any, Any]:
    @app.job
    def add(x, y=1):
        return x + y

    @app.job
    def total(numbers):
        return sum(numbers)

    @app.job(retry=Retry(retries=0))
    def refuse(x=None):
        raise Fail(f"refused {x}")

    return add, total, refuse


def test_a_group_of_chains_and_extra_arguments_after_the_handed_on_result(
        app: Conveyor) -> None:
    add, total, _ = _math(app)
    flow = chain(group(chain(add(1), add(y=10)), chain(add(100), add())), total())
    handle = flow.run_now()
    run_until_idle(app)
    assert handle.result(timeout=10) == (1 + 1 + 10) + (100 + 1 + 1)


def test_a_chain_whose_first_member_lacks_its_argument_is_refused(app: Conveyor) -> None:
    add, _, _ = _math(app)
    with pytest.raises(Exception, match="add"):
        chain(add(), add()).run_now()
    assert app.count() == 0


def test_a_failing_member_inside_a_nested_group_stops_the_chain(app: Conveyor) -> None:
    add, total, refuse = _math(app)
    handle = chain(add(1), group(add(), refuse()), total(), add()).run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=10)
    states = {r.job: r.state for r in app.jobs_list(job="total")}
    assert states == {"total": "cancelled"}
    assert [r.state for r in app.jobs_list(job="refuse")] == ["failed"]
    assert app.count(state="completed") == 2  # add(1) and add() in the group


def test_a_cancelled_member_makes_the_chain_raise(app: Conveyor) -> None:
    add, _, _ = _math(app)
    handle = chain(add(1), add(), add()).run_now()
    first = min(r.id for r in app.jobs_list(job="add"))
    app.cancel(first)
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=10)
    assert {r.state for r in app.jobs_list(job="add")} == {"cancelled"}


def test_a_dependent_of_two_waits_for_both(app: Conveyor) -> None:
    add, _, _ = _math(app)
    now, later = add(1).run_now(), add(2).run_in(1, "hour")
    after = add(3).run_now(depends_on=[now, later])
    run_until_idle(app)
    assert record_of(app, now.id).state == "completed"
    dependent = record_of(app, after.id)
    assert dependent.state == "blocked" and sorted(dependent.depends_on) == sorted(
        [now.id, later.id])
    app.cancel(later.id)  # no cascade: a cancelled dependency still cancels dependents
    run_until_idle(app)
    cancelled = record_of(app, after.id)
    assert cancelled.state == "cancelled" and str(later.id) in str(cancelled.error)


def test_a_dependency_that_fails_then_succeeds_on_retry_frees_the_dependent(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=2))
    def shaky(meta):
        if meta.attempt < 3:
            raise RuntimeError(f"attempt {meta.attempt}")
        return "steady"

    @app.job
    def after(x=None):
        return "after"

    first = shaky().run_now()
    second = after().run_now(depends_on=[first])
    run_until_idle(app)
    assert second.result(timeout=10) == "after"
    assert record_of(app, first.id).attempts == 3


def _family(app: Conveyor) -> tuple[Any, Any]:
    @app.job(priority="low")
    def slow_child(n):
        return n * 10

    @app.job(priority="critical")
    def fast_child(n):
        return n

    @app.job
    async def parent(io):
        return await io.run_jobs("kids", [slow_child(1), fast_child(2), slow_child(3)])

    return parent, slow_child


def test_run_jobs_keeps_the_order_given_and_links_both_ways(app: Conveyor) -> None:
    parent, _ = _family(app)
    handle = parent().run_now()
    run_until_idle(app)
    assert handle.result(timeout=10) == [10, 2, 30]
    record = record_of(app, handle.id)
    assert len(record.children) == 3 and record.parent_id is None
    assert {record_of(app, child).parent_id for child in record.children} == {handle.id}
    web = client(app)
    page = web.get(f"/runs/{handle.id}").text
    child = record.children[0]
    assert re.search(rf'href="[^"]*/runs/{child}"', page)
    assert re.search(rf'href="[^"]*/runs/{handle.id}"', web.get(f"/runs/{child}").text)


def test_a_parent_can_catch_a_child_failure(app: Conveyor) -> None:
    _, _, refuse = _math(app)

    @app.job
    async def careful(io):
        try:
            await io.run_job("risky", refuse(7))
        except JobFailed as failed:
            return f"handled: {'refused 7' in str(failed)}"
        return "not reached"

    handle = careful().run_now()
    run_until_idle(app)
    assert handle.result(timeout=10) == "handled: True"


def test_cancel_with_cascade_of_a_chain_member_reaches_every_later_member(
        app: Conveyor) -> None:
    add, _, _ = _math(app)
    handle = chain(add(1), group(add(), add()), add()).run_now()
    first = min(r.id for r in app.jobs_list(job="add"))
    app.cancel(first, cascade=True)
    run_until_idle(app)
    assert {r.state for r in app.jobs_list(job="add")} == {"cancelled"}
    with pytest.raises(JobFailed):
        handle.result(timeout=10)


def test_workflows_are_awaited_in_async_code(app: Conveyor) -> None:
    add, total, refuse = _math(app)

    async def scenario() -> tuple[Any, Any]:
        good = await chain(add(1), group(add(), add(y=5)), total()).run_now()
        bad = await group(add(1), refuse()).run_now()
        await app.run_worker_async(burst=True)
        result = await good.wait(timeout=10)
        with pytest.raises(JobFailed):
            await bad.wait(timeout=10)
        return result, good

    result, handle = asyncio.run(scenario())
    assert result == handle.result(timeout=1) == (2 + 1) + (2 + 5)
