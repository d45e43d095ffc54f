"""Blind probes of SPEC §5 and §10: versions, child arguments, workflow handles, fan-out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry, chain, group
from tests.acceptance.blind_durable.support import (
    START,
    error_of,
    rec,
)
from tests.conformance.helpers import ManualClock, drain


def test_ctx_names_the_run_and_the_job(app: Conveyor) -> None:
    @app.job("ctx-ü-job")
    async def flow(io: Any, ctx: Any) -> Any:
        return [ctx.run_id, ctx.job_id, ctx.trigger]

    h = flow().run_now()
    drain(app)
    assert h.result(timeout=30) == [h.id, "ctx-ü-job", {"type": "invoke"}]


def _clock_for_apps_in_turn(store_url: str) -> ManualClock:
    """The clock of apps opened one after another on one store (not a memory store: its
    jobs live only in its app)."""
    if store_url.startswith("memory"):
        pytest.skip("a memory store lives only in its app")
    return ManualClock(START)


def test_an_old_version_keeps_replaying_its_own_code(store_url: str) -> None:
    async def v1_code(io: Any) -> str:
        """Version 1.0.0: deployed first, then kept by the next deployment."""
        await io.task("load", lambda: "v1-load")
        await io.wait("nap", 1, "day")
        return "v1 done"

    clock = _clock_for_apps_in_turn(store_url)
    with Conveyor(store_url, clock=clock) as old:
        v1 = old.job("evolving", version="1.0.0")(v1_code)
        waiting = v1().run_now()
        drain(old)
        assert rec(old, waiting).state == "waiting"
    clock.advance(days=1)
    with Conveyor(store_url, clock=clock) as new:
        @new.job("evolving", version="2.0.0")
        async def v2(io: Any) -> str:
            await io.task("fetch", lambda: "v2")
            return "v2 done"

        new.job_version("evolving", "1.0.0")(v1_code)
        fresh = v2().run_now()
        drain(new)
        assert rec(new, waiting.id).result == "v1 done"
        assert fresh.result(timeout=30) == "v2 done"
        assert rec(new, fresh).version == "2.0.0" and rec(new, waiting).version == "1.0.0"


def test_an_unregistered_old_version_fails_naming_both(store_url: str) -> None:
    clock = _clock_for_apps_in_turn(store_url)
    with Conveyor(store_url, clock=clock) as old:
        @old.job("evolving", version="1.0.0")
        async def v1(io: Any) -> str:
            await io.wait("nap", 1, "day")
            return "v1"

        h = v1().run_now()
        drain(old)
    clock.advance(days=1)
    with Conveyor(store_url, clock=clock) as new:
        @new.job("evolving", version="1.1.0")
        async def v11(io: Any) -> str:
            await io.task("other", lambda: 1)
            return "v1.1"

        drain(new)
        assert rec(new, h).state == "failed"
        text = error_of(new, h)
        assert "1.0.0" in text and "1.1.0" in text


def test_a_child_call_with_wrong_arguments_fails_the_parent_and_stores_nothing(
        app: Conveyor) -> None:
    @app.job
    def kid(a: int, b: int) -> int:
        return a + b

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid(1))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert app.jobs_list(job="kid") == []


def test_the_same_call_twice_in_run_jobs_starts_two_children(app: Conveyor) -> None:
    @app.job
    def kid(n: int) -> int:
        return n

    @app.job
    async def parent(io: Any) -> Any:
        call = kid(7)
        return await io.run_jobs("pair", [call, call])

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=30) == [7, 7]
    assert len(app.jobs_list(job="kid")) == 2


def test_a_step_key_reused_for_another_child_is_an_error(app: Conveyor) -> None:
    @app.job
    def kid(n: int) -> int:
        return n

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        await io.run_job("k", kid(1))
        return await io.run_job("k", kid(2))

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert len(app.jobs_list(job="kid")) == 1


def test_a_parent_retried_by_policy_after_a_failed_child_starts_no_new_child(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise RuntimeError("kid down")

    @app.job(retry=Retry(retries=2, wait=0))
    async def parent(io: Any) -> None:
        await io.run_job("kid", kid())

    h = parent().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert len(app.jobs_list(job="kid")) == 1


def test_a_retried_child_wakes_its_waiting_parent_with_the_new_result(app: Conveyor) -> None:
    broken = {"on": True}

    @app.job(retry=Retry(retries=0))
    def shaky() -> str:
        if broken["on"]:
            raise RuntimeError("not yet")
        return "fixed"

    @app.job
    def held() -> str:
        return "held"

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [shaky(), held()])

    app.pause(job="held")
    h = parent().run_now()
    drain(app)
    [shaky_rec] = app.jobs_list(job="shaky")
    assert shaky_rec.state == "failed" and rec(app, h).state == "waiting"
    broken["on"] = False
    app.retry(shaky_rec.id)
    drain(app)
    app.resume(job="held")
    drain(app)
    assert h.result(timeout=30) == ["fixed", "held"]
    assert len(app.jobs_list(job="shaky")) == 1


def test_a_non_json_run_output_fails_it_and_a_retry_reruns_no_step(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job(retry=Retry(retries=1, wait=0))
    async def flow(io: Any) -> Any:
        await io.task("once", lambda: calls.append(1))
        return {"when": datetime(2030, 1, 1)}

    h = flow().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "PayloadError" in error_of(app, h) and "when" in error_of(app, h)
    assert calls == [1]


def test_a_wide_fan_out_returns_every_result_in_order(app: Conveyor) -> None:
    @app.job
    def square(n: int) -> int:
        return n * n

    @app.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("many", [square(n) for n in range(150, 0, -1)])

    h = parent().run_now()
    drain(app, concurrency=16)
    assert h.result(timeout=10) == [n * n for n in range(150, 0, -1)]


def test_a_chain_of_a_chain_and_a_group_handle_as_a_dependency(app: Conveyor) -> None:
    @app.job
    def inc(x: int) -> int:
        return x + 1

    @app.job
    def report(xs: Any = None) -> str:
        return "reported"

    nested = chain(chain(inc(0), inc()), inc(), chain(inc(), inc())).run_now()
    g = group(inc(10), inc(20)).run_now()
    after = report().run_now(depends_on=[g])
    assert rec(app, after).state == "blocked"
    drain(app)
    assert nested.result(timeout=10) == 5
    assert after.result(timeout=10) == "reported"
    assert len(nested.ids) == 5


def test_cancelling_a_workflow_handle_cancels_every_unfinished_member(app: Conveyor) -> None:
    @app.job
    def step(x: Any = None) -> int:
        return 1

    flow = chain(step(), step(), group(step(), step())).run_now()
    flow.cancel()
    drain(app)
    assert {rec(app, i).state for i in flow.ids} == {"cancelled"}
    with pytest.raises(JobFailed):
        flow.result(timeout=30)


def test_a_failing_durable_dependency_cancels_its_dependent(capp: Conveyor,
                                                           clock: ManualClock) -> None:
    @capp.job(retry=Retry(retries=0))
    async def durable(io: Any) -> None:
        await io.wait("nap", 1, "hour")
        raise RuntimeError("woke up broken")

    @capp.job
    def after() -> str:
        return "never"

    a = durable().run_now()
    b = after().run_now(depends_on=[a])
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert rec(capp, a).state == "failed"
    assert rec(capp, b).state == "cancelled" and str(a.id) in error_of(capp, b)


def test_a_filtered_trigger_ignores_payloads_that_are_not_objects(capp: Conveyor) -> None:
    got: list[Any] = []
    payloads = ["just text", ["a", "list"], None, 42, [{"kind": "y"}]]

    @capp.job("filtered", trigger=capp.event("shape.any", filter={"kind": ["x"]}))
    async def filtered(p: Any, io: Any) -> None:
        got.append(p)

    @capp.job("unfiltered", trigger=capp.event("shape.any"))
    async def unfiltered(p: Any, io: Any) -> None:
        got.append(["all", p])

    for payload in payloads:
        capp.send_event("shape.any", payload)
    drain(capp)
    assert sorted(map(repr, got)) == sorted(repr(["all", p]) for p in payloads)
