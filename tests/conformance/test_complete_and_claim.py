"""Store.complete_and_claim on every store: a worker's outcomes and its next claim in one
transaction: both or neither, fenced like complete, limits seeing the slots it frees."""

from __future__ import annotations

import pytest

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob, Outcome


def _done(app: Conveyor, jobs: list[ClaimedJob], result: str = "1") -> list[Outcome]:
    now = app.store.now()
    return [Outcome(j.id, j.token, "completed", now, result=result) for j in jobs]


def test_outcomes_are_stored_and_the_next_jobs_claimed(app: Conveyor) -> None:
    @app.job
    def one() -> int:
        return 1

    handles = [one().run_now() for _ in range(5)]
    first = app.store.claim("w", None, 2, 30)
    nxt = app.store.complete_and_claim(_done(app, first), "w", None, 2, 30)
    assert [j.id for j in first + nxt] == [h.id for h in handles[:4]]
    assert [h.state for h in handles] == ["completed"] * 2 + ["running"] * 2 + ["queued"]
    assert handles[0].result() == 1
    # nothing wanted: the outcomes alone; nothing finished: the claim alone
    assert app.store.complete_and_claim(_done(app, nxt), "w", None, 0, 30) == []
    last = app.store.complete_and_claim([], "w", None, 5, 30)
    assert [j.id for j in last] == [handles[4].id]
    assert app.store.complete_and_claim(_done(app, last), "w", None, 5, 30) == []
    assert app.count(state="completed") == 5


def test_a_stale_outcome_changes_nothing_and_the_claim_still_happens(app: Conveyor) -> None:
    @app.job
    def one() -> None: ...

    a, b = one().run_now(), one().run_now()
    (claimed,) = app.store.claim("w", None, 1, 30)
    stale = Outcome(claimed.id, claimed.token + 1, "completed", app.store.now(), result="2")
    (nxt,) = app.store.complete_and_claim([stale], "w", None, 1, 30)
    assert nxt.id == b.id and a.state == "running"


def test_a_refused_outcome_refuses_the_claim_too(app: Conveyor) -> None:
    @app.job
    def one() -> None: ...

    a, b = one().run_now(), one().run_now()
    (claimed,) = app.store.claim("w", None, 1, 30)
    bad = Outcome(claimed.id, claimed.token, "exploded", app.store.now())
    with pytest.raises(ValueError, match="unknown outcome state"):
        app.store.complete_and_claim([bad], "w", None, 1, 30)
    assert (a.state, b.state) == ("running", "queued")


def test_a_limit_sees_the_slots_the_outcomes_free(app: Conveyor) -> None:
    @app.job(concurrency=3)
    def capped() -> None: ...

    app.enqueue_many(capped() for _ in range(8))
    app.store.sync_limits(app.declared_limits())
    first = app.store.claim("w", None, 10, 30)
    assert len(first) == 3
    nxt = app.store.complete_and_claim(_done(app, first[:2]), "w", None, 10, 30)
    assert len(nxt) == 2 and app.count(state="running") == 3


def test_a_large_mixed_batch_of_outcomes_is_stored_whole(app: Conveyor) -> None:
    """More outcomes of each kind than one SQLite statement binds (chunked statements)."""

    @app.job
    def one() -> None: ...

    app.enqueue_many([one() for _ in range(900)])
    jobs = app.store.claim("w", None, 900, 30)
    now = app.store.now()
    kinds = [
        lambda j: Outcome(j.id, j.token, "completed", now, result="1"),
        lambda j: Outcome(j.id, j.token, "failed", now, error='{"type": "E"}'),
        lambda j: Outcome(j.id, j.token, "pending", now, error='{"type": "E"}', delay=60.0),
    ]
    outcomes = [kinds[i % 3](j) for i, j in enumerate(jobs)]
    stale = Outcome(jobs[0].id, jobs[0].token + 1, "failed", now, error="{}")
    assert app.store.complete_and_claim([stale, *outcomes], "w", None, 0, 30) == []
    assert app.count(state="completed") == app.count(state="failed") == 300
    assert app.count(state="queued") + app.count(state="scheduled") == 300


def test_whole_and_fractional_delays_mix_in_one_batch(app: Conveyor) -> None:
    @app.job
    def one() -> None: ...

    app.enqueue_many([one() for _ in range(3)])
    jobs = app.store.claim("w", None, 3, 30)
    now = app.store.now()
    outcomes = [Outcome(j.id, j.token, "pending", now, error='{"type": "E"}', delay=delay,
                        run_at=at)
                for j, delay, at in zip(jobs, [60, 2.5, None], [None, None, int(now) + 90],
                                        strict=True)]
    assert app.store.complete(outcomes) == 3
    assert app.count(state="scheduled") == 3
