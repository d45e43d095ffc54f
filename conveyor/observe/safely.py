"""Telling an inline observer of attempts without letting its error reach the worker: a
failure is logged (naming the observer and the jobs) and the others are told all the
same."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from conveyor.stores.base import ClaimedJob

log = logging.getLogger("conveyor.worker")
T = TypeVar("T")
# What an observer may raise and is logged for: asyncio would carry KeyboardInterrupt and
# SystemExit out of the worker's loop, stopping it with every lease it holds.
OBSERVER_ERRORS = (Exception, KeyboardInterrupt, SystemExit)


def tell_each(observer: object, call: Callable[..., object],
              told: Iterable[tuple[ClaimedJob, *tuple[Any, ...]]]) -> None:
    """``call(*args)`` for each ``args`` of ``told`` (a job first: ``zip(jobs)`` for
    calls of a job alone)."""
    for args in told:
        try:
            call(*args)
        except OBSERVER_ERRORS:
            log.exception("observer %r failed for job %s", observer, args[0].id)


def tell_batch(observer: object, call: Callable[[T], object], batch: T,
               jobs: Callable[[], Iterable[ClaimedJob]]) -> None:
    """``call(batch)``, the batch's ``jobs`` named should it fail."""
    try:
        call(batch)
    except OBSERVER_ERRORS:
        log.exception("observer %r failed for jobs %s", observer,
                      ", ".join(str(job.id) for job in jobs()))
