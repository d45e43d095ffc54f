"""Blind acceptance tests of SPEC §9 (flow control) and §10 (workflows); every store."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, chain, group
from tests.conformance.helpers import drain


@pytest.mark.parametrize("options", [
    {"concurrency": 0}, {"concurrency": -1}, {"concurrency": 2.5}, {"rate": "0/second"},
    {"rate": "-3/minute"}, {"rate": "5/fortnight"}, {"rate": "ten/second"},
])
def test_nonsense_limits_are_refused_at_definition(sqlite_app: Conveyor,
                                                   options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        sqlite_app.job(**options)(lambda: None)


@pytest.mark.parametrize("options", [{"concurrency": 0}, {"rate": "0/day"}, {"rate": "1/yr"}])
def test_nonsense_queue_limits_are_refused(sqlite_app: Conveyor, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sqlite_app.queue("q", **options)


def test_big_queue_limits_are_shown_as_declared(app: Conveyor) -> None:
    app.queue("ëxports-大", concurrency=10**6, rate="100000/day")
    info = {q.name: q for q in app.queues()}["ëxports-大"]
    assert info.concurrency == 10**6
    assert info.rate == "100000/day"
    assert info.paused is False
    assert all(v == 0 for v in info.counts.values())


def test_concurrency_keys_from_a_dotted_path_and_a_callable(app: Conveyor) -> None:
    @app.job(concurrency=1, concurrency_key="shop.id")
    def by_path(payload: Any) -> None: ...

    @app.job(concurrency=1, concurrency_key=lambda args, kwargs: f"k-{kwargs['n'] % 2}")
    def by_call(n: int) -> None: ...

    a = by_path({"shop": {"id": "ß-7"}}).run_now()
    b = by_call(n=5).run_now()
    assert app.get_job(a.id).concurrency_key == "ß-7"  # type: ignore[union-attr]
    assert app.get_job(b.id).concurrency_key == "k-1"  # type: ignore[union-attr]
    drain(app)
    assert a.result(timeout=10) is None and b.result(timeout=10) is None


def test_a_paused_unicode_job_is_listed_and_held(app: Conveyor) -> None:
    @app.job("тест-job")
    def test_job() -> None: ...

    app.pause(job="тест-job")
    assert "тест-job" in app.paused_jobs()
    h = test_job().run_now()
    drain(app)
    assert app.get_job(h.id).state == "queued"  # type: ignore[union-attr]
    app.resume(job="тест-job")
    assert app.paused_jobs() == []
    drain(app)
    assert app.get_job(h.id).state == "completed"  # type: ignore[union-attr]


def test_depending_on_a_failed_or_cancelled_run_cancels_at_once(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def bad() -> None:
        raise Fail("no")

    @app.job
    def after(x: Any = None) -> None: ...

    h = bad().run_now()
    drain(app)
    dependent = after().run_now(depends_on=[h])
    rec = app.get_job(dependent.id)
    assert rec is not None and rec.state == "cancelled"
    assert str(h.id) in str(rec.error)

    @app.job
    def first() -> None: ...

    a = first().run_in(1, "day")
    app.cancel(a.id)
    b = first().run_now(depends_on=[a])
    rec = app.get_job(b.id)
    assert rec is not None and rec.state == "cancelled" and str(a.id) in str(rec.error)


def test_failure_and_cancel_cascade_down_the_graph(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def root() -> None:
        raise RuntimeError("root broke")

    @app.job
    def step(x: Any = None) -> None: ...

    a = root().run_now()
    b = step().run_now(depends_on=[a])
    c = step().run_now(depends_on=[b])
    assert app.get_job(c.id).state == "blocked"  # type: ignore[union-attr]
    drain(app)
    b_rec, c_rec = app.get_job(b.id), app.get_job(c.id)
    assert b_rec is not None and b_rec.state == "cancelled" and str(a.id) in str(b_rec.error)
    assert c_rec is not None and c_rec.state == "cancelled"
    assert c_rec.depends_on == [b.id] or list(c_rec.depends_on) == [b.id]

    @app.job
    def node(x: Any = None) -> None: ...

    a = node().run_in(1, "hour")
    b = node().run_now(depends_on=[a])
    c = node().run_now(depends_on=[a, b])
    app.cancel(a.id, cascade=True)
    states = [app.get_job(h.id).state for h in (a, b, c)]  # type: ignore[union-attr]
    assert states == ["cancelled"] * 3


def test_a_chain_with_unicode_ids_and_a_nested_group(app: Conveyor) -> None:
    @app.job("çarpma")
    def multiply(x: int, by: int = 2) -> int:
        return x * by

    @app.job("σύνολο")
    def total(xs: list[int]) -> int:
        return sum(xs)

    flow = chain(multiply(3), group(multiply(by=10), multiply(by=-1)), total())
    handle = flow.run_now()
    drain(app)
    assert handle.result(timeout=10) == 60 - 6

    @app.job
    def one(x: int) -> int:
        return x + 1

    c = chain(one(0)).run_now()
    g = group(one(41)).run_now()
    drain(app)
    assert c.result(timeout=10) == 1
    assert g.result(timeout=10) == [42]


def test_run_jobs_of_nothing_and_child_links(app: Conveyor) -> None:
    @app.job
    def child(n: int) -> int:
        return n * n

    @app.job
    async def parent(io: Any) -> Any:
        none = await io.run_jobs("none", [])
        some = await io.run_jobs("some", [child(n) for n in range(-2, 3)])
        return {"none": none, "some": some}

    h = parent().run_now()
    drain(app)
    assert h.result(timeout=10) == {"none": [], "some": [4, 1, 0, 1, 4]}
    rec = app.get_job(h.id)
    assert rec is not None and len(rec.children) == 5
    for child_id in rec.children:
        child_rec = app.get_job(child_id if isinstance(child_id, int) else child_id.id)
        assert child_rec is not None and child_rec.parent_id == h.id
