"""Poison jobs (SPEC §4): a job whose worker dies holding it alone, three times, fails for
good; one that died with others on its worker survives more rescues.

These tests drive the Store protocol directly: they play the part of a worker that stalled
or died, which a real worker never does on purpose.
"""

from __future__ import annotations

import json
import time

from conveyor import Conveyor
from conveyor.stores.base import POISON_RESCUES, SHARED_RESCUES, Outcome

from .helpers import claim_and_expire, insert_job


def test_a_job_rescued_three_times_in_a_row_fails_as_poison(app: Conveyor) -> None:
    job_id = insert_job(app, max_attempts=10)
    for rescue in range(1, POISON_RESCUES + 1):
        claim_and_expire(app, f"victim-{rescue}")
        assert app.store.rescue() == 1
        state = app.get_job(job_id).state  # type: ignore[union-attr]
        assert state == ("failed" if rescue == POISON_RESCUES else "queued")
    record = app.get_job(job_id)
    assert record is not None
    assert record.attempts == POISON_RESCUES and record.finished_at is not None
    assert record.error is not None and record.error["type"] == "PoisonJob"
    assert f"rescued {POISON_RESCUES} times in a row" in record.error["message"]
    assert [a.error["type"] for a in record.history] == ["LeaseExpired"] * POISON_RESCUES  # type: ignore[index]
    assert app.store.claim("next-worker", None, 1, 30) == []


def test_jobs_whose_worker_died_holding_others_too_survive_more_rescues(
    app: Conveyor,
) -> None:
    """Three deaths of a worker holding several jobs (a kill -9 from outside, say) fail
    none of them: any may have killed it. A job that keeps killing workers it shares is
    still failed, after SHARED_RESCUES."""
    ids = [insert_job(app, max_attempts=20) for _ in range(3)]
    for rescue in range(1, SHARED_RESCUES + 1):
        assert len(app.store.claim(f"victim-{rescue}", None, 3, 0.05)) == 3
        time.sleep(0.1)
        assert app.store.rescue() == 3
        states = {app.get_job(i).state for i in ids}  # type: ignore[union-attr]
        assert states == ({"failed"} if rescue == SHARED_RESCUES else {"queued"}), rescue
    record = app.get_job(ids[0])
    assert record is not None and record.error is not None
    assert record.error["type"] == "PoisonJob" and record.attempts == SHARED_RESCUES


def test_a_job_whose_worker_still_holds_a_later_claim_is_not_alone(app: Conveyor) -> None:
    """The worker claimed another job after this one (its lease expires later, in another
    rescue pass): this job was not alone on it, and three such rescues fail nothing."""
    job_id = insert_job(app, max_attempts=20)
    for rescue in range(POISON_RESCUES):
        app.store.claim("victim", None, 1, 0.05)
        later = insert_job(app, max_attempts=20)
        app.store.claim("victim", None, 1, 30)
        time.sleep(0.1)
        assert app.store.rescue() == 1
        assert app.get_job(job_id).state == "queued", rescue  # type: ignore[union-attr]
        app.cancel(later)


def _claim_first_then_later(app: Conveyor, worker: str, first: int, later: int) -> None:
    """``worker`` claims ``first`` (a short lease), then ``later`` (a longer one), and
    stops heartbeating: ``first``'s lease has expired on return, ``later``'s has not."""
    assert [j.id for j in app.store.claim(worker, None, 1, 0.05)] == [first]
    assert [j.id for j in app.store.claim(worker, None, 1, 0.25)] == [later]
    time.sleep(0.1)


def test_a_job_claimed_after_its_workers_other_jobs_expired_is_not_alone(
    app: Conveyor,
) -> None:
    """The worker claimed this job after its last heartbeat renewed its other one, then
    died: the other lease expires first and is rescued in an earlier pass, yet this job
    was not alone on that worker either, and three such deaths fail nothing."""
    first = insert_job(app, max_attempts=20, priority=10)
    later = insert_job(app, max_attempts=20)
    for rescue in range(POISON_RESCUES):
        _claim_first_then_later(app, f"victim-{rescue}", first, later)
        assert app.store.rescue() == 1  # the first job, while the later one still runs
        time.sleep(0.2)
        assert app.store.rescue() == 1
        states = [app.get_job(i).state for i in (first, later)]  # type: ignore[union-attr]
        assert states == ["queued", "queued"], rescue


def test_a_job_rescued_then_completed_elsewhere_still_counts_for_its_dead_worker(
    app: Conveyor,
) -> None:
    """The dead worker's first job is rescued, then runs and completes on another worker
    before the later claim's lease expires: the later job was still not alone on the
    worker that died (a rescued job's end does not unmark whom it was rescued from)."""
    first = insert_job(app, max_attempts=20, priority=10)
    later = insert_job(app, max_attempts=20)
    for rescue in range(POISON_RESCUES):
        _claim_first_then_later(app, f"victim-{rescue}", first, later)
        assert app.store.rescue() == 1
        (again,) = app.store.claim("healthy", None, 1, 30)
        assert again.id == first
        assert app.store.complete([Outcome(first, again.token, "completed", time.time())])
        time.sleep(0.2)
        assert app.store.rescue() == 1
        assert app.get_job(later).state == "queued", rescue  # type: ignore[union-attr]
        app.store.retry_jobs([first])


def test_a_worker_that_outlived_the_rescue_of_its_jobs_later_dies_alone(
    app: Conveyor,
) -> None:
    """A worker stalled past its lease (its job was rescued) but did not die: it
    heartbeats again. When it later dies holding one job alone, that job was alone on it
    (the job rescued before is not counted with it), and three such deaths fail it."""
    poison = insert_job(app, max_attempts=20)
    for death in range(POISON_RESCUES):
        worker = f"stalled-{death}"
        other = insert_job(app, max_attempts=20, priority=10)
        assert [j.id for j in app.store.claim(worker, None, 1, 0.05)] == [other]
        time.sleep(0.1)
        assert app.store.rescue() == 1
        assert app.store.heartbeat(worker, {}, 30) == set()  # alive after all
        app.cancel(other)
        assert [j.id for j in app.store.claim(worker, None, 1, 0.05)] == [poison]
        time.sleep(0.1)
        assert app.store.rescue() == 1  # it died holding the poison job alone
    record = app.get_job(poison)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["type"] == "PoisonJob"


def test_alone_and_shared_rescues_add_up_toward_poison(app: Conveyor) -> None:
    job_id = insert_job(app, max_attempts=20)
    other = insert_job(app, max_attempts=20)
    shared = SHARED_RESCUES - SHARED_RESCUES // POISON_RESCUES * (POISON_RESCUES - 1)
    for _ in range(shared):  # with the other job
        app.store.claim("victim", None, 2, 0.05)
        time.sleep(0.1)
        app.store.rescue()
    app.cancel(other)
    for _ in range(POISON_RESCUES - 2):
        claim_and_expire(app)
        app.store.rescue()
    assert app.get_job(job_id).state == "queued"  # type: ignore[union-attr]
    claim_and_expire(app)
    app.store.rescue()
    assert app.get_job(job_id).state == "failed"  # type: ignore[union-attr]


def test_a_finished_attempt_resets_the_poison_count(app: Conveyor) -> None:
    job_id = insert_job(app, max_attempts=10)
    for _ in range(POISON_RESCUES - 1):
        claim_and_expire(app)
        app.store.rescue()
    (claimed,) = app.store.claim("worker", None, 1, 30)
    error = json.dumps({"type": "RuntimeError", "message": "ordinary failure"})
    app.store.complete([Outcome(job_id, claimed.token, "pending", time.time(), error=error)])
    for _ in range(POISON_RESCUES - 1):
        claim_and_expire(app)
        app.store.rescue()
    assert app.get_job(job_id).state == "queued"  # type: ignore[union-attr]
