"""Callers racing on one SQLite file or PostgreSQL database, each thread with an app (and
connections) of its own, lined up on a barrier: whichever commits first, the end state
is one the SPEC allows. Each test repeats its race: one round proves nothing about an
interleaving it did not hit, and every round checks the property."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob, Outcome
from tests.support import store_url as _store_url

ROUNDS = 15


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Stores several connections share (a memory store is one process's own)."""
    return _store_url(request.param, request, tmp_path)


@pytest.fixture
def apps(store_url: str) -> Iterator[list[Conveyor]]:
    """Three apps on one store, each defining the jobs the races use."""
    opened = [Conveyor(store_url, lease=30) for _ in range(3)]
    for app in opened:
        app.job("step")(lambda n=0: n)

        async def fan(n: int, io: Any, app: Conveyor = app) -> Any:
            return await io.run_jobs("steps", [app.jobs.step(i) for i in range(n)])

        app.job("fan")(fan)
    yield opened
    for app in opened:
        app.close()


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in a thread of its own, all released at once; their results."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(30)
            results[index] = call()
        except BaseException as exc:  # raised in the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a racing call never returned"
    if errors:
        raise errors[0]
    return results


def _outcome(app: Conveyor, job: ClaimedJob, state: str) -> Outcome:
    error = None if state == "completed" else json.dumps(
        {"type": "RuntimeError", "message": "no", "traceback": None})
    return Outcome(job.id, job.token, state, app.store.now(),
                   result="1" if state == "completed" else None, error=error)


@pytest.mark.parametrize("end", ["completed", "failed", "cancelled"])
def test_a_dependent_triggered_as_its_dependency_finishes_follows_it(
    apps: list[Conveyor], end: str
) -> None:
    main, worker, caller = apps
    expected = "queued" if end == "completed" else "cancelled"
    for _ in range(ROUNDS):
        first = main.jobs.step().run_now()
        (held,) = main.store.claim("w", None, 1, 30)
        _, dependent = together(
            partial(worker.store.complete, [_outcome(worker, held, end)]),
            partial(caller.jobs.step().run_now, depends_on=[first]),
        )
        assert (first.state, dependent.state) == (end, expected)  # never blocked for good
        main.cancel(dependent.id)


def test_a_dependent_cancelled_as_its_dependency_completes_stays_cancelled(
    apps: list[Conveyor],
) -> None:
    main, worker, caller = apps
    for _ in range(ROUNDS):
        first = main.jobs.step().run_now()
        dependents = [main.jobs.step().run_now(depends_on=[first]) for _ in range(2)]
        (held,) = main.store.claim("w", None, 1, 30)
        _, *cancelled = together(
            partial(worker.store.complete, [_outcome(worker, held, "completed")]),
            *[partial(app.cancel, h.id) for app, h in zip((caller, main), dependents,
                                                         strict=True)],
        )
        for handle, was_cancelled in zip(dependents, cancelled, strict=True):
            assert handle.state == ("cancelled" if was_cancelled else "queued")
            main.cancel(handle.id)


def test_replace_never_cancels_the_job_a_worker_claims_at_that_moment(
    apps: list[Conveyor],
) -> None:
    main, worker, caller = apps
    for _ in range(ROUNDS):
        old = main.jobs.step(1).run_now(key="k")
        claimed, new = together(
            partial(worker.store.claim, "w", None, 1, 30),
            partial(caller.jobs.step(2).run_now, key="k", replace=True),
        )
        if [j.id for j in claimed] == [old.id]:  # the worker won: the old job is its own
            assert old.state == "running"
            assert main.store.complete([_outcome(main, claimed[0], "completed")]) == 1
            assert (old.state, new.state) == ("completed", "queued")
        else:  # replace won: cancelled before any worker held it
            assert old.state == "cancelled"
            assert new.state == ("running" if claimed else "queued")
        main.cancel(new.id)  # queued, or running unheld: out of the next round's way


@pytest.mark.parametrize("mode", ["unique", "replace"])
def test_batches_deduplicating_several_jobs_in_opposite_orders_both_get_stored(
    apps: list[Conveyor], mode: str
) -> None:
    main, one, other = apps
    for app in apps:
        app.job("other_step")(lambda n=0: n)
    for _ in range(ROUNDS):
        together(
            partial(one.enqueue_many, [one.jobs.step(1), one.jobs.other_step(1)] * 3,
                    key="k", **{mode: True}),
            partial(other.enqueue_many, [other.jobs.other_step(2), other.jobs.step(2)] * 3,
                    key="k", **{mode: True}),
        )
        assert main.count(state="queued", job="step") == 1
        assert main.count(state="queued", job="other_step") == 1


def test_cancelling_a_run_with_its_children_reaches_those_it_starts_at_that_moment(
    apps: list[Conveyor],
) -> None:
    main, worker, caller = apps
    for _ in range(ROUNDS):
        run = main.jobs.fan(3).run_now()
        (held,) = main.store.claim("w", None, 1, 30)
        rows = [worker.triggering.new_job(worker.jobs.step(i), None, 0.0, {}) for i in range(3)]
        for index, row in enumerate(rows):
            row.parent_id, row.parent_seq, row.child_index = run.id, 1, index
        started, cancelled = together(
            partial(worker.store.start_children, run.id, held.token, 1, rows),
            partial(caller.cancel, run.id, cascade=True),
        )
        assert cancelled and run.state == "cancelled"
        children = main.jobs_list(parent=run.id)
        assert len(children) == (3 if started else 0)  # none once the run is cancelled
        assert {c.state for c in children} <= {"cancelled"}


def test_one_event_id_sent_from_several_threads_starts_its_runs_once(
    store_url: str,
) -> None:
    senders = [Conveyor(store_url) for _ in range(6)]
    try:
        for app in senders:
            app.job("welcome", trigger=app.event("user.created"))(lambda payload: payload)
        for n in range(ROUNDS):
            events = together(*[partial(app.send_event, "user.created", {"n": n}, id=f"e{n}")
                                for app in senders])
            assert senders[0].count(job="welcome") == n + 1
            assert len({tuple(e.runs) for e in events}) == 1 and len(events[0].runs) == 1
    finally:
        for app in senders:
            app.close()


@pytest.mark.parametrize("end", ["completed", "failed"])
def test_cancel_racing_a_worker_storing_the_outcome_keeps_one_of_the_two(
    apps: list[Conveyor], end: str
) -> None:
    main, worker, caller = apps
    for _ in range(ROUNDS):
        job = main.jobs.step().run_now()
        (held,) = main.store.claim("w", None, 1, 30)
        stored, cancelled = together(
            partial(worker.store.complete, [_outcome(worker, held, end)]),
            partial(caller.cancel, job.id),
        )
        assert (stored, cancelled) in ((1, False), (0, True))
        assert job.state == ("cancelled" if cancelled else end)
        assert main.store.heartbeat("w", {job.id: held.token}, 30) == {job.id}



def test_bulk_cancels_retries_and_purges_of_the_same_jobs_at_once_all_succeed(
    apps: list[Conveyor],
) -> None:
    main, one, other = apps
    for _ in range(8):  # about half of the rounds deadlocked when they were not retried
        ids = [h.id for h in main.enqueue_many(main.jobs.step(i) for i in range(100))]
        main.queries.cancel_many(ids[::3])
        together(  # none fails: a deadlock between them is broken and the loser run again
            partial(one.queries.cancel_many, ids[::-1]),
            partial(other.cancel_jobs, type="step"),
            partial(main.queries.retry_many, ids[::-1]),
            partial(main.purge, job="step"),
        )
        left = main.jobs_list(job="step", limit=1000)
        assert {r.state for r in left} <= {"queued", "cancelled"}
        main.cancel_jobs(type="step")
        main.purge(job="step")


def claiming_during(worker: Conveyor, call: Callable[[], Any]) -> tuple[Any, list[int]]:
    """``call()``'s result while ``worker`` claims due jobs two at a time all along, and
    the ids it claimed."""
    claimed: list[int] = []
    busy = threading.Event()

    def claim() -> None:
        busy.wait(10)
        while busy.is_set():
            claimed.extend(j.id for j in worker.store.claim("w", None, 2, 30))

    claimer = threading.Thread(target=claim)
    claimer.start()
    try:
        busy.set()
        result = call()
    finally:
        busy.clear()
        claimer.join(30)
    return result, claimed


def test_cancel_jobs_by_payload_never_cancels_what_a_worker_claims_meanwhile(
    apps: list[Conveyor],
) -> None:
    main, worker, _ = apps
    for n in range(3):
        main.enqueue_many(main.jobs.step({"shop": n, "i": i}) for i in range(200))
        cancelled, claimed = claiming_during(worker, partial(main.cancel_jobs, data={"shop": n}))
        assert cancelled + len(claimed) == 200
        assert {main.get_job(i).state for i in claimed} <= {"running"}  # type: ignore[union-attr]
