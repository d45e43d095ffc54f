"""depends_on, the blocked state, chain and group (SPEC §10), on every store."""

from __future__ import annotations

import pytest

from conveyor import ArgumentsError, ConfigurationError, Conveyor, JobFailed, chain, group
from conveyor.stores.base import Outcome
from conveyor.testing.conformance.helpers import drain

held: dict[int, int] = {}  # lease tokens of jobs claimed by finish()


@pytest.fixture
def jobs(app: Conveyor) -> Conveyor:
    @app.job
    def plus(x: int, y: int = 1) -> int:
        return x + y

    @app.job
    def boom(x: object = None) -> None:
        raise RuntimeError("boom")

    @app.job
    def total(xs: list[int]) -> int:
        return sum(xs)

    return app


def finish(app: Conveyor, job_id: int, state: str = "completed", result: str = "1") -> None:
    """Claim and finish one job by hand (no worker): what a worker's flush does."""
    claimed = {c.id: c.token for c in app.store.claim("test", None, 100, 30.0)}
    held.update(claimed)
    error = '{"type": "RuntimeError", "message": "no", "traceback": null}'
    app.store.complete([Outcome(job_id, held[job_id], state, app.store.now(),
                                result=result if state == "completed" else None,
                                error=None if state == "completed" else error)])


def test_dependent_is_blocked_until_its_dependency_completes(jobs: Conveyor) -> None:
    a = jobs.jobs.plus(1).run_now()
    b = jobs.jobs.plus(2).run_now(depends_on=[a])
    record = jobs.get_job(b.id)
    assert record is not None and record.state == "blocked" and record.depends_on == [a.id]
    assert jobs.get_job(a.id).dependents == [b.id]  # type: ignore[union-attr]
    assert jobs.counts()["blocked"] == 1
    assert jobs.count(state="blocked") == 1
    drain(jobs)
    assert (b.result(timeout=5), jobs.get_job(b.id).state) == (3, "completed")  # type: ignore[union-attr]


def test_blocked_job_is_due_in_the_transaction_that_completes_its_last_dependency(
    jobs: Conveyor,
) -> None:
    a, b = jobs.jobs.plus(1).run_now(), jobs.jobs.plus(2).run_now()
    c = jobs.jobs.plus(3).run_now(depends_on=[a.id, b])
    finish(jobs, a.id)
    assert c.state == "blocked"
    finish(jobs, b.id)
    assert c.state == "queued"  # no worker pass, no scanner: the completing write did it


def test_failed_dependency_cancels_dependents_transitively_naming_the_cause(
    jobs: Conveyor,
) -> None:
    a = jobs.jobs.plus(1).run_now()
    b = jobs.jobs.plus(2).run_now(depends_on=[a])
    c = jobs.jobs.plus(3).run_now(depends_on=[b])
    other = jobs.jobs.plus(4).run_now()
    d = jobs.jobs.plus(5).run_now(depends_on=[c, other])
    finish(jobs, a.id, "failed")
    for dependent in (b, c, d):
        record = jobs.get_job(dependent.id)
        assert record is not None and record.state == "cancelled"
        assert record.error is not None and f"run {a.id}" in record.error["message"]
    assert other.state == "running"  # claimed by finish(), not cancelled
    with pytest.raises(JobFailed, match=f"run {a.id}"):
        d.result(timeout=5)


def test_cancelling_a_dependency_cancels_its_dependents(jobs: Conveyor) -> None:
    a = jobs.jobs.plus(1).run_now()
    b = jobs.jobs.plus(2).run_now(depends_on=[a])
    c = jobs.jobs.plus(3).run_now(depends_on=[b])
    assert jobs.cancel(a.id)
    assert (b.state, c.state) == ("cancelled", "cancelled")


def test_cancelling_many_ids_cancels_each_in_turn_as_one_cancel_would(jobs: Conveyor) -> None:
    heard: list[int] = []
    jobs.on("cancelled")(lambda record: heard.append(record.id))
    done = jobs.jobs.plus(3).run_now()
    finish(jobs, done.id)
    running = jobs.jobs.plus(4).run_now()
    jobs.store.claim("test", None, 1, 30.0)
    a = jobs.jobs.plus(1).run_now()
    b = jobs.jobs.plus(2).run_now(depends_on=[a])
    alone = jobs.jobs.plus(5).run_in(1, "hour")
    many = [h.id for h in jobs.enqueue_many(jobs.jobs.plus(i) for i in range(1100))]
    ids = [a.id, b.id, done.id, running.id, alone.id, *many, a.id, 999_999]
    assert jobs.queries.cancel_many(ids) == {a.id, running.id, alone.id, *many}
    record = jobs.get_job(b.id)  # cancelled by its dependency's cancel, which it names
    assert record is not None and record.state == "cancelled"
    assert record.error is not None and f"run {a.id}" in record.error["message"]
    assert (done.state, running.state, alone.state) == ("completed", "cancelled", "cancelled")
    assert heard.count(b.id) == 1  # cancelled by its dependency's cancel: heard too
    # a running job is reported by its worker
    assert [i for i in heard if i != b.id] == [a.id, alone.id, *many]


def test_a_cancel_reports_each_job_its_cascade_cancelled_once_at_any_depth(
        jobs: Conveyor) -> None:
    heard: list[int] = []
    jobs.on("cancelled")(lambda record: heard.append(record.id))
    plus = jobs.jobs.plus
    a, b = plus(1).run_now(), plus(2).run_now()
    a1 = plus(3).run_now(depends_on=[a])
    a2 = plus(4).run_now(depends_on=[a1])
    both = plus(5).run_now(depends_on=[a2, b])  # below both roots, a's cascade reaches it
    b1 = plus(6).run_now(depends_on=[b])
    b2 = plus(7).run_now(depends_on=[b1, a1])
    assert jobs.queries.cancel_many([a.id, b.id]) == {a.id, b.id}
    # the roots, then each root's cascade by id (b2 and both were cancelled by a's)
    assert heard == [a.id, b.id, a1.id, a2.id, both.id, b2.id, b1.id]


def test_dependency_already_failed_cancels_the_dependent_at_once(jobs: Conveyor) -> None:
    a = jobs.jobs.boom().run_now()
    drain(jobs)
    b = jobs.jobs.plus(1).run_now(depends_on=[a])
    record = jobs.get_job(b.id)
    assert record is not None and record.state == "cancelled"
    assert record.error is not None and f"run {a.id}" in record.error["message"]
    done = jobs.jobs.plus(1).run_now()
    drain(jobs)
    assert jobs.jobs.plus(2).run_now(depends_on=[done]).state == "queued"


def test_unknown_dependency_is_refused_and_nothing_is_stored(jobs: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="no job with id 999999"):
        jobs.jobs.plus(1).run_now(depends_on=[999999])
    with pytest.raises(ConfigurationError, match="depends_on"):
        jobs.jobs.plus(1).run_now(depends_on=["x"])
    assert jobs.count() == 0


def test_cycles_are_impossible_by_construction(jobs: Conveyor) -> None:
    a = jobs.jobs.plus(1).run_now()
    # The id the next job will get: it does not exist yet, so it cannot be depended on,
    # and a stored job never gains dependencies later.
    with pytest.raises(ConfigurationError):
        jobs.jobs.plus(1).run_now(depends_on=[a.id + 1])
    b = jobs.jobs.plus(2).run_now(depends_on=[a])
    assert jobs.get_job(a.id).depends_on == []  # type: ignore[union-attr]
    drain(jobs)
    assert b.result(timeout=5) == 3


def test_chain_hands_each_result_on(jobs: Conveyor) -> None:
    h = chain(jobs.jobs.plus(1), jobs.jobs.plus(), jobs.jobs.plus(y=10)).run_now()
    assert len(h.ids) == 3 and h.id == h.ids[-1]
    records = [jobs.get_job(i) for i in h.ids]
    assert [r.state for r in records if r] == ["queued", "blocked", "blocked"]
    drain(jobs)
    assert h.result(timeout=5) == 13
    assert jobs.get_job(h.ids[1]).args == [2]  # type: ignore[union-attr]


def test_group_results_in_order(jobs: Conveyor) -> None:
    h = group(jobs.jobs.plus(i) for i in range(6)).run_now()
    assert jobs.count(state="queued") == 6
    drain(jobs)
    assert h.result(timeout=5) == [1, 2, 3, 4, 5, 6]


def test_chord_result(jobs: Conveyor) -> None:
    h = chain(jobs.jobs.plus(1), group(jobs.jobs.plus(), jobs.jobs.plus(y=5)),
              jobs.jobs.total()).run_now()
    drain(jobs)
    assert h.result(timeout=5) == 2 + 1 + 2 + 5
    nested = group(chain(jobs.jobs.plus(1), jobs.jobs.plus()), jobs.jobs.plus(7)).run_now()
    drain(jobs)
    assert nested.result(timeout=5) == [3, 8]


def test_failed_member_stops_the_chain(jobs: Conveyor) -> None:
    h = chain(jobs.jobs.plus(1), jobs.jobs.boom(), jobs.jobs.plus(), jobs.jobs.plus()).run_now()
    drain(jobs)
    with pytest.raises(JobFailed):
        h.result(timeout=5)
    states = [jobs.get_job(i).state for i in h.ids]  # type: ignore[union-attr]
    assert states == ["completed", "failed", "cancelled", "cancelled"]


def test_member_without_its_chained_argument_is_valid_only_in_a_chain(jobs: Conveyor) -> None:
    call = jobs.jobs.total()  # total(xs): a chain hands it xs
    with pytest.raises(ArgumentsError, match="total"):
        call.run_now()
    with pytest.raises(ArgumentsError):
        chain(jobs.jobs.total(), jobs.jobs.plus()).run_now()  # the first member gets nothing
    with pytest.raises(ArgumentsError):
        jobs.jobs.plus(1, 2, 3)  # too many even with a chained argument
    assert jobs.count() == 0


def test_workflow_members_are_ordinary_jobs(jobs: Conveyor) -> None:
    h = chain(jobs.jobs.plus(1), jobs.jobs.plus()).run_now(queue="batch", priority="high")
    listed = jobs.jobs_list(queue="batch", newest_first=False)
    assert [r.id for r in listed] == h.ids
    assert listed[1].depends_on == [h.ids[0]]
    drain(jobs)
    assert h.result(timeout=5) == 3
