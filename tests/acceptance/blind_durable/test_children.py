"""Blind acceptance tests of SPEC §10: durable child runs; every store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

import conveyor
from conveyor import Conveyor, JobFailed, Retry
from tests.acceptance.blind_durable.support import (
    child_ids,
    error_of,
    rec,
)
from tests.conformance.helpers import ManualClock, drain


def test_nested_child_runs_three_levels_deep(app: Conveyor) -> None:
    @app.job("leaf-ü")
    def leaf(n: int) -> int:
        return n + 1

    @app.job
    async def middle(n: int, io: Any) -> int:
        return sum(await io.run_jobs("leaves", [leaf(n), leaf(n * 10)]))

    @app.job
    async def top(io: Any) -> Any:
        a = await io.run_job("m1", middle(1))
        b = await io.run_job("m2", middle(a))
        return [a, b]

    h = top().run_now()
    drain(app)
    assert h.result(timeout=10) == [13, 13 + 1 + 130 + 1]
    top_rec = rec(app, h)
    middles = [rec(app, c) for c in child_ids(top_rec)]
    assert [m.parent_id for m in middles] == [h.id, h.id]
    leaves = [rec(app, c) for m in middles for c in child_ids(m)]
    assert len(leaves) == 4 and {lf.parent_id for lf in leaves} == {m.id for m in middles}
    assert len(app.jobs_list(job="middle")) == 2


def test_a_failing_child_raises_job_failed_the_parent_can_catch(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise RuntimeError("kid broke ✗")

    @app.job
    async def parent(io: Any) -> Any:
        try:
            await io.run_job("kid", kid())
        except JobFailed as exc:
            return {"id": exc.job_id, "state": exc.state, "msg": str(exc)}
        return "no error"

    h = parent().run_now()
    drain(app)
    out = h.result(timeout=10)
    [kid_rec] = app.jobs_list(job="kid")
    assert out["id"] == kid_rec.id and out["state"] == "failed"
    assert "kid broke" in out["msg"]


def test_an_uncaught_failing_child_fails_the_parent(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise conveyor.Fail("nope")

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> None:
        await io.run_job("kid", kid())

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "JobFailed" in error_of(app, h)
    with pytest.raises(JobFailed):
        h.result(timeout=30)


def test_run_jobs_waits_for_all_then_raises_for_the_first_failure_in_order(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def maybe(n: int) -> int:
        if n in (2, 4):
            raise ValueError(f"bad {n}")
        return n

    @app.job
    async def parent(io: Any) -> Any:
        try:
            await io.run_jobs("all", [maybe(n) for n in range(6)])
        except JobFailed as exc:
            return exc.job_id
        return None

    h = parent().run_now()
    drain(app)
    failed_id = h.result(timeout=10)
    kids = sorted(app.jobs_list(job="maybe"), key=lambda r: r.id)
    assert [k.state for k in kids] == ["completed", "completed", "failed", "completed",
                                       "failed", "completed"]
    assert failed_id == kids[2].id


def test_a_child_that_succeeds_on_retry_gives_the_parent_its_result(capp: Conveyor,
                                                                    clock: ManualClock) -> None:
    @capp.job(retry=Retry(retries=2, wait=60))
    def wobbly(meta: Any) -> int:
        if meta.attempt < 3:
            raise OSError("try again")
        return int(meta.attempt)

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", wobbly())

    h = parent().run_now()
    for _ in range(3):
        drain(capp)
        assert rec(capp, h).state in ("waiting", "completed")
        clock.advance(seconds=61)
    drain(capp)
    assert h.result(timeout=30) == 3
    assert len(capp.jobs_list(job="wobbly")) == 1


def test_replays_never_start_a_child_twice(capp: Conveyor, clock: ManualClock) -> None:
    runs: list[int] = []

    @capp.job
    def kid(n: int) -> int:
        runs.append(n)
        return n

    @capp.job
    async def parent(io: Any) -> Any:
        a = await io.run_job("one", kid(1))
        await io.wait("nap", 1, "day")
        b = await io.run_jobs("two", [kid(2), kid(3)])
        await io.wait("nap2", 1, "day")
        return [a, *b]

    h = parent().run_now()
    for _ in range(3):
        drain(capp)
        clock.advance(days=1)
    drain(capp)
    assert h.result(timeout=30) == [1, 2, 3]
    assert sorted(runs) == [1, 2, 3]
    assert len(capp.jobs_list(job="kid")) == 3


def test_cancelling_a_waiting_parent_with_cascade_cancels_its_children(
        app: Conveyor) -> None:
    @app.job
    def slow_kid(n: int) -> int:
        return n

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [slow_kid(1), slow_kid(2)])

    app.pause(job="slow_kid")
    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "waiting"
    app.cancel(h.id, cascade=True)
    app.resume(job="slow_kid")
    drain(app)
    assert rec(app, h).state == "cancelled"
    assert {k.state for k in app.jobs_list(job="slow_kid")} == {"cancelled"}
    with pytest.raises(JobFailed):
        h.result(timeout=30)


def test_cancelling_the_child_raises_job_failed_in_the_parent(app: Conveyor) -> None:
    @app.job
    def kid() -> int:
        return 1

    @app.job
    async def parent(io: Any) -> Any:
        try:
            return await io.run_job("kid", kid())
        except JobFailed as exc:
            return exc.state

    app.pause(job="kid")
    h = parent().run_now()
    drain(app)
    [kid_rec] = app.jobs_list(job="kid")
    app.cancel(kid_rec.id)
    drain(app)
    assert h.result(timeout=30) == "cancelled"


def test_child_payloads_and_results_with_unicode_and_big_values(app: Conveyor) -> None:
    big = {"text": "ü🎉" * 50_000, "nested": [[["deep"]]]}

    @app.job("子")
    def kid(payload: Any) -> Any:
        return {"len": len(payload["text"]), "echo": payload["nested"]}

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_job("子-step-🔑" * 50, kid(big))

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=10) == {"len": 100_000, "echo": [[["deep"]]]}


def test_a_child_payload_json_cannot_hold_fails_the_parent_clearly(app: Conveyor) -> None:
    @app.job
    def kid(x: Any) -> Any:
        return x

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid({"when": datetime(2030, 1, 1)}))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "when" in error_of(app, h)
    assert app.jobs_list(job="kid") == []
