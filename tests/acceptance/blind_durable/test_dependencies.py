"""Blind acceptance tests of SPEC §10: dependencies, chains and groups; every store."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry, chain, group
from tests.acceptance.blind_durable.support import rec
from tests.conformance.helpers import ManualClock, drain


def test_a_dependent_of_a_durable_run_waits_out_its_sleep(capp: Conveyor,
                                                          clock: ManualClock) -> None:
    @capp.job
    async def durable(io: Any) -> str:
        await io.wait("nap", 2, "hours")
        return "rested"

    @capp.job
    def after(x: Any = None) -> str:
        return "after"

    a = durable().run_now()
    b = after().run_now(depends_on=[a])
    drain(capp)
    assert rec(capp, b).state == "blocked"
    clock.advance(hours=2)
    drain(capp)
    assert b.result(timeout=30) == "after"


def test_a_group_of_chains_and_a_failing_group_member(app: Conveyor) -> None:
    @app.job
    def start(x: int) -> int:
        return x

    @app.job
    def double(x: int) -> int:
        return 2 * x

    h = group(chain(start(1), double()), chain(start(-5), double(), double())).run_now()
    drain(app)
    assert h.result(timeout=10) == [2, -20]

    @app.job(retry=Retry(retries=0))
    def fails(x: int = 0) -> None:
        raise RuntimeError("member broke")

    @app.job
    def last(xs: Any) -> Any:
        return xs

    flow = chain(start(3), group(double(), fails()), last()).run_now()
    drain(app)
    with pytest.raises(JobFailed):
        flow.result(timeout=10)
    [last_rec] = app.jobs_list(job="last")
    assert last_rec.state == "cancelled"


def test_a_chain_whose_middle_fails_then_is_retried_completes(app: Conveyor) -> None:
    attempts: list[int] = []

    @app.job
    def first(x: int) -> int:
        return x + 1

    @app.job(retry=Retry(retries=0))
    def shaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("once")
        return x * 100

    @app.job
    def final(x: int) -> str:
        return f"got {x}"

    flow = chain(first(1), shaky(), final()).run_now()
    drain(app)
    with pytest.raises(JobFailed):
        flow.result(timeout=30)
    [shaky_rec] = app.jobs_list(job="shaky")
    app.retry(shaky_rec.id)
    drain(app)
    assert flow.result(timeout=10) == "got 200"
    assert attempts == [2, 2]


def test_a_durable_chain_member_receives_the_previous_result(capp: Conveyor,
                                                             clock: ManualClock) -> None:
    @capp.job
    def produce(x: str) -> str:
        return x + "→"

    @capp.job
    async def slow_step(value: str, io: Any) -> str:
        await io.wait("nap", 1, "hour")
        return value + "✓"

    flow = chain(produce("α"), slow_step(), produce()).run_now()
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert flow.result(timeout=30) == "α→✓→"
