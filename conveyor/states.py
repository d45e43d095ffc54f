"""Job states: the public names and the one internal state (pure, no imports)."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's public state; members compare equal to their text (``"queued"``)."""

    SCHEDULED = "scheduled"  # pending, due later
    QUEUED = "queued"  # pending, due now
    BLOCKED = "blocked"  # waiting for the jobs it depends on (depends_on, chain, group)
    RUNNING = "running"
    WAITING = "waiting"  # a durable run asleep or waiting for an event
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Stored state of a job waiting to run; shown as "scheduled" or "queued".
PENDING = "pending"
# Not a state: in a JobFilter's states, the running jobs whose lease expired (their
# worker is gone), which count as pending for dedupe and cancel_jobs.
LOST = "lost"
# Plain-text tuples (for SQL text, click choices, messages).
STATES: tuple[str, ...] = tuple(state.value for state in JobState)
FINISHED: tuple[str, ...] = (JobState.COMPLETED.value, JobState.FAILED.value,
                             JobState.CANCELLED.value)
UNFINISHED: tuple[str, ...] = tuple(s for s in STATES if s not in FINISHED)

__all__ = ["FINISHED", "LOST", "PENDING", "STATES", "UNFINISHED", "JobState"]
