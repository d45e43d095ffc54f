"""What the worker tells observers (hooks, metrics, tracing) after the store has it.

An observer is a :class:`WorkerObserver` (async methods, each job's calls run in order as
tasks) or an :class:`InlineObserver` (cheap sync methods called in place, no task);
``app.observers`` lists them. The worker calls each method on its event loop after the
state it reports is stored and awaits nothing it returns: an observer that fails is
logged and never fails the job. A worker whose observers watch nothing makes no task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conveyor.records import JobRecord
    from conveyor.stores.base import ClaimedJob, Outcome


#: An attempt that ended, as observers are told of it: the job, its outcome (None: none
#: was made, the attempt was abandoned) and the error that ended it.
Ended = tuple["ClaimedJob", "Outcome | None", "BaseException | None"]


class RecordSource(Protocol):
    """What an observer may ask of the app (a :class:`conveyor.Conveyor`)."""

    def get_job(self, job_id: int) -> JobRecord | None: ...

    def get_jobs(self, job_ids: Iterable[Any]) -> list[JobRecord]: ...


class ObservedApp(RecordSource, Protocol):
    """An app whose workers tell observers."""

    observers: list[Observer]


class WorkerObserver(Protocol):
    """Told about each attempt a worker runs (a task per call, in order per job).

    It may also define ``watching(event: str) -> bool`` (``event``: "started" or
    "finished"): while that returns False the worker skips it, without a task."""

    async def attempt_started(self, app: RecordSource, job: ClaimedJob) -> None:
        """The claim is stored: the job is running (attempt ``job.attempt``)."""
        ...

    async def attempt_finished(
        self, app: RecordSource, job: ClaimedJob, outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        """The attempt's outcome is stored (``outcome.state``: completed, failed,
        pending = retrying, waiting = a durable run asleep); ``outcome`` is None when the
        worker lost the job (cancelled while running, or rescued elsewhere) or could not
        store its outcome as it stopped (the job runs again once its lease expires).
        ``error`` is the exception that ended a failed or retried attempt."""
        ...


class InlineObserver(Protocol):
    """Told about each attempt in place, on the worker's event loop: the same events as
    :class:`WorkerObserver`, as sync methods that must be quick and never block (count,
    start or end a span). No task is made for them. One may also define
    ``started_all(jobs)`` and ``finished_all(ended)`` (``(job, outcome, error)`` each):
    the worker then tells it of a claim's or a flush's attempts in one call. One with
    ``before_run = True`` hears of a start before the job runs: for a sync job a lane
    thread takes, ``started_now`` on that thread (it must be thread-safe); the others may
    hear of it later (in the loop's next batch, before its outcome)."""

    def started_now(self, job: ClaimedJob) -> None: ...

    def finished_now(
        self, job: ClaimedJob, outcome: Outcome | None, error: BaseException | None
    ) -> None: ...


class RescueObserver(Protocol):
    """Told of jobs rescued from a worker that stopped heartbeating, by the maintenance
    pass that rescued them (no worker reports such an attempt). An observer of either kind
    may also be one; :func:`rescued_event` tells what each rescue was."""

    def watching_rescues(self) -> bool:
        """Whether to read the rescued jobs back for :meth:`rescued` (a read per pass)."""
        ...

    def rescued(self, records: list[JobRecord]) -> object:
        """``records``: the jobs as the rescue left them; must not block (hand user code
        to a thread of its own)."""
        ...


Observer = WorkerObserver | InlineObserver
AnObserver = TypeVar("AnObserver", bound=Observer)


def observe_once(app: ObservedApp, kind: type[AnObserver], available: bool) -> bool:
    """Add a ``kind()`` to ``app.observers`` unless one is there already; False (and
    nothing added) when the library it needs is not ``available``."""
    if not available:
        return False
    if not any(isinstance(o, kind) for o in app.observers):
        app.observers.append(kind())
    return True

# A rescued job's error type and public state -> what its attempt counts as (run again:
# retrying; failed as a poison job: failed).
_RESCUED = {("LeaseExpired", "queued"): "retrying", ("LeaseExpired", "scheduled"): "retrying",
            ("PoisonJob", "failed"): "failed"}


def rescued_event(record: JobRecord) -> str | None:
    """"retrying" or "failed" for a job a rescue left to run again or failed as poison;
    None when it is no longer as the rescue left it."""
    kind = record.error.get("type") if isinstance(record.error, dict) else None
    return _RESCUED.get((str(kind), record.state))


def watches_rescues(observer: object) -> TypeGuard[RescueObserver]:
    """Whether ``observer`` is a :class:`RescueObserver` that wants the rescued jobs now."""
    watching = getattr(observer, "watching_rescues", None)
    return callable(watching) and bool(watching())


__all__ = ["Ended", "InlineObserver", "ObservedApp", "Observer", "RecordSource", "RescueObserver",
           "WorkerObserver", "observe_once", "rescued_event", "watches_rescues"]
