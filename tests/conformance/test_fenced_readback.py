"""The read-back of a flush the store fenced in part (a cancel or a rescue took a lease as
its attempt ended): only the refused outcomes are reported otherwise; an outcome stored in
the same flush is reported as stored, even when its job was claimed again at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from conveyor import Conveyor
from conveyor.stores.base import NewJob, Outcome
from conveyor.worker.outcomes import LOST_OUTCOME, store_and_claim


async def _guard(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def test_a_retry_stored_and_claimed_again_in_a_fenced_flush_is_not_lost(app: Conveyor) -> None:
    cancelled, retried = app.store.insert([NewJob(job="task"), NewJob(job="task")])
    held = {job.id: job for job in app.store.claim("w1", None, 2, 30)}
    assert app.cancel(cancelled)  # its outcome below is fenced
    now = time.time()
    outcomes = [
        Outcome(cancelled, held[cancelled].token, "completed", now, result="1"),
        Outcome(retried, held[retried].token, "pending", now, delay=0.0,
                error='{"type": "ValueError", "message": "again", "traceback": "..."}'),
    ]
    attempts = {job_id: job.attempt for job_id, job in held.items()}
    replaced, claimed, failed = asyncio.run(store_and_claim(
        _guard, app.store, outcomes, ("w1", None, 5, 30), attempts))
    assert failed is None and [job.id for job in claimed or []] == [retried]  # due at once
    assert replaced[cancelled].state == "cancelled"  # type: ignore[union-attr]
    stored = replaced.get(retried)
    assert stored is None or stored.state != LOST_OUTCOME  # its retry is its own to report
