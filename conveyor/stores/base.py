"""The Store protocol: the only interface the rest of conveyor uses to reach a database.

Times are floats (seconds since the epoch, UTC). A store uses its own clock for
due times and leases (the database clock on PostgreSQL), so hosts with skewed
clocks agree. Every write a worker makes on a running job carries the job's
lease ``token``; a write whose token no longer matches changes nothing (fencing).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from conveyor.clock import Clock
from conveyor.states import FINISHED, LOST, PENDING, STATES, JobState
from conveyor.stores.base_durable import DurableStore, EventRow, StepRow, StepWrite
from conveyor.stores.base_flow import FlowRule, FlowStore
from conveyor.stores.base_schedules import ScheduleGap, ScheduleRow, ScheduleStore
from conveyor.stores.base_workflows import WorkflowStore
from conveyor.stores.rows import (
    Claimed,
    ClaimedJob,
    JobFilter,
    JobRow,
    LogLine,
    NewJob,
    Outcome,
    Progress,
    WorkerInfo,
)

# A job rescued this many times in a row without finishing is failed as poison, when its
# worker held only it each time (it most likely killed it). A rescue of a job whose worker
# held other jobs too counts for less: any of them, or something outside (kill -9, a lost
# host), may have ended the worker, so such a job is failed after SHARED_RESCUES.
POISON_RESCUES = 3
SHARED_RESCUES = 9


class Waiter(Protocol):
    """Blocks until the store may have new work (another process enqueued)."""

    # True: it wakes only when jobs were stored or became ready (claim at once); False:
    # on any write (the worker reads the next due time before claiming).
    precise: bool
    # Optional ``listening``: False while notifications are down (a LISTEN connection
    # reconnecting); the worker then reads the due time every poll_interval. Optional
    # ``rest()``: the worker is busy, wake-ups may stop until the next ``wait``.

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class HotPathStore(Protocol):
    """What triggering and the worker loop use on every job: insert, claim, complete,
    heartbeat (plus opening, the clock and waiting for work)."""

    url: str

    def use_clock(self, clock: Clock | None) -> None:
        """Decide due times and leases on ``clock`` from now on (None: the store's own)."""
        ...

    def clone(self) -> Store:
        """A store for another thread (its own connection), or self if shared."""
        ...

    def close(self) -> None: ...

    def now(self) -> float:
        """The store's clock (the one given to :meth:`use_clock`, if any)."""
        ...

    def wake(self) -> None:
        """Ask every worker to look for due work now (a clock given to :meth:`use_clock`
        moved: nothing was stored, so nothing else would tell them)."""
        ...

    def migrate(self) -> list[str]:
        """Create or upgrade the schema; returns the names of applied migrations."""
        ...

    def schema_state(self) -> str:
        """Without writing anything: "missing" (no conveyor tables), "old" (migrations
        are pending) or "current"."""
        ...

    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        """Store jobs durably (one transaction); returns ids in order.

        ``connection``: a database connection of the caller's whose transaction the jobs
        join (PostgreSQL: a psycopg Connection); stores that cannot do this refuse it.

        For ``dedupe="unique"`` an existing pending match's id is returned instead;
        for ``"replace"`` pending matches are cancelled first.
        """
        ...

    def claim(
        self, worker_id: str, queues: Sequence[str] | None, limit: int, lease: float
    ) -> list[ClaimedJob]: ...

    def complete(self, outcomes: Sequence[Outcome]) -> int:
        """Record outcomes (fenced by token); returns how many rows changed."""
        ...

    def complete_and_claim(
        self, outcomes: Sequence[Outcome], worker_id: str, queues: Sequence[str] | None,
        limit: int, lease: float,
    ) -> list[ClaimedJob]:
        """``complete(outcomes)`` then ``claim(...)`` (``limit`` 0: none) in one
        transaction: all or nothing; the claim sees the slots the outcomes free. A store
        may return a :class:`Claimed` telling how many outcomes it stored: the worker then
        reports a fenced outcome as what the store holds (a cancel that won the race)."""
        ...

    def heartbeat(
        self, worker_id: str, held: dict[int, int], lease: float
    ) -> set[int]:
        """Renew leases on ``held`` ({id: token}); returns ids this worker lost."""
        ...

    def release(self, held: dict[int, int]) -> int:
        """Give jobs back (graceful shutdown): pending, due now, attempt not counted."""
        ...

    def write_progress(self, items: Sequence[Progress], logs: Sequence[LogLine]) -> None: ...

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        """The earliest due time of a pending job (None if there is none)."""
        ...

    def register_worker(self, info: WorkerInfo) -> None: ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def open_waiter(self) -> Waiter: ...



class MaintenanceStore(Protocol):
    """What the elected leader's periodic services use: rescue, leadership, retention
    (schedules and events: :class:`ScheduleStore`, :class:`DurableStore`)."""

    def rescue(self, only: Collection[int] | None = None) -> int:
        """Requeue running jobs whose lease expired (poison after POISON_RESCUES); with
        ``only``, just those of these ids."""
        ...

    def try_lead(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the named leadership for ``ttl`` seconds."""
        ...

    def expiring(self) -> bool:
        """Whether any finished job has a purge time or a cleanup policy is stored
        (retention cleanup has work)."""
        ...

    def purge_due(self) -> bool:
        """Whether a finished job's purge time (its retention or remove delay) has come."""
        ...

    # -- cleanup policies (app.include) -------------------------------------------
    def save_cleanup(self, policies: Mapping[str, float]) -> None:
        """Store ``{job id: seconds}``: finished jobs of that id are purged (by
        ``purge(None, expired_only=True)``) that long after they finished."""
        ...

    def cleanup_policies(self) -> dict[str, float]:
        """The stored cleanup policies, ``{job id: seconds}``."""
        ...




class ReadStore(Protocol):
    """What the dashboard, the CLI and app queries use: lists, counts, search, and the
    actions they offer on jobs (cancel, retry, purge)."""

    def get(self, job_id: int) -> JobRow | None: ...

    def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        """(public state, result JSON, error JSON) or None."""
        ...

    def list_jobs(
        self, flt: JobFilter, limit: int = 100, offset: int = 0, newest_first: bool = True
    ) -> list[JobRow]: ...

    def count(self, flt: JobFilter) -> int: ...

    def unstarted_schedules(self, flt: JobFilter) -> list[str]:
        """The schedules whose next occurrence (a job never started) matches ``flt``."""
        ...

    def counts_by_state(self) -> dict[str, int]: ...

    def logs(self, job_id: int) -> list[LogLine]: ...

    def logs_of(self, ids: Sequence[int]) -> dict[int, list[LogLine]]:
        """{job: its log lines in order} of ``ids`` (those with any)."""
        ...

    def throughput(self, since: float, bucket: float) -> list[tuple[float, int, int]]:
        """(bucket start, completed, failed) for finished jobs since ``since``."""
        ...

    def workers(self, alive_within: float) -> list[WorkerInfo]: ...

    def cancel(self, flt: JobFilter) -> int:
        """Cancel matching pending, waiting or running jobs; returns how many."""
        ...

    def retry_jobs(self, ids: Sequence[int]) -> list[int]:
        """Put the finished (failed/cancelled/completed) jobs among ``ids`` back to run
        now; returns their ids."""
        ...

    def purge(self, flt: JobFilter | None, expired_only: bool) -> int:
        """Delete finished jobs: those past their purge time, or all matching."""
        ...


class Store(
    HotPathStore, MaintenanceStore, ReadStore, DurableStore, ScheduleStore, FlowStore,
    WorkflowStore, Protocol,
):
    """Everything conveyor asks of a database; each caller depends on the part it uses
    (durable runs, events and schedules: :mod:`conveyor.stores.base_durable` and
    :mod:`~.base_schedules`)."""


__all__ = [
    "FINISHED", "LOST", "PENDING", "POISON_RESCUES", "SHARED_RESCUES", "STATES", "Claimed",
    "ClaimedJob", "DurableStore",
    "EventRow", "FlowRule", "FlowStore", "HotPathStore", "JobFilter", "JobRow", "JobState",
    "LogLine", "MaintenanceStore", "NewJob", "Outcome", "Progress", "ReadStore", "ScheduleGap",
    "ScheduleRow", "ScheduleStore", "StepRow", "StepWrite", "Store", "Waiter", "WorkerInfo",
    "WorkflowStore",
]
