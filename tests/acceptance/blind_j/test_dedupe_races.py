"""SPEC §3 dedupe under contention, on every store: many threads triggering with
``unique=True`` store one pending job; with ``replace=True`` exactly one stays pending;
``key=None`` matches every pending job of the id."""

from __future__ import annotations

import threading
from typing import Any

from conveyor import Conveyor
from tests.acceptance.support import record_of

THREADS = 6


def trigger_together(app: Conveyor, **options: Any) -> list[Any]:
    @app.job("racy")
    def racy(n: int) -> None: ...

    barrier = threading.Barrier(THREADS)
    handles: list[Any] = [None] * THREADS
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            handles[i] = racy(i).run_in(1, "hour", **options)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return handles


def test_unique_under_contention_stores_one_job(app: Conveyor) -> None:
    handles = trigger_together(app, key="same", unique=True)
    assert len({h.id for h in handles}) == 1
    assert app.count(state="scheduled") == 1


def test_replace_under_contention_leaves_exactly_one_pending(app: Conveyor) -> None:
    handles = trigger_together(app, key="same", replace=True)
    states = [record_of(app, h.id).state for h in handles]
    assert states.count("scheduled") == 1 and states.count("cancelled") == THREADS - 1


def test_unique_without_key_matches_every_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job("nokey")
    def nokey(n: int) -> None: ...

    first = nokey(1).run_in(1, "hour", key="some-key")
    again = nokey(2).run_now(unique=True)
    assert again.id == first.id and app.count() == 1
