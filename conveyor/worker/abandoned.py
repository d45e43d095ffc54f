"""Coroutines of async jobs abandoned at their timeout (they ignore being cancelled),
kept track of until they end so that their worker closes them as it stops: left on the
loop, one would hold up the loop's end for ever (``asyncio.run`` waits for every task,
an ASGI host's under ``app.lifespan()`` or the caller's of ``run_worker_async``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from conveyor.stores.base import ClaimedJob

log = logging.getLogger("conveyor.worker")

_running: dict[asyncio.Future[Any], ClaimedJob] = {}


def abandon(task: asyncio.Future[Any], claimed: ClaimedJob) -> None:
    """``task`` runs on, abandoned; its outcome is never read."""
    _running[task] = claimed
    task.add_done_callback(_ended)


def _ended(task: asyncio.Future[Any]) -> None:
    _running.pop(task, None)
    if not task.cancelled():
        task.exception()  # read: not logged as never retrieved


def close_abandoned() -> None:
    """Close the abandoned coroutines of this loop that still run (a ``finally`` of
    theirs runs now, an ``await`` in it cannot), and logs each."""
    loop = asyncio.get_running_loop()
    for task, job in [(t, j) for t, j in _running.items() if t.get_loop() is loop]:
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        try:
            if coro is not None:
                coro.close()
        except RuntimeError:  # it awaited again once closed
            log.warning("job %s (%s, attempt %d): its coroutine, abandoned at its timeout, "
                        "could not be closed as the worker stops; the event loop's end may "
                        "wait for it", job.id, job.job, job.attempt)
            continue
        log.warning("job %s (%s, attempt %d): its coroutine, abandoned at its timeout, is "
                    "closed as the worker stops", job.id, job.job, job.attempt)
        task.cancel()  # the task ends at its next step
