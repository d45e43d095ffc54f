"""cancel_jobs, cancel, retry and the Reaction-style schedule_job (SPEC §3, §4)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from conveyor import Conveyor, JobFailed, JobRecord, UnknownJobError
from conveyor.stores.base import Outcome

from .helpers import drain


@pytest.fixture
def shop(app: Conveyor) -> object:
    @app.job
    def sync_shop(data: Any = None, **kwargs: Any) -> Any:
        return data

    return sync_shop


def test_cancel_jobs_by_type_cancels_only_pending_jobs_of_that_type(app: Conveyor, shop) -> None:
    @app.job
    def other() -> None: ...

    done = shop({"n": 0}).run_now()
    drain(app)
    a, b = shop({"n": 1}).run_now(), shop({"n": 2}).run_in(1, "hour")
    c = other().run_now()
    assert app.cancel_jobs(type="sync_shop") == 2
    assert [h.state for h in (done, a, b, c)] == ["completed", "cancelled", "cancelled", "queued"]


def test_cancel_jobs_matches_a_payload_subset(app: Conveyor, shop) -> None:
    hit = shop({"shop_id": 1, "full": True, "tags": ["a", "b"]}).run_now()
    nested = shop({"shop_id": 1, "opts": {"deep": 1, "x": 2}}).run_now()
    miss = shop({"shop_id": 2}).run_now()
    by_kwargs = shop(shop_id=1, extra="yes").run_now()
    assert app.cancel_jobs(data={"shop_id": 1, "opts": {"deep": 1}}) == 1
    assert nested.state == "cancelled"
    assert app.cancel_jobs(type="sync_shop", data={"shop_id": 1}) == 2
    assert [h.state for h in (hit, miss, by_kwargs)] == ["cancelled", "queued", "cancelled"]


def test_cancel_jobs_payload_match_is_exact_on_types(app: Conveyor, shop) -> None:
    kept = shop({"flag": 1}).run_now()
    assert app.cancel_jobs(data={"flag": True}) == 0
    assert app.cancel_jobs(data={"flag": "1"}) == 0
    assert kept.state == "queued"


def test_cancel_jobs_by_state_owner_and_key(app: Conveyor, shop) -> None:
    queued = shop(1).run_now(owner="u1", key="k1")
    scheduled = shop(2).run_in(1, "hour", owner="u1", key="k1")
    other_owner = shop(3).run_now(owner="u2", key="k1")
    other_key = shop(4).run_now(owner="u1", key="k2")
    system = shop(5).run_now(key="k1")
    assert app.cancel_jobs(state="scheduled") == 1
    assert scheduled.state == "cancelled"
    assert app.cancel_jobs(owner="u1", key="k1") == 1
    assert queued.state == "cancelled"
    assert app.cancel_jobs(owner=0) == 1  # 0 / None = the system's jobs
    assert system.state == "cancelled"
    assert [other_owner.state, other_key.state] == ["queued", "queued"]


def test_cancel_jobs_never_touches_running_or_finished_jobs(app: Conveyor, shop) -> None:
    done = shop(1).run_now()
    drain(app)
    running = shop(2).run_now()
    app.store.claim("live-worker", None, 1, 30)
    assert app.cancel_jobs() == 0
    assert app.cancel_jobs(state="completed") == 0
    assert [done.state, running.state] == ["completed", "running"]


@pytest.mark.parametrize("hooked", [False, True])
def test_cancel_jobs_cancels_a_running_job_whose_worker_is_gone(
    app: Conveyor, shop, hooked: bool
) -> None:
    """Started but its lease expired (the worker died) is pending, as for dedupe: it is
    cancelled, not rescued and run again; a job a live worker holds is left alone."""
    heard: list[int] = []
    if hooked:
        app.on("cancelled")(lambda record: heard.append(record.id))
    stranded = shop({"shop_id": 1}).run_now()
    app.store.claim("dead-worker", None, 1, 0.05)
    alive = shop({"shop_id": 1}).run_now()
    app.store.claim("live-worker", None, 1, 30)
    time.sleep(0.1)
    assert app.cancel_jobs(type="sync_shop", data={"shop_id": 1}) == 1
    assert [stranded.state, alive.state] == ["cancelled", "running"]
    assert heard == ([stranded.id] if hooked else [])
    assert app.store.rescue() == 0
    with pytest.raises(JobFailed, match="cancelled"):
        stranded.result(timeout=0)


def test_cancelled_hooks_hear_each_job_cancel_jobs_cancels_with_its_full_record(
    app: Conveyor, shop
) -> None:
    @app.job
    def other() -> None: ...

    heard: list[JobRecord] = []
    app.on("cancelled")(heard.append)
    upstream = other().run_now()
    first = shop({"n": 1}).run_now()
    blocked = shop({"n": 2}).run_now(depends_on=[upstream])
    later = shop({"n": 3}).run_in(1, "hour")
    downstream = other().run_now(depends_on=[first])
    many = [h.id for h in app.enqueue_many(shop({"n": i}) for i in range(1500))]
    assert app.cancel_jobs(type="sync_shop") == 3 + len(many)
    ids = [r.id for r in heard]
    assert ids.count(downstream.id) == 1  # cancelled by its dependency's cancel: heard too
    heard = [r for r in heard if r.id != downstream.id]
    assert [r.id for r in heard] == [first.id, blocked.id, later.id, *many]
    assert heard[:3] == [app.get_job(h.id) for h in (first, blocked, later)]
    assert heard[0].dependents == [downstream.id] and heard[1].depends_on == [upstream.id]
    assert {r.state for r in heard} == {"cancelled"} and downstream.state == "cancelled"


def test_cancel_jobs_refuses_an_unknown_state(app: Conveyor) -> None:
    with pytest.raises(ValueError, match="unknown job state 'done'; accepted: scheduled, queued"):
        app.cancel_jobs(state="done")


def test_cancel_one_job_by_id(app: Conveyor, shop) -> None:
    h = shop(1).run_in(1, "hour")
    assert app.cancel(h.id) is True
    assert h.state == "cancelled"
    assert app.cancel(h.id) is False  # already finished
    assert app.cancel(999_999) is False
    record = app.get_job(h.id)
    assert record is not None and record.finished_at is not None


def test_cancel_a_running_job_by_id(app: Conveyor, shop) -> None:
    h = shop(1).run_now()
    (claimed,) = app.store.claim("w", None, 1, 30)
    assert app.cancel(h.id) is True
    assert h.state == "cancelled"
    assert app.store.heartbeat("w", {h.id: claimed.token}, 30) == {h.id}
    late = Outcome(h.id, claimed.token, "completed", time.time(), result="1")
    assert app.store.complete([late]) == 0  # the worker's late result changes nothing
    assert h.state == "cancelled"


def test_retry_runs_a_failed_job_again_and_keeps_its_history(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job
    def once_broken(meta: Any) -> int:
        calls.append(meta.attempt)
        if meta.attempt == 1:
            raise RuntimeError("broken the first time")
        return meta.attempt

    h = once_broken().run_now()
    drain(app)
    assert h.state == "failed"
    assert app.retry(h.id) is True
    assert h.state == "queued"
    drain(app)
    assert h.result(timeout=5) == 2
    record = app.get_job(h.id)
    assert record is not None and record.attempts == 2
    assert record.history[0].error is not None
    assert record.history[0].error["message"] == "broken the first time"


def test_retry_runs_a_cancelled_job(app: Conveyor, shop) -> None:
    h = shop("x").run_in(1, "hour")
    app.cancel(h.id)
    assert app.retry(h.id) is True
    drain(app)
    assert h.result(timeout=5) == "x"


def test_retry_refuses_pending_and_unknown_jobs(app: Conveyor, shop) -> None:
    h = shop(1).run_now()
    assert app.retry(h.id) is False
    assert app.retry(424242) is False


def test_schedule_job_passes_data_as_the_single_argument(app: Conveyor) -> None:
    @app.job("sendReceipt")
    def send_receipt(data: dict[str, Any]) -> str:
        return data["to"]

    h = app.schedule_job(type="sendReceipt", data={"to": "a@example.com"})
    record = app.get_job(h.id)
    assert record is not None and record.payload == {"to": "a@example.com"}
    drain(app)
    assert h.result(timeout=5) == "a@example.com"


def test_schedule_job_reads_a_reaction_retry_policy_in_milliseconds(app: Conveyor, shop) -> None:
    h = app.schedule_job(
        type="sync_shop", data={"shop_id": 1}, priority="high",
        retry={"retries": 5, "wait": 60000, "backoff": "exponential"}, owner="u9",
    )
    record = app.get_job(h.id)
    assert record is not None
    assert (record.max_attempts, record.priority, record.owner) == (6, 10, "u9")
    row = app.store.get(h.id)
    assert row is not None and row.retry is not None
    policy = json.loads(row.retry)
    assert (policy["retries"], policy["wait"], policy["backoff"]) == (5, 60.0, "exponential")


def test_schedule_job_cancel_repeats_replaces_pending_jobs_of_that_type(
    app: Conveyor, shop
) -> None:
    old = app.schedule_job(type="sync_shop", data={"shop_id": 1})
    keyed = shop({"shop_id": 2}).run_now(key="x")
    new = app.schedule_job(type="sync_shop", data={"shop_id": 3}, cancel_repeats=True)
    assert [old.state, keyed.state, new.state] == ["cancelled", "cancelled", "queued"]


def test_schedule_job_without_data_calls_the_job_without_arguments(app: Conveyor) -> None:
    @app.job
    def tick() -> str:
        return "tock"

    h = app.schedule_job(type="tick")
    drain(app)
    assert h.result(timeout=5) == "tock"


def test_schedule_job_for_an_unknown_type_lists_the_defined_jobs(app: Conveyor, shop) -> None:
    with pytest.raises(UnknownJobError, match="no job 'nope' is defined; defined jobs: sync_shop"):
        app.schedule_job(type="nope", data={})
    assert app.count() == 0


def test_a_reaction_failure_is_retried_per_the_policy(app: Conveyor) -> None:
    attempts: list[int] = []

    def worker(job: Any) -> None:
        attempts.append(job.attempt)
        raise RuntimeError("still broken")

    app.add_worker(type="flaky", worker=worker)
    h = app.schedule_job(type="flaky", data={}, retry={"retries": 2, "wait": 0})
    drain(app)
    assert attempts == [1, 2, 3]
    with pytest.raises(JobFailed, match="still broken"):
        h.result(timeout=1)


def test_retry_runs_a_completed_job_again(app: Conveyor) -> None:
    runs: list[int] = []

    @app.job
    def again(meta: Any) -> int:
        runs.append(meta.attempt)
        return meta.attempt

    h = again().run_now()
    drain(app)
    assert app.retry(h.id) is True
    drain(app)
    assert runs == [1, 2] and h.result(timeout=1) == 2


def test_retry_refuses_a_running_job(app: Conveyor, shop) -> None:
    h = shop(1).run_now()
    app.store.claim("live-worker", None, 1, 30)
    assert app.retry(h.id) is False
    assert h.state == "running"
