"""What the worker tells observers (hooks, metrics, tracing) after the store has it.

An observer implements :class:`WorkerObserver`; ``app.observers`` lists them. The worker
calls each method on its event loop after the state it reports is stored and awaits
nothing it returns: an observer that fails is logged and never fails the job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from conveyor.records import JobRecord
    from conveyor.stores.base import ClaimedJob, Outcome


class RecordSource(Protocol):
    """What an observer may ask of the app (a :class:`conveyor.Conveyor`)."""

    def get_job(self, job_id: int) -> JobRecord | None: ...


class ObservedApp(RecordSource, Protocol):
    """An app whose workers tell observers."""

    observers: list[WorkerObserver]


class WorkerObserver(Protocol):
    """Told about each attempt a worker runs."""

    async def attempt_started(self, app: RecordSource, job: ClaimedJob) -> None:
        """The claim is stored: the job is running (attempt ``job.attempt``)."""
        ...

    async def attempt_finished(
        self, app: RecordSource, job: ClaimedJob, outcome: Outcome | None,
        error: BaseException | None,
    ) -> None:
        """The attempt's outcome is stored (``outcome.state``: completed, failed,
        pending = retrying, waiting = a durable run asleep); ``outcome`` is None when the
        worker lost the job (cancelled while running, or rescued elsewhere). ``error``
        is the exception that ended a failed or retried attempt."""
        ...


__all__ = ["ObservedApp", "RecordSource", "WorkerObserver"]
