"""SPEC §10: durable child runs (io.run_job / io.run_jobs) with failing, retried and
cancelled children; replays never start a child twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conveyor import Conveyor, Fail, JobFailed
from conveyor.testing import run_until_idle

from ..support import record_of
from .test_durable_stress import ODD_VALUES


def children_of(app: Conveyor, parent_id: int) -> list[Any]:
    return [r for r in app.jobs_list() if r.parent_id == parent_id]


def test_a_failed_child_raises_job_failed_in_the_parent_which_may_handle_it(
    app: Conveyor,
) -> None:
    started: Counter[Any] = Counter()

    @app.job(retry=0)
    def child(n: int) -> Any:
        started[n] += 1
        if n == 2:
            raise Fail("child two refuses")
        return ODD_VALUES[n]

    @app.job(retry=0)
    async def parent(payload: Any, io: Any) -> dict[str, Any]:
        try:
            await io.run_jobs("all", [child(n) for n in range(5)])
        except JobFailed as exc:
            caught = str(exc)
        else:
            caught = ""
        rest = await io.run_jobs("rest", [child(n) for n in (0, 1, 3, 4)])
        one = await io.run_job("one", child(6))
        return {"caught": caught, "rest": rest, "one": one}

    handle = parent(None).run_now()
    run_until_idle(app)
    result = handle.result(timeout=30)
    assert "child two refuses" in result["caught"] or "2" in result["caught"], result
    assert result["rest"] == [ODD_VALUES[n] for n in (0, 1, 3, 4)]
    assert result["one"] == ODD_VALUES[6]
    assert started == Counter({0: 2, 1: 2, 2: 1, 3: 2, 4: 2, 6: 1})
    assert len(children_of(app, handle.id)) == 10


def test_an_unhandled_child_failure_fails_the_parent_naming_it(app: Conveyor) -> None:
    @app.job(retry=0)
    def broken(n: int) -> None:
        raise ValueError(f"broken {n}")

    @app.job(retry=0)
    async def parent(payload: Any, io: Any) -> Any:
        return await io.run_job("only", broken(7))

    handle = parent(None).run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error["type"] == "JobFailed", record.error
    (child,) = children_of(app, handle.id)
    assert child.state == "failed"
    assert str(child.id) in record.error["message"] or "broken 7" in record.error["message"]


def test_a_retried_child_hands_back_its_later_result_in_order(app: Conveyor) -> None:
    started: Counter[int] = Counter()

    @app.job(retry=2)
    def flaky(n: int, meta: Any) -> int:
        started[n] += 1
        if n % 2 and meta.attempt == 1:
            raise RuntimeError("first attempt of an odd child fails")
        return n * n

    @app.job
    async def parent(payload: Any, io: Any) -> list[int]:
        return await io.run_jobs("squares", [flaky(n) for n in range(6)])

    handle = parent(None).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == [0, 1, 4, 9, 16, 25]
    assert started == Counter({0: 1, 1: 2, 2: 1, 3: 2, 4: 1, 5: 2})


def test_a_child_cancelled_from_outside_fails_the_waiting_parent(app: Conveyor) -> None:
    @app.job
    def later(n: int) -> int:
        return n

    @app.job(retry=0)
    async def parent(payload: Any, io: Any) -> Any:
        return await io.run_job("delayed", later(1))

    handle = parent(None).run_now()
    app.pause(job="later")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    (child,) = children_of(app, handle.id)
    assert app.cancel(child.id)
    app.resume(job="later")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "failed"
    assert record_of(app, child.id).state == "cancelled"


def test_cascade_cancel_of_a_waiting_parent_ends_its_children(app: Conveyor) -> None:
    @app.job
    def later(n: int) -> int:
        return n

    @app.job
    async def parent(payload: Any, io: Any) -> Any:
        return await io.run_jobs("pair", [later(1), later(2)])

    handle = parent(None).run_now()
    app.pause(job="later")
    run_until_idle(app)
    assert app.cancel(handle.id, cascade=True)
    app.resume(job="later")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "cancelled"
    assert [c.state for c in children_of(app, handle.id)] == ["cancelled", "cancelled"]
