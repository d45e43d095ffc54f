"""SPEC §10 on both stores with odd-but-valid values: chains passing falsy results on,
groups inside chains, dependencies given as handles or ids (done, failed, duplicated),
cascading cancels, and durable children (none, one failing, never started twice)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, chain, group
from conveyor.testing import FakeClock


@pytest.fixture
def jobs(app: Conveyor) -> dict[str, Any]:
    @app.job("pass ✓")
    def same(x: Any = None) -> Any:
        return x

    @app.job
    def wrap(x: Any) -> list[Any]:
        return [x]

    @app.job
    def total(xs: list[Any]) -> int:
        return sum(len(x) for x in xs)

    @app.job
    def refuse(x: Any = None) -> None:
        raise Fail("refusé ✗")

    return {"same": same, "wrap": wrap, "total": total, "refuse": refuse}


@pytest.mark.parametrize("value", [0, None, "", [], {}, False, "ünï"])
def test_a_chain_hands_on_falsy_and_unicode_results(app: Conveyor, jobs: dict[str, Any],
                                                    value: Any) -> None:
    handle = chain(jobs["same"](value), jobs["same"](), jobs["wrap"]()).run_now()
    app.run_worker(burst=True)
    assert handle.result(timeout=30) == [value]


def test_a_group_inside_a_chain_gets_the_previous_result(app: Conveyor,
                                                         jobs: dict[str, Any]) -> None:
    handle = chain(jobs["same"]("é"), group(jobs["wrap"](), jobs["wrap"](), jobs["same"]()),
                   jobs["total"]()).run_now()
    app.run_worker(concurrency=3, burst=True)
    assert handle.result(timeout=30) == 3  # [["é"], ["é"], "é"]


def test_a_failed_member_stops_the_chain_and_result_raises(app: Conveyor,
                                                           jobs: dict[str, Any]) -> None:
    handle = chain(jobs["same"](1), jobs["refuse"](), jobs["same"]()).run_now()
    app.run_worker(burst=True)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)
    states = sorted(r.state for r in app.jobs_list())
    assert states == ["cancelled", "completed", "failed"]


def test_dependencies_as_handles_ids_and_duplicates(app: Conveyor, jobs: dict[str, Any]) -> None:
    first = jobs["same"]("a").run_now()
    app.run_worker(burst=True)
    second = jobs["same"]("b").run_now()
    dependent = jobs["same"]("c").run_now(depends_on=[first, second.id, second])

    record = app.get_job(dependent.id)
    assert record.state == "blocked" and set(record.depends_on) == {first.id, second.id}
    app.run_worker(burst=True)
    assert dependent.result(timeout=30) == "c"


def test_a_dependency_already_failed_cancels_at_once_naming_it(app: Conveyor,
                                                             jobs: dict[str, Any]) -> None:
    failed = jobs["refuse"]().run_now()
    app.run_worker(burst=True)

    dependent = jobs["same"]("never").run_now(depends_on=[failed])

    record = app.get_job(dependent.id)
    assert record.state == "cancelled" and str(failed.id) in record.error["message"]


def test_a_cancelled_dependency_cancels_down_the_graph(app: Conveyor, jobs: dict[str, Any]) -> None:
    root = jobs["same"](0).run_in(1, "day")
    middle = jobs["same"](1).run_now(depends_on=[root])
    leaf = jobs["same"](2).run_now(depends_on=[middle])

    app.cancel(root.id)

    for handle in (middle, leaf):
        record = app.get_job(handle.id)
        assert record.state == "cancelled" and record.error is not None
    with pytest.raises(JobFailed):
        leaf.result(timeout=30)


def test_durable_children_none_one_failing_and_never_twice(app: Conveyor) -> None:
    clock = FakeClock(app, start=datetime(2027, 1, 1, tzinfo=UTC))
    calls: list[Any] = []

    @app.job
    def child(x: Any) -> Any:
        calls.append(x)
        if x == "✗":
            raise Fail("child ✗")
        return x

    @app.job
    async def parent(io: Any) -> Any:
        none = await io.run_jobs("none", [])
        one = await io.run_job("one", child("ü"))
        await io.wait("nap", 1, "hour")
        try:
            await io.run_jobs("bad", [child(0), child("✗")])
        except JobFailed as failed:
            return [none, one, "✗" in str(failed)]
        return "not reached"

    handle = parent().run_now()
    app.run_worker(burst=True)
    assert app.get_job(handle.id).state == "waiting"
    clock.advance(1, "hour")
    app.run_worker(burst=True)

    assert handle.result(timeout=30) == [[], "ü", True]
    assert sorted(map(str, calls)) == sorted(["ü", "0", "✗"])
    record = app.get_job(handle.id)
    assert len(record.children) == 3
    assert {app.get_job(c).parent_id for c in record.children} == {handle.id}


def test_cascade_cancels_a_waiting_parent_and_its_child(app: Conveyor) -> None:
    @app.job
    def slow(x: int) -> int:
        return x

    @app.job
    async def waits(io: Any) -> int:
        return int(await io.run_job("k", slow(1)))

    app.pause(job="slow")
    handle = waits().run_now()
    app.run_worker(burst=True)
    [kid] = app.get_job(handle.id).children

    app.cancel(handle.id, cascade=True)

    assert [app.get_job(i).state for i in (handle.id, kid)] == ["cancelled", "cancelled"]
