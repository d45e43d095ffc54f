"""One log line per attempt outcome, under the logger ``conveyor.worker`` (a child of
``conveyor``): started (debug), completed with its duration (info), retrying with when
(warning), failed with its error (error), cancelled, lost or released at shutdown
(warning), waiting (debug).

Each record carries structured fields in ``extra`` (``job_id``, ``job``, ``attempt``,
``max_attempts``, ``outcome``, ``duration``, ``error``, ``retry_at``), which
``conveyor worker --log-format json`` writes as JSON keys.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from conveyor.stores.base import ClaimedJob, Outcome

log = logging.getLogger("conveyor.worker")

LOGGED_ERROR = 2_000  # characters of an error message a log line shows
_LEVELS = {"completed": logging.INFO, "failed": logging.ERROR, "pending": logging.WARNING,
           "cancelled": logging.WARNING, "waiting": logging.DEBUG}


def _emit(level: int, msg: str, *args: object, extra: dict[str, Any]) -> None:
    """``log.log(level, msg, *args, extra=extra)`` for a level known to be enabled, the
    record naming its caller as ``log.log`` would, without ``findCaller``'s walk up the
    stack: a fifth of the cost of a line logged per attempt."""
    caller = sys._getframe(1)
    code = caller.f_code
    log.handle(log.makeRecord(log.name, level, code.co_filename, caller.f_lineno, msg, args,
                              None, code.co_name, extra))


def _fields(job: ClaimedJob, outcome: str, **more: Any) -> dict[str, Any]:
    return {"job_id": job.id, "job": job.job, "attempt": job.attempt,
            "max_attempts": max(job.max_attempts, job.attempt), "outcome": outcome, **more}


def _name(job: ClaimedJob) -> str:
    return f"job {job.id} ({job.job}) attempt {job.attempt}/{max(job.max_attempts, job.attempt)}"


def started_all(jobs: Sequence[ClaimedJob]) -> None:
    """A claim's attempts started (debug; whether the line is logged: asked once)."""
    if log.isEnabledFor(logging.DEBUG):
        for job in jobs:
            _emit(logging.DEBUG, "%s started", _name(job), extra=_fields(job, "started"))


def finished(job: ClaimedJob, outcome: Outcome | None, why: str | None = None) -> None:
    """Log what became of an attempt whose outcome is stored (None: the worker stopped
    holding it; ``why``: "released" as it stopped, "cancelled", None: cause unknown)."""
    if outcome is None:
        if not log.isEnabledFor(logging.WARNING):
            return
        if why == "released":
            log.warning("%s stopped: the worker is stopping and the grace period is over; "
                        "released to run again", _name(job), extra=_fields(job, "released"))
        elif why == "cancelled":
            log.warning("%s cancelled as it ran", _name(job), extra=_fields(job, "cancelled"))
        else:
            log.warning("%s stopped: cancelled, or rescued by another worker", _name(job),
                        extra=_fields(job, "lost"))
        return
    state = outcome.state
    level = _LEVELS.get(state, logging.INFO)
    if not log.isEnabledFor(level):
        return
    duration = max(0.0, outcome.finished_at - job.started_at)
    error = _error(outcome.error)
    if state == "completed":
        _emit(logging.INFO, "%s completed in %s", _name(job), _seconds(duration),
              extra=_fields(job, "completed", duration=round(duration, 6)))
    elif state == "pending":
        at = outcome.run_at if outcome.run_at is not None else (
            outcome.finished_at + (outcome.delay or 0.0))
        when = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
        log.warning("%s failed: %s; retrying in %s (at %s)", _name(job), error,
                    _seconds(max(0.0, at - outcome.finished_at)), when,
                    extra=_fields(job, "retrying", duration=round(duration, 6), error=error,
                                  retry_at=when))
    elif state == "failed":
        log.error("%s failed: %s", _name(job), error,
                  extra=_fields(job, "failed", duration=round(duration, 6), error=error))
    elif state == "cancelled":  # a cancel took the lease as the attempt ended
        why = f": {error}" if outcome.error else " as it ran"
        log.warning("%s cancelled%s", _name(job), why,
                    extra=_fields(job, "cancelled", duration=round(duration, 6),
                                  error=outcome.error and error))
    else:
        log.debug("%s %s", _name(job), state, extra=_fields(job, state))


def finished_all(ended: Sequence[tuple[ClaimedJob, Outcome, object]]) -> None:
    """``finished`` for each ``(job, outcome, _)`` stored as it was (a flush's)."""
    for job, outcome, _ in ended:
        finished(job, outcome)


def count_jobs(count: int, adjective: str = "") -> str:
    """``1 running job``, ``2 running jobs``."""
    words = f"{adjective} job" if adjective else "job"
    return f"{count} {words}{'' if count == 1 else 's'}"


def _error(text: str | None) -> str:
    if not text:
        return "no error recorded"
    try:
        data = json.loads(text)
    except ValueError:
        return _shortened(text)
    kind, message = data.get("type"), data.get("message")
    return _shortened(f"{kind}: {message}" if kind and message else str(message or kind))


def _shortened(error: str) -> str:
    """An error as a log line tells it: its first LOGGED_ERROR characters (the stored
    attempt keeps the whole message)."""
    if len(error) <= LOGGED_ERROR:
        return error
    return f"{error[:LOGGED_ERROR]}... ({len(error) - LOGGED_ERROR} more characters)"


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"
