"""SPEC §9 at the store's claim: a claim under limits takes as many jobs as the limits
allow in one call, and a full limit's backlog never hides other due jobs for long."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob, Outcome

from .helpers import wait_for


def _complete(app: Conveyor, jobs: list[ClaimedJob]) -> None:
    now = app.store.now()
    app.store.complete([Outcome(j.id, j.token, "completed", now, result="null") for j in jobs])


def test_a_claim_takes_every_free_slot_of_a_limit_at_once(app: Conveyor) -> None:
    @app.job(concurrency=50)
    def capped() -> None: ...

    app.enqueue_many(capped() for _ in range(130))
    app.store.sync_limits(app.declared_limits())
    first = app.store.claim("w1", None, 600, 30)
    assert len(first) == 50
    assert app.store.claim("w2", None, 600, 30) == []
    _complete(app, first[:20])
    again = app.store.claim("w2", None, 600, 30)
    assert len(again) == 20 and not {j.id for j in again} & {j.id for j in first}


def test_a_rate_far_above_lets_a_claim_take_its_whole_batch(app: Conveyor) -> None:
    @app.job(rate="1000000/second")
    def rated() -> None: ...

    app.enqueue_many(rated() for _ in range(300))
    app.store.sync_limits(app.declared_limits())
    assert len(app.store.claim("w", None, 250, 30)) == 250
    assert len(app.store.claim("w", None, 250, 30)) == 50


def test_a_job_behind_a_full_limits_backlog_is_claimed(app: Conveyor) -> None:
    @app.job(concurrency=1)
    def single() -> None: ...

    @app.job
    def other() -> None: ...

    backlog = app.enqueue_many(single() for _ in range(150))
    behind = other().run_now()
    app.store.sync_limits(app.declared_limits())
    claimed = app.store.claim("w", None, 10, 30)
    assert [j.id for j in claimed] == [backlog[0].id, behind.id]


def test_a_job_queued_behind_a_full_backlog_later_starts_soon(app: Conveyor) -> None:
    @app.job(concurrency=1)
    def single() -> None: ...

    @app.job
    def other() -> None: ...

    app.enqueue_many(single() for _ in range(150))
    app.store.sync_limits(app.declared_limits())
    assert len(app.store.claim("w", None, 10, 30)) == 1
    assert app.store.claim("w", None, 10, 30) == []  # the limit is full, nothing else due
    behind = other().run_now()
    taken: list[ClaimedJob] = []
    started = time.monotonic()

    def claims_it() -> bool:
        taken.extend(app.store.claim("w", None, 10, 30))
        return any(j.id == behind.id for j in taken)

    wait_for(claims_it, 30, "the job behind the backlog", interval=0.05)
    assert [j.id for j in taken] == [behind.id]  # and never a second attempt of the limit
    assert time.monotonic() - started < 10.0  # a few claims, not the backlog's 150


def test_a_burst_worker_runs_a_job_stored_behind_a_rate_limited_backlog(app: Conveyor) -> None:
    ran: list[str] = []

    @app.job
    def other() -> None:
        ran.append("other")

    @app.job(rate="1/minute")
    def limited(i: int) -> None:
        ran.append(f"limited{i}")
        if i == 0:  # stored just after a claim looked past the full limit and found nothing
            other().run_now()

    app.enqueue_many(limited(i) for i in range(6))
    app.run_worker(burst=True, concurrency=2)
    assert ran == ["limited0", "other"]


def test_concurrent_claims_under_limits_never_share_a_job_nor_break_a_limit(
        app: Conveyor) -> None:
    @app.job(rate="1000000/second")
    def rated() -> None: ...

    @app.job(concurrency=30)
    def capped() -> None: ...

    handles = app.enqueue_many(f() for _ in range(250) for f in (rated, capped))
    capped_ids = {h.id for h in handles[1::2]}
    app.store.sync_limits(app.declared_limits())
    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda w: app.store.claim(w, None, 100, 30), "abcd"))
    while more := app.store.claim("e", None, 100, 30):
        claims.append(more)
    ids = [j.id for jobs in claims for j in jobs]
    assert len(ids) == len(set(ids)) == 250 + 30
    assert len(capped_ids & set(ids)) == 30
