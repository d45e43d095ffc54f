"""A workflow member that fails an attempt but is retried by its policy has not failed for
good: what depends on it waits (blocked, or a parent waiting) and gets its result, on
every store."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conveyor import Conveyor, Retry, RetryIn, chain
from tests.durable.helpers import finish


def test_a_chain_member_retried_by_its_policy_keeps_the_rest_blocked_then_hands_on(
    app: Conveyor,
) -> None:
    tries: Counter[str] = Counter()

    @app.job
    def step(prev: str, name: str) -> str:
        tries[name] += 1
        if name == "b" and tries[name] == 1:
            raise RuntimeError("b fails its first attempt")
        if name == "c" and tries[name] == 1:
            raise RetryIn(0.01, "seconds")
        return f"{prev}>{name}"

    flow = chain(step("s", name="a"), step(name="b"), step(name="c"), step(name="d")).run_now(
        retry=Retry(retries=2, wait=1.0))
    _, b, c, d = flow.handles()
    app.run_worker(burst=True)
    assert b.state == "scheduled"  # its retry is not due yet: the rest waits for it
    assert (c.state, d.state) == ("blocked", "blocked")
    finish(app, d)
    assert flow.result(timeout=30) == "s>a>b>c>d"
    assert tries == {"a": 1, "b": 2, "c": 2, "d": 1}
    assert [h.state for h in flow.handles()] == ["completed"] * 4


def test_a_child_retried_by_its_policy_is_awaited_to_its_last_attempt(app: Conveyor) -> None:
    tries: Counter[str] = Counter()

    @app.job(retry=Retry(retries=2, wait=0.01))
    def kid(name: str) -> str:
        tries[name] += 1
        if tries[name] == 1:
            raise RuntimeError(f"{name} fails its first attempt")
        return name.upper()

    @app.job
    async def parent(io: Any) -> list[str]:
        results: list[str] = await io.run_jobs("kids", [kid("x"), kid("y")])
        return results

    record = finish(app, parent().run_now())
    assert (record.state, record.result) == ("completed", ["X", "Y"])
    assert tries == {"x": 2, "y": 2}
