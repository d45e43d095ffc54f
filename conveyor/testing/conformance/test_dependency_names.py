"""What a job cancelled because of a dependency names (SPEC §10), on every store: its own
dependency that failed or was cancelled (the lowest id of several) and, when that one
was cancelled because of another run, that root run too; the same text on every store."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed
from conveyor.stores.base import Outcome
from conveyor.testing.conformance import test_dependencies
from conveyor.testing.conformance.helpers import drain
from conveyor.testing.conformance.test_dependencies import finish, held

graph = test_dependencies.jobs  # the fixture: an app with the jobs plus and boom


def direct(dep: int, state: str) -> str:
    return f"run {dep} (plus), which this job depends on, {state}, so this job was cancelled"


def deep(dep: int, root: int, state: str) -> str:
    return (f"run {dep} (plus), which this job depends on, was cancelled because run {root} "
            f"(plus) {state}, so this job was cancelled")


def error_of(app: Conveyor, job_id: int) -> dict[str, Any]:
    record = app.get_job(job_id)
    assert record is not None and record.state == "cancelled" and record.error is not None
    assert record.error["type"] == "DependencyFailed"
    return record.error


def end(app: Conveyor, job_id: int, how: str) -> None:
    if how == "cancelled":
        assert app.cancel(job_id)
    else:
        finish(app, job_id, "failed")


@pytest.mark.parametrize("how", ["failed", "cancelled"])
@pytest.mark.parametrize("levels", [2, 3, 4])
def test_each_level_of_a_chain_names_its_own_dependency_and_the_root(
    graph: Conveyor, levels: int, how: str,
) -> None:
    handles = [graph.jobs.plus(1).run_now()]
    for _ in range(levels - 1):
        handles.append(graph.jobs.plus(1).run_now(depends_on=[handles[-1]]))
    ids = [h.id for h in handles]
    end(graph, ids[0], how)
    root = ids[0]
    for dep, job_id in pairwise(ids):
        error = error_of(graph, job_id)
        assert (error["dependency"], error["cause"]) == (dep, root)
        assert error["message"] == (direct(root, how) if dep == root else deep(dep, root, how))
    with pytest.raises(JobFailed, match=f"run {ids[-2]} .*run {root}" if levels > 2 else
                       f"run {root}"):
        handles[-1].result(timeout=5)


def test_a_diamond_names_the_lowest_failed_dependency(graph: Conveyor) -> None:
    a = graph.jobs.plus(1).run_now().id
    b, c = (graph.jobs.plus(i).run_now(depends_on=[a]).id for i in (2, 3))
    d = graph.jobs.plus(4).run_now(depends_on=[c, b]).id  # b is lower, though listed last
    e = graph.jobs.plus(5).run_now(depends_on=[c, a]).id  # on the root directly too
    finish(graph, a, "failed")
    for job_id in (b, c):
        assert error_of(graph, job_id)["message"] == direct(a, "failed")
    assert error_of(graph, d)["message"] == deep(b, a, "failed")
    assert (error_of(graph, d)["dependency"], error_of(graph, d)["cause"]) == (b, a)
    assert error_of(graph, e)["message"] == direct(a, "failed")
    assert error_of(graph, e)["dependency"] == a


def test_dependencies_failed_in_one_write_name_the_lowest(graph: Conveyor) -> None:
    a, b = graph.jobs.plus(1).run_now().id, graph.jobs.plus(2).run_now().id
    c = graph.jobs.plus(3).run_now(depends_on=[b, a]).id
    d = graph.jobs.plus(4).run_now(depends_on=[c]).id
    held.update({j.id: j.token for j in graph.store.claim("test", None, 100, 30.0)})
    error = '{"type": "RuntimeError", "message": "no", "traceback": null}'
    now = graph.store.now()
    graph.store.complete([Outcome(i, held[i], "failed", now, error=error) for i in (b, a)])
    assert error_of(graph, c)["message"] == direct(a, "failed")
    assert error_of(graph, d)["message"] == deep(c, a, "failed")


@pytest.mark.parametrize("how", ["failed", "cancelled"])
def test_a_dependency_broken_before_the_trigger_is_named(graph: Conveyor, how: str) -> None:
    a = graph.jobs.boom().run_now() if how == "failed" else graph.jobs.plus(1).run_now()
    b = graph.jobs.plus(2).run_now(depends_on=[a])
    if how == "failed":
        drain(graph)
    else:
        graph.cancel(a.id)
    root = f"run {a.id} (boom)" if how == "failed" else f"run {a.id} (plus)"
    later = graph.jobs.plus(3).run_now(depends_on=[b])
    error = error_of(graph, later.id)
    assert (error["dependency"], error["cause"]) == (b.id, a.id)
    assert error["message"] == (f"run {b.id} (plus), which this job depends on, was "
                                f"cancelled because {root} {how}, so this job was cancelled")
    both = graph.jobs.plus(4).run_now(depends_on=[b, a])  # the lowest id: the root
    assert error_of(graph, both.id)["dependency"] == a.id
    assert root in error_of(graph, both.id)["message"]
    below = graph.jobs.plus(5).run_now(depends_on=[later])
    assert error_of(graph, below.id)["message"] == deep(later.id, a.id, how).replace(
        f"run {a.id} (plus)", root)


def test_cancel_jobs_matching_a_chain_cancels_the_matched_and_names_the_nearest(
        graph: Conveyor) -> None:
    """A job the filter matches is cancelled by the user (no error), even when one it
    depends on is matched too; a dependent left out names its dependency and the nearest
    matched run above it as the cause, on every store."""
    heard: list[int] = []
    graph.on("cancelled")(lambda record: heard.append(record.id))
    a = graph.jobs.plus(1).run_now(key="k").id
    b = graph.jobs.plus(2).run_now(depends_on=[a], key="k").id
    c = graph.jobs.plus(3).run_now(depends_on=[b]).id
    d = graph.jobs.plus(4).run_now(depends_on=[c]).id
    assert graph.cancel_jobs(key="k") == 2
    assert heard == [a, b, c, d]  # the matched, then each one's cascade: each once
    for job_id in (a, b):
        record = graph.get_job(job_id)
        assert record is not None and (record.state, record.error) == ("cancelled", None)
    assert (error_of(graph, c)["dependency"], error_of(graph, c)["cause"]) == (b, b)
    assert error_of(graph, c)["message"] == direct(b, "cancelled")
    assert (error_of(graph, d)["dependency"], error_of(graph, d)["cause"]) == (c, b)
    assert error_of(graph, d)["message"] == deep(c, b, "cancelled")


def test_cancel_jobs_matching_part_of_a_fan_out(graph: Conveyor) -> None:
    root = graph.jobs.plus(0).run_now(key="f").id
    kids = [graph.jobs.plus(i).run_now(depends_on=[root], key="f" if i % 2 else None).id
            for i in range(4)]
    below = {k: graph.jobs.plus(9).run_now(depends_on=[k]).id for k in kids}
    both = graph.jobs.plus(8).run_now(depends_on=[kids[1], root]).id  # two matched
    assert graph.cancel_jobs(key="f") == 3
    for job_id in (root, kids[1], kids[3]):
        record = graph.get_job(job_id)
        assert record is not None and (record.state, record.error) == ("cancelled", None)
    for kid in (kids[0], kids[2]):
        assert error_of(graph, kid)["message"] == direct(root, "cancelled")
        assert (error_of(graph, below[kid])["dependency"],
                error_of(graph, below[kid])["cause"]) == (kid, root)
        assert error_of(graph, below[kid])["message"] == deep(kid, root, "cancelled")
    for kid in (kids[1], kids[3]):
        assert (error_of(graph, below[kid])["dependency"],
                error_of(graph, below[kid])["cause"]) == (kid, kid)
        assert error_of(graph, below[kid])["message"] == direct(kid, "cancelled")
    assert (error_of(graph, both)["dependency"], error_of(graph, both)["cause"]) == (root, root)
    assert graph.cancel_jobs(key="f") == 0
