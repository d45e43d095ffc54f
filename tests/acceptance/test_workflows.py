"""SPEC §10 — workflows: durable child runs, dependencies, chain and group, cascading
cancel."""

from __future__ import annotations

import pytest

from conveyor import ConfigurationError, Conveyor, Fail, JobFailed, chain, group
from conveyor.testing import run_until_idle


def _state(app: Conveyor, job_id: object) -> str:
    record = app.get_job(job_id)
    assert record is not None
    return record.state


def test_run_job_and_run_jobs_start_children_and_wait_durably(app: Conveyor) -> None:
    @app.job
    def square(x: int) -> int:
        return x * x

    @app.job
    async def parent(payload: dict[str, int], io: object) -> dict[str, object]:
        one = await io.run_job("one", square(payload["x"]))  # type: ignore[attr-defined]
        many = await io.run_jobs("many", [square(n) for n in range(4)])  # type: ignore[attr-defined]
        none = await io.run_jobs("none", [])  # type: ignore[attr-defined]
        return {"one": one, "many": many, "none": none}

    handle = parent({"x": 12}).run_now()
    run_until_idle(app)
    assert handle.result(timeout=0) == {"one": 144, "many": [0, 1, 4, 9], "none": []}
    record = app.get_job(handle.id)
    assert record is not None and len(record.children) == 5
    children = [app.get_job(c if isinstance(c, int) else c.id) for c in record.children]  # type: ignore[attr-defined]
    assert all(c is not None and c.parent_id == handle.id for c in children)
    assert app.count(job="square") == 5  # replays never start a child twice


def test_a_failed_child_raises_job_failed_in_the_parent(app: Conveyor) -> None:
    @app.job
    def broken() -> None:
        raise Fail("child says no")

    @app.job
    async def parent(io: object) -> str:
        try:
            await io.run_job("child", broken())  # type: ignore[attr-defined]
        except JobFailed as exc:
            return f"caught: {exc}"
        return "not raised"

    handle = parent().run_now()
    run_until_idle(app)
    assert "child says no" in handle.result(timeout=0)


def test_depends_on_blocks_until_dependencies_complete(app: Conveyor) -> None:
    order: list[str] = []

    @app.job
    def step(name: str) -> str:
        order.append(name)
        return name

    a = step("a").run_in(1, "hour")
    b = step("b").run_now()
    c = step("c").run_now(depends_on=[a, b])
    assert _state(app, c.id) == "blocked"
    run_until_idle(app)
    assert order == ["b"] and _state(app, c.id) == "blocked"
    app.cancel(a.id)
    assert _state(app, c.id) == "cancelled"
    assert str(a.id) in str(app.get_job(c.id).error)  # type: ignore[union-attr]


def test_dependents_run_after_and_cascade_failure_down_the_graph(app: Conveyor) -> None:
    @app.job
    def ok() -> str:
        return "ok"

    @app.job
    def bad() -> None:
        raise Fail("bad")

    first = ok().run_now()
    after_first = ok().run_now(depends_on=[first])
    failing = bad().run_now()
    child = ok().run_now(depends_on=[failing])
    grandchild = ok().run_now(depends_on=[child])
    run_until_idle(app)
    assert _state(app, after_first.id) == "completed"
    assert _state(app, child.id) == "cancelled"
    assert _state(app, grandchild.id) == "cancelled"
    assert str(failing.id) in str(app.get_job(child.id).error)  # type: ignore[union-attr]
    late = ok().run_now(depends_on=[failing])
    assert _state(app, late.id) == "cancelled"  # already failed: cancelled at once
    # the same error as a dependent cancelled when its dependency failed
    assert app.get_job(late.id).error == app.get_job(child.id).error  # type: ignore[union-attr]


def test_depends_on_an_unknown_run_is_an_error(sqlite_app: Conveyor) -> None:
    @sqlite_app.job
    def ok() -> None: ...

    with pytest.raises((LookupError, ValueError)):
        ok().run_now(depends_on=[10**9])


@pytest.mark.parametrize("build", [chain, group])
@pytest.mark.parametrize("member", [5, "ab", None, b"x", 1.5])
def test_chain_and_group_refuse_what_is_not_a_job_call(sqlite_app: Conveyor, build: object,
                                                         member: object) -> None:
    @sqlite_app.job
    def ok(x: int = 0) -> int:
        return x

    for members in ((member,), (ok(), member)):
        with pytest.raises(ValueError, match="job calls"):
            build(*members)  # type: ignore[operator]
    assert sqlite_app.count() == 0


def test_chain_passes_each_result_on(app: Conveyor) -> None:
    @app.job
    def start(x: int) -> int:
        return x + 1

    @app.job
    def double(x: int) -> int:
        return 2 * x

    @app.job
    def describe(x: int, suffix: str = "") -> str:
        return f"{x}{suffix}"

    handle = chain(start(1), double(), describe(suffix=" ✓")).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == "4 ✓"


def test_group_runs_in_parallel_and_gives_the_list(app: Conveyor) -> None:
    @app.job
    def square(x: int) -> int:
        return x * x

    handle = group(*(square(n) for n in range(5))).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == [0, 1, 4, 9, 16]


def test_a_group_inside_a_chain_and_nesting(app: Conveyor) -> None:
    @app.job
    def start() -> int:
        return 3

    @app.job
    def add(x: int, n: int = 0) -> int:
        return x + n

    @app.job
    def total(xs: list[int]) -> int:
        return sum(xs)

    handle = chain(start(), group(add(n=1), add(n=2)), total()).run_now()
    run_until_idle(app)
    assert handle.result(timeout=30) == 9
    nested = group(chain(start(), add(n=10)), add(5, n=5)).run_now()
    run_until_idle(app)
    assert nested.result(timeout=30) == [13, 10]


def test_a_failed_member_stops_the_chain(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job
    def first() -> int:
        ran.append("first")
        return 1

    @app.job
    def broken(x: int) -> None:
        raise Fail("member broke")

    @app.job
    def never(x: object) -> None:
        ran.append("never")

    handle = chain(first(), broken(), never()).run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)
    assert ran == ["first"]


def test_retrying_the_failed_member_of_a_chain_carries_the_chain_on(app: Conveyor) -> None:
    down = {"now": True}

    @app.job
    def fetch(url: str) -> str:
        if down["now"]:
            raise RuntimeError("server down")
        return f"<{url}>"

    @app.job
    def parse(html: str) -> int:
        return len(html)

    @app.job
    def store(n: int, table: str = "t") -> str:
        return f"{table}:{n}"

    handle = chain(fetch("a.io"), parse(), store(table="pages")).run_now()
    run_until_idle(app)
    fetched, parsed, stored = handle.ids
    assert [_state(app, i) for i in handle.ids] == ["failed", "cancelled", "cancelled"]
    with pytest.raises(ConfigurationError, match=f"retry run {fetched} first"):
        app.retry(parsed)  # never without its input
    down["now"] = False
    assert app.retry(fetched) is True
    run_until_idle(app)
    assert handle.result(timeout=30) == "pages:6"
    assert app.get_job(stored).args == [6]  # type: ignore[union-attr]


def test_cancel_cascade_reaches_children_and_dependents(app: Conveyor) -> None:
    @app.job
    def held_child() -> None: ...

    @app.job
    async def parent(io: object) -> None:
        await io.run_job("child", held_child())  # type: ignore[attr-defined]

    @app.job
    def after() -> None: ...

    app.pause(job="held_child")  # the child stays queued, its parent waiting
    root = parent().run_now()
    dependent = after().run_now(depends_on=[root])
    run_until_idle(app)
    assert _state(app, root.id) == "waiting"
    children = app.jobs_list(job="held_child")
    assert len(children) == 1 and children[0].parent_id == root.id
    app.cancel(root.id, cascade=True)
    assert _state(app, root.id) == "cancelled"
    assert _state(app, children[0].id) == "cancelled"
    assert _state(app, dependent.id) == "cancelled"
