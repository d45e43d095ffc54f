"""Storing a batch of outcomes so that one that cannot be stored never loses the others.

A batch write that fails on its data (a lost connection is retried by the worker's
guard instead) is split in halves until the outcome the store refuses is alone; that
one is stored as a failed attempt whose ``PayloadError`` says why, and every other
outcome of the batch is stored as it was.

A store call the worker gives up on (it is stopping, or the store is gone past its
outage tolerance) raises :class:`GaveUp`: nothing is known to be stored, so the outcomes
of that call are returned as not stored (None) rather than bisected or reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from conveyor.errors import PayloadError
from conveyor.stores.base import ClaimedJob, JobFilter, JobRow, Outcome, Store
from conveyor.text import MAX_ERROR_MESSAGE, clean
from conveyor.worker.failure import error_json

log = logging.getLogger("conveyor.worker")

Guard = Callable[..., Awaitable[Any]]
ClaimArgs = tuple[str, list[str] | None, int, float]  # worker id, queues, limit, lease
Stored = dict[int, Outcome | None]  # by job id: stored in its place (None: not stored)
# The state of an outcome in place of one the store refused because the attempt was no
# longer the job's (rescued): the worker reports the attempt as lost.
LOST_OUTCOME = "lost"


class GaveUp(Exception):
    """The worker's guard gave up on a store call: whether it took effect is unknown."""


async def store_and_claim(
    guard: Guard, store: Store, outcomes: Sequence[Outcome], claim: ClaimArgs | None,
    attempts: Mapping[int, int] | None = None,
) -> tuple[Stored, list[ClaimedJob] | None, Exception | None]:
    """Store ``outcomes`` and, given ``claim``'s arguments, claim in the same transaction
    (``store.complete_and_claim``). If the store refuses that, the outcomes are stored as
    :func:`store_outcomes` does and the claim is made alone. Returns the outcomes replaced
    or not stored (as :func:`store_outcomes`), the claimed jobs (None: no claim made) and
    the claim's error, if it failed: the caller raises it once the outcomes are reported.
    ``attempts``: each outcome's attempt number, by job id (see :func:`fenced`)."""
    if claim is None:
        return await store_outcomes(guard, store, outcomes, attempts), None, None
    if outcomes:
        try:
            jobs = await guard(store.complete_and_claim, outcomes, *claim)
        except GaveUp:
            return dict.fromkeys((o.id for o in outcomes), None), None, None
        except Exception:
            pass  # an outcome (or the claim) refused: each on its own below
        else:  # stored and claimed: whatever follows must not store or claim them again
            stored = getattr(jobs, "stored", None)
            return await fenced(guard, store, outcomes, stored, attempts), jobs, None
    replaced = await store_outcomes(guard, store, outcomes, attempts) if outcomes else {}
    try:
        return replaced, await guard(store.claim, *claim), None
    except GaveUp:  # stopping: no claim
        return replaced, None, None
    except Exception as exc:
        return replaced, None, exc


async def store_outcomes(guard: Guard, store: Store, outcomes: Sequence[Outcome],
                         attempts: Mapping[int, int] | None = None) -> Stored:
    """``store.complete(outcomes)``, bisecting a batch the store refuses; returns, by job
    id, the failed attempts stored in place of refused outcomes and None for outcomes
    not stored (the guard gave up)."""
    try:
        changed = await guard(store.complete, list(outcomes))
        return await fenced(guard, store, outcomes,
                            changed if isinstance(changed, int) else None, attempts)
    except GaveUp:
        return dict.fromkeys((o.id for o in outcomes), None)
    except Exception as exc:
        error = exc
    if len(outcomes) > 1:
        half = len(outcomes) // 2
        replaced = await store_outcomes(guard, store, outcomes[:half], attempts)
        replaced.update(await store_outcomes(guard, store, outcomes[half:], attempts))
        return replaced
    outcome = outcomes[0]
    log.error("job %s: the store refused its outcome (%s); storing a failed attempt instead",
              outcome.id, outcome.state, exc_info=error)
    failed = unstorable(outcome, error)
    try:
        await guard(store.complete, [failed])
    except GaveUp:
        return {outcome.id: None}
    except Exception:
        log.exception("job %s: could not store its failure either; it is retried once its "
                      "lease expires", outcome.id)
    return {outcome.id: failed}


async def fenced(guard: Guard, store: Store, outcomes: Sequence[Outcome],
                 stored: int | None, attempts: Mapping[int, int] | None = None) -> Stored:
    """When the store stored fewer than ``outcomes`` (``stored``; None: not told), the
    refused ones were fenced: a cancel or a rescue took their leases as they ended.
    Returns, by job id, a cancelled outcome in place of each one whose job is now
    cancelled, and (given each outcome's attempt number in ``attempts``) a LOST one in
    place of each whose attempt a rescue ended (maybe claimed again since): the worker
    then reports that attempt as lost, never as the end it did not store (its rescuer
    reported it). Read back only then (rare)."""
    if stored is None or stored >= len(outcomes):
        return {}
    ended = [o for o in outcomes if o.state != "cancelled"]

    def read() -> Stored:
        replaced: Stored = {}
        rows = {row.id: row for row in store.list_jobs(
            JobFilter(ids=[o.id for o in ended]), len(ended), 0, False)}
        for o in ended:
            row = rows.get(o.id)
            if row is None:
                continue
            if row.state == "cancelled":
                replaced[o.id] = Outcome(o.id, o.token, "cancelled", o.finished_at,
                                         error=row.error)
            elif attempts is not None and o.id in attempts and _taken(row, attempts[o.id]):
                replaced[o.id] = Outcome(o.id, o.token, LOST_OUTCOME, o.finished_at)
        return replaced

    try:
        result: Stored = await guard(read)
        return result
    except Exception:  # GaveUp included: reported as the attempts ended
        log.warning("could not read back %d outcomes the store refused", len(ended),
                    exc_info=True)
        return {}


def _taken(row: JobRow, attempt: int) -> bool:
    """Did a rescue end ``attempt`` (its history holds the rescue's entry for it)? Not
    the job's attempts count: an outcome stored in the same flush may be claimed again
    at once (a retry due now, a run woken), which is no sign of a rescue."""
    try:
        history = json.loads(row.history) if row.history else []
    except ValueError:  # written by hand: the outcome is taken as stored
        return False
    return isinstance(history, list) and any(
        isinstance(entry, dict) and entry.get("number") == attempt
        and isinstance(error := entry.get("error"), dict)
        and error.get("type") == "LeaseExpired" and error.get("traceback") is None
        for entry in history
    )


def unstorable(outcome: Outcome, exc: BaseException) -> Outcome:
    """A failed attempt in place of an outcome the store refused (nothing of the refused
    data is kept but a sanitised description)."""
    why = clean(f"{type(exc).__name__}: {exc}", MAX_ERROR_MESSAGE // 2)
    error = PayloadError(
        f"the {outcome.state} outcome of this attempt could not be stored ({why}); "
        "return and raise only JSON data without NUL characters or lone surrogates"
    )
    return Outcome(outcome.id, outcome.token, "failed", outcome.finished_at,
                   error=error_json(error), version=outcome.version)
