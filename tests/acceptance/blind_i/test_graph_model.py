"""SPEC §10 dependencies as a model, on every store: any graph of plain jobs triggered
with ``depends_on`` (some failing for good, some cancelled before they run) ends with
each job completed when it and all its dependencies completed, else cancelled with an
error naming a dependency that did not complete; a dependent never starts before its
dependencies have completed. Retrying the failed ones (which then succeed) carries the
graph on: what the failures cancelled runs, what was cancelled by hand stays cancelled."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor, Fail
from conveyor.testing import run_until_idle

FIXTURE_REUSED = settings(
    max_examples=8, deadline=None, suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@st.composite
def graphs(draw: st.DrawFn) -> list[tuple[list[int], str]]:
    """For each job: the earlier jobs it depends on and what it does (ok, fail, cancel)."""
    size = draw(st.integers(2, 7))
    return [
        (draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else [],
         draw(st.sampled_from(["ok", "ok", "ok", "fail", "cancel"])))
        for i in range(size)
    ]  # fmt: skip


@FIXTURE_REUSED
@given(graph=graphs())
def test_a_dependency_graph_ends_as_the_model_says(
    app: Conveyor, graph: list[tuple[list[int], str]]
) -> None:
    name = f"node-{len(app.jobs)}"
    started: list[int] = []
    fixed: set[int] = set()

    @app.job(name)
    def node(i: int, fails: bool) -> int:
        started.append(i)
        if fails and i not in fixed:
            raise Fail(f"node {i} fails")
        return i

    handles: list[Any] = []
    for i, (deps, does) in enumerate(graph):
        handles.append(node(i, does == "fail").run_now(depends_on=[handles[d] for d in deps]))
    for i, (_, does) in enumerate(graph):
        if does == "cancel":
            app.cancel(handles[i].id)
    run_until_idle(app)

    ids = [h.id for h in handles]
    expected: list[str] = []
    for deps, does in graph:
        blocked = any(expected[d] != "completed" for d in deps)
        if does == "cancel" or blocked:
            expected.append("cancelled")
        else:
            expected.append("failed" if does == "fail" else "completed")
    records = [app.get_job(i) for i in ids]
    assert [r.state if r else None for r in records] == expected, graph
    for i, ((deps, does), record) in enumerate(zip(graph, records, strict=True)):
        assert record is not None
        if expected[i] == "cancelled" and does != "cancel":
            named = {int(n) for n in re.findall(r"\d+", str(record.error))}
            assert named & {ids[d] for d in deps if expected[d] != "completed"}, record.error
        if i in started:
            assert all(started.index(d) < started.index(i) for d in deps)
    assert sorted(started) == [i for i, s in enumerate(expected) if s != "cancelled"]
    _retried(app, graph, ids, expected, fixed)


def _retried(
    app: Conveyor,
    graph: list[tuple[list[int], str]],
    ids: list[int],
    expected: list[str],
    fixed: set[int],
) -> None:
    """Retry every failed job, now succeeding: the jobs its failure cancelled run (a
    failing one among them fails); the hand-cancelled ones and their dependents stay
    cancelled."""
    for i, state in enumerate(expected):
        if state == "failed":
            fixed.add(i)
            assert app.retry(ids[i])
    run_until_idle(app)
    after: list[str] = []
    for i, (deps, does) in enumerate(graph):
        if does == "cancel" or any(after[d] != "completed" for d in deps):
            after.append("cancelled")
        else:  # a failing job reached only now fails: it was not retried
            after.append("failed" if does == "fail" and i not in fixed else "completed")
    assert [getattr(app.get_job(i), "state", None) for i in ids] == after, graph
