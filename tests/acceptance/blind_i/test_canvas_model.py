"""SPEC §10 chains and groups as a model, on every store: any nesting of
``conveyor.chain`` and ``conveyor.group`` (members written without the argument they
receive) gives the result a plain evaluation of the same tree gives: a chain hands each
result to the next member as its first argument, a group gives its input to every member
and hands on the list of their results; every member is an ordinary job record."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, chain, group
from conveyor.testing import run_until_idle

FIXTURE_REUSED = settings(
    max_examples=8, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def total(x: Any) -> int:
    return sum(map(total, x)) if isinstance(x, list) else int(x)


def plus(x: Any, k: int) -> int:
    """The job's body: a number, or the sum of nested lists of them, plus ``k``."""
    return total(x) + k


@st.composite
def trees(draw: st.DrawFn, receives: bool, depth: int = 0) -> tuple[Any, ...]:
    """("leaf", k, own) | ("chain", members) | ("group", members); ``own`` is the leaf's
    own first argument when it receives none."""
    kind = draw(st.sampled_from(["leaf"] if depth >= 3 else ["leaf", "leaf", "chain", "group"]))
    if kind == "leaf":
        return ("leaf", draw(st.integers(-3, 3)), None if receives else draw(st.integers(0, 9)))
    size = draw(st.integers(1, 3))
    if kind == "group":
        return ("group", [draw(trees(receives, depth + 1)) for _ in range(size)])
    return ("chain", [draw(trees(receives or i > 0, depth + 1)) for i in range(size)])


def evaluate(tree: tuple[Any, ...], given: Any = None) -> Any:
    if tree[0] == "leaf":
        return plus(tree[2] if tree[2] is not None else given, tree[1])
    if tree[0] == "group":
        return [evaluate(member, given) for member in tree[1]]
    result = given
    for member in tree[1]:
        result = evaluate(member, result)
    return result


def build(tree: tuple[Any, ...], job: Any) -> Any:
    if tree[0] == "leaf":
        return job(k=tree[1]) if tree[2] is None else job(tree[2], k=tree[1])
    parts = [build(member, job) for member in tree[1]]
    return chain(*parts) if tree[0] == "chain" else group(*parts)


def leaves(tree: tuple[Any, ...]) -> int:
    return 1 if tree[0] == "leaf" else sum(leaves(member) for member in tree[1])


@FIXTURE_REUSED
@given(tree=trees(receives=False).filter(lambda t: t[0] != "leaf"))
def test_a_nested_canvas_gives_what_its_tree_evaluates_to(
    app: Conveyor, tree: tuple[Any, ...]
) -> None:
    name = f"plus-{len(app.jobs)}"
    app.job(name)(plus)
    handle = build(tree, app.jobs[name]).run_now()
    run_until_idle(app)
    assert handle.result(timeout=10) == evaluate(tree), tree
    records = app.jobs_list(job=name, limit=100)
    assert len(records) == leaves(tree)
    assert {r.state for r in records} == {"completed"}
