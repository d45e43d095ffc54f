"""SPEC §12 helpers with durable runs and workflows: inline, run_until_idle, FakeClock and
enqueued, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, Retry, chain, group
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.acceptance.blind_g.support import START, rec


def _pipeline(app: Conveyor) -> tuple[Any, Any, Any]:
    @app.job
    def double(x: int) -> int:
        return 2 * x

    @app.job(retry=Retry(retries=0))
    def explode(x: Any) -> None:
        raise ValueError(f"exploded on {x!r}")

    @app.job
    async def fan(n: int, io: Any) -> Any:
        await io.wait("cool-off", 3, "days")
        return await io.run_jobs("kids", [double(i) for i in range(n)])

    return double, explode, fan


def test_inline_runs_workflows_children_and_dependents_inside_the_call(app: Conveyor) -> None:
    double, _, fan = _pipeline(app)
    with inline(app):
        assert chain(double(1), double(), group(double(), double())).run_now().result(
            timeout=0) == [8, 8]
        assert fan(3).run_now().result(timeout=0) == [0, 2, 4]
        first = double(5).run_now()
        assert double(1).run_now(depends_on=[first]).result(timeout=0) == 2
    assert app.count(state="completed") == app.count()


def test_inline_failures_stop_a_chain_as_a_worker_would(app: Conveyor) -> None:
    double, explode, _ = _pipeline(app)
    with inline(app):
        h = chain(double(1), explode(), double()).run_now()
        with pytest.raises(JobFailed):
            h.result(timeout=0)
    assert [rec(app, i).state for i in h.ids] == ["completed", "failed", "cancelled"]
    error = rec(app, h.ids[1]).error
    assert error is not None and "exploded on 2" in str(error)


def test_inline_keeps_a_run_waiting_for_its_event_until_it_is_sent(app: Conveyor) -> None:
    @app.job
    async def approval(io: Any) -> Any:
        got = await io.wait_for_event("ok", "approved", filter={"doc": [7]})
        return got["payload"]

    with inline(app):
        h = approval().run_now()
        assert rec(app, h).state == "waiting"
        app.send_event("approved", {"doc": 8})
        assert rec(app, h).state == "waiting"
        app.send_event("approved", {"doc": 7})
        assert h.result(timeout=0) == {"doc": 7}


def test_fake_clock_walks_a_durable_fan_out_through_its_days(app: Conveyor) -> None:
    _, _, fan = _pipeline(app)
    with FakeClock(app, start=START) as clock:
        h = fan(2).run_now()
        run_until_idle(app, clock=clock)
        assert rec(app, h).state == "waiting"
        assert clock.advance(3, "days") - timedelta(days=3) == START
        run_until_idle(app, clock=clock)
        assert h.result(timeout=0) == [0, 2]
        assert clock.move_to(START) == START + timedelta(days=3)  # never backwards


def test_fake_clock_drives_a_chain_member_retry(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait="2 hours"))
    def flaky(x: int, meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("first try")
        return x + 1

    with FakeClock(app, start=START) as clock:
        h = chain(flaky(1), flaky()).run_now()
        run_until_idle(app, clock=clock)
        assert rec(app, h.ids[1]).state == "blocked"
        clock.advance(119, "minutes")
        run_until_idle(app, clock=clock)
        assert rec(app, h.ids[0]).state == "scheduled"
        clock.advance(1, "minute")
        run_until_idle(app, clock=clock)
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
    assert h.result(timeout=0) == 3


def test_run_until_idle_refuses_another_apps_clock(app: Conveyor,
                                                  open_app: Any) -> None:
    other = open_app("memory://")
    with FakeClock(other, start=START) as clock, pytest.raises(ValueError):
        run_until_idle(app, clock=clock)


def test_enqueued_lists_every_member_in_any_state_oldest_first(app: Conveyor) -> None:
    double, explode, _ = _pipeline(app)

    @app.job
    def size(order: dict[str, Any]) -> int:
        return len(order["items"])

    h = chain(size({"shop": "ü", "items": [1, 2]}), explode(), double()).run_now()
    assert [r.state for r in enqueued(app)] == ["queued", "blocked", "blocked"]
    assert [r.id for r in enqueued(app, size, shop="ü")] == [h.ids[0]]
    assert [r.id for r in enqueued(app, "double")] == [h.ids[2]]
    run_until_idle(app)
    assert [r.state for r in enqueued(app)] == ["completed", "failed", "cancelled"]
    assert enqueued(app, size, shop="u") == [] and enqueued(app, explode, shop="ü") == []
