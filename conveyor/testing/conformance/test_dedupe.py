"""Dedupe: replace= / unique= by (job, key, owner) over pending jobs (SPEC §3)."""

from __future__ import annotations

import threading
import time

import pytest

from conveyor import Conveyor

from .helpers import drain


@pytest.fixture
def job(app: Conveyor) -> object:
    @app.job
    def sync_shop(n: int) -> int:
        return n

    return sync_shop


def _states(app: Conveyor, *handles: object) -> list[str | None]:
    return [h.state for h in handles]  # type: ignore[attr-defined]


def test_replace_cancels_pending_jobs_with_the_same_key_and_owner(app: Conveyor, job) -> None:
    queued = job(1).run_now(key="shop-1", owner=7)
    scheduled = job(2).run_in(1, "hour", key="shop-1", owner=7)
    other_key = job(3).run_now(key="shop-2", owner=7)
    other_owner = job(4).run_now(key="shop-1", owner=8)
    system = job(5).run_now(key="shop-1")
    new = job(6).run_now(key="shop-1", owner=7, replace=True)
    assert _states(app, queued, scheduled, other_key, other_owner, system, new) == [
        "cancelled", "cancelled", "queued", "queued", "queued", "queued"]
    assert app.count(state="queued", job="sync_shop") == 4


def test_replace_leaves_finished_and_live_running_jobs_alone(app: Conveyor, job) -> None:
    done = job(1).run_now(key="k")
    drain(app)
    running = job(2).run_now(key="k")
    app.store.claim("live-worker", None, 1, 30)
    new = job(3).run_now(key="k", replace=True)
    assert _states(app, done, running, new) == ["completed", "running", "queued"]


def test_replace_with_no_key_matches_every_pending_job_of_that_id(app: Conveyor, job) -> None:
    keyed = job(1).run_now(key="a")
    plain = job(2).run_now()
    later = job(3).run_in(1, "day", key="b")
    new = job(4).run_now(replace=True)
    assert _states(app, keyed, plain, later, new) == [
        "cancelled", "cancelled", "cancelled", "queued"]


def test_replace_only_matches_the_same_job_id(app: Conveyor, job) -> None:
    @app.job
    def other(n: int) -> None: ...

    kept = other(1).run_now(key="k")
    job(2).run_now(key="k", replace=True)
    assert kept.state == "queued"


def test_unique_returns_the_existing_pending_handle(app: Conveyor, job) -> None:
    first = job(1).run_now(key="k", unique=True)
    second = job(2).run_now(key="k", unique=True)
    third = job(3).run_in(5, "minutes", key="k", unique=True)
    assert first == second == third
    assert app.count(job="sync_shop") == 1
    record = app.get_job(first.id)
    assert record is not None and record.args == [1]  # the existing job is kept as it was


def test_unique_matches_a_pending_job_stored_without_dedupe(app: Conveyor, job) -> None:
    plain = job(1).run_in(1, "hour", key="k")
    assert job(2).run_now(key="k", unique=True) == plain


def test_unique_inserts_again_once_the_pending_job_finished(app: Conveyor, job) -> None:
    first = job(1).run_now(key="k", unique=True)
    drain(app)
    second = job(2).run_now(key="k", unique=True)
    assert second != first
    assert second.state == "queued"


def test_unique_distinguishes_keys_and_owners(app: Conveyor, job) -> None:
    handles = {
        job(1).run_now(key="a", unique=True), job(2).run_now(key="b", unique=True),
        job(3).run_now(key="a", owner="u1", unique=True), job(4).run_now(unique=True),
    }
    assert len(handles) == 3  # key=None matches the pending "a" and "b" jobs
    assert app.count() == 3


def test_unique_with_no_key_matches_any_pending_job_of_that_id(app: Conveyor, job) -> None:
    keyed = job(1).run_now(key="x")
    assert job(2).run_now(unique=True) == keyed


def test_an_empty_key_is_a_key_of_its_own(app: Conveyor, job) -> None:
    keyless = job(1).run_now(unique=True)
    empty = job(2).run_now(key="", unique=True)
    assert empty != keyless
    new = job(3).run_now(key="", replace=True)
    assert _states(app, keyless, empty, new) == ["queued", "cancelled", "queued"]


def test_keys_and_owners_are_told_apart_whatever_characters_they_hold(
    app: Conveyor, job
) -> None:
    first = job(1).run_now(key="a\x1fb", owner="c", unique=True)
    second = job(2).run_now(key="a", owner="b\x1fc", unique=True)
    assert second != first
    assert _states(app, first, second) == ["queued", "queued"]


def test_a_job_blocked_by_its_dependencies_counts_as_pending(app: Conveyor, job) -> None:
    first = job(1).run_in(1, "hour")
    blocked = job(2).run_now(key="k", depends_on=[first])
    assert blocked.state == "blocked"
    assert job(3).run_now(key="k", unique=True) == blocked
    new = job(4).run_now(key="k", replace=True)
    assert _states(app, first, blocked, new) == ["scheduled", "cancelled", "queued"]


def test_a_running_job_with_an_expired_lease_counts_as_pending(app: Conveyor, job) -> None:
    stranded = job(1).run_now(key="k")
    app.store.claim("dead-worker", None, 1, 0.05)
    time.sleep(0.1)
    assert job(2).run_now(key="k", unique=True) == stranded
    new = job(3).run_now(key="k", replace=True)
    assert stranded.state == "cancelled"
    assert new.state == "queued"


def test_a_running_job_with_a_live_lease_is_not_pending(app: Conveyor, job) -> None:
    running = job(1).run_now(key="k")
    app.store.claim("live-worker", None, 1, 30)
    assert job(2).run_now(key="k", unique=True) != running


def test_threads_on_separate_connections_cannot_both_insert_a_unique_job(
    app: Conveyor, job
) -> None:
    if app.url.startswith("memory"):
        pytest.skip("a memory store has one connection")
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def trigger(n: int) -> None:
        try:
            with Conveyor(app.url) as other:
                definition = other.job("sync_shop")(lambda n: n)
                barrier.wait()
                for i in range(5):
                    ids.append(definition(n * 10 + i).run_now(key="race", unique=True).id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=trigger, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(ids) == 30 and len(set(ids)) == 1
    assert app.count(job="sync_shop") == 1
