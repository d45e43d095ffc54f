"""The Store protocol: the only interface the rest of conveyor uses to reach a database.

Times are floats (seconds since the epoch, UTC). A store uses its own clock for
due times and leases (the database clock on PostgreSQL), so hosts with skewed
clocks agree. Every write a worker makes on a running job carries the job's
lease ``token``; a write whose token no longer matches changes nothing (fencing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from conveyor.clock import Clock
from conveyor.states import FINISHED, PENDING, STATES, JobState
from conveyor.stores.base_durable import DurableStore, EventRow, StepRow
from conveyor.stores.base_flow import FlowRule, FlowStore
from conveyor.stores.base_schedules import ScheduleGap, ScheduleRow, ScheduleStore
from conveyor.stores.base_workflows import WorkflowStore

# A job rescued this many times in a row without finishing is failed as poison.
POISON_RESCUES = 3


@dataclass(slots=True)
class NewJob:
    """A job to insert. JSON fields are already-serialised text."""

    job: str
    args: str = "[]"
    kwargs: str = "{}"
    payload: str = "null"
    queue: str = "default"
    priority: int = 0
    run_at: float | None = None  # absolute due time; None = store clock + delay
    delay: float = 0.0
    key: str | None = None
    owner: str | None = None
    dedupe: str | None = None  # "replace" | "unique" | None
    max_attempts: int = 1
    retry: str | None = None  # Retry.to_json() as JSON text
    timeout: float | None = None
    retention: float | None = None
    remove_delay: float | None = None
    version: str | None = None
    schedule_id: str | None = None
    fire_at: float | None = None  # the schedule occurrence this job is
    rescheduled_from: int | None = None
    event_id: str | None = None
    concurrency_key: str | None = None  # the job's limit group (flow control)
    trace_context: str | None = None  # W3C trace context of the trigger (JSON), for tracing
    # Workflows (stores/graphlogic.py): ids this job waits for, earlier jobs of the same
    # insert it waits for (by position), how it receives their results ("one" | "all"),
    # and for a durable run's child: the run, its step's seq and the child's index.
    depends_on: list[int] | None = None
    after: list[int] | None = None
    pipe: str | None = None
    parent_id: int | None = None
    parent_seq: int | None = None
    child_index: int | None = None

    @property
    def linked(self) -> bool:
        """Whether inserting it needs the workflow columns set (graphlogic.link)."""
        return bool(self.depends_on or self.after or self.parent_id is not None)


@dataclass(slots=True)
class ClaimedJob:
    """A job a worker holds a lease on."""

    id: int
    job: str
    args: str
    kwargs: str
    attempt: int
    token: int
    max_attempts: int
    retry: str | None
    timeout: float | None
    run_at: float
    started_at: float
    owner: str | None = None
    key: str | None = None
    queue: str = "default"
    version: str | None = None
    schedule_id: str | None = None
    event_id: str | None = None
    trace_context: str | None = None


@dataclass(slots=True)
class Outcome:
    """What a worker reports about a job it held.

    ``state`` is "completed", "failed", "cancelled", "pending" (retry later) or
    "waiting" (a durable run asleep until ``run_at``, or an event when None).
    """

    id: int
    token: int
    state: str
    finished_at: float
    result: str | None = None
    error: str | None = None  # JSON {"type", "message", "traceback"}
    run_at: float | None = None
    delay: float | None = None
    version: str | None = None


@dataclass(slots=True)
class LogLine:
    job_id: int
    attempt: int
    at: float
    level: str
    message: str


@dataclass(slots=True)
class Progress:
    job_id: int
    token: int
    fraction: float
    message: str | None


@dataclass(slots=True)
class JobRow:
    """One stored job, as read back from the store."""

    id: int
    job: str
    args: str
    kwargs: str
    payload: str
    state: str  # PENDING is resolved to scheduled/queued by the store
    priority: int
    queue: str
    key: str | None
    owner: str | None
    attempts: int
    max_attempts: int
    run_at: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: str | None
    error: str | None
    progress: float | None
    progress_message: str | None
    version: str | None
    rescheduled_from: int | None
    schedule_id: str | None
    event_id: str | None
    history: str | None
    retry: str | None
    timeout: float | None
    lease_expires_at: float | None
    worker_id: str | None
    concurrency_key: str | None = None
    parent_id: int | None = None


@dataclass(slots=True)
class JobFilter:
    """Which jobs a query or bulk action applies to. Empty = all."""

    states: Sequence[str] | None = None  # public state names
    jobs: Sequence[str] | None = None
    queues: Sequence[str] | None = None
    owner: str | None = None
    any_owner: bool = True  # False: match owner exactly (None = system)
    key: str | None = None
    ids: Sequence[int] | None = None
    data: Any = None  # payload subset to match
    text: str | None = None  # substring of payload or error
    created_after: float | None = None
    created_before: float | None = None
    schedule_id: str | None = None
    event_id: str | None = None
    id_below: int | None = None  # keyset pagination: only ids < this
    id_above: int | None = None  # and only ids > this (bounds a scan, e.g. text search)
    parent_id: int | None = None  # children of this durable run


@dataclass(slots=True)
class WorkerInfo:
    id: str
    host: str
    pid: int
    queues: str
    concurrency: int
    started_at: float = 0.0
    heartbeat_at: float = 0.0
    stopped_at: float | None = None


class Waiter(Protocol):
    """Blocks until the store may have new work (another process enqueued)."""

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class Store(DurableStore, ScheduleStore, FlowStore, WorkflowStore, Protocol):
    """Everything conveyor asks of a database (durable runs, events and schedules: the
    protocols in :mod:`conveyor.stores.base_durable` and :mod:`~.base_schedules`)."""

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

    def migrate(self) -> list[str]:
        """Create or upgrade the schema; returns the names of applied migrations."""
        ...

    def schema_state(self) -> str:
        """Without writing anything: "missing" (no conveyor tables), "old" (migrations
        are pending) or "current"."""
        ...

    # -- writing jobs ---------------------------------------------------------
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

    def heartbeat(
        self, worker_id: str, held: dict[int, int], lease: float
    ) -> set[int]:
        """Renew leases on ``held`` ({id: token}); returns ids this worker lost."""
        ...

    def release(self, held: dict[int, int]) -> int:
        """Give jobs back (graceful shutdown): pending, due now, attempt not counted."""
        ...

    def rescue(self) -> int:
        """Requeue running jobs whose lease expired (poison after POISON_RESCUES)."""
        ...

    def write_progress(self, items: Sequence[Progress], logs: Sequence[LogLine]) -> None: ...

    # -- reading --------------------------------------------------------------
    def get(self, job_id: int) -> JobRow | None: ...

    def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        """(public state, result JSON, error JSON) or None."""
        ...

    def list_jobs(
        self, flt: JobFilter, limit: int = 100, offset: int = 0, newest_first: bool = True
    ) -> list[JobRow]: ...

    def count(self, flt: JobFilter) -> int: ...

    def counts_by_state(self) -> dict[str, int]: ...

    def logs(self, job_id: int) -> list[LogLine]: ...

    def next_due(self, queues: Sequence[str] | None) -> float | None:
        """The earliest due time of a pending job (None if there is none)."""
        ...

    def throughput(self, since: float, bucket: float) -> list[tuple[float, int, int]]:
        """(bucket start, completed, failed) for finished jobs since ``since``."""
        ...

    # -- acting on jobs -------------------------------------------------------
    def cancel(self, flt: JobFilter) -> int:
        """Cancel matching pending, waiting or running jobs; returns how many."""
        ...

    def retry_job(self, job_id: int) -> bool:
        """Put a finished (failed/cancelled/completed) job back to run now."""
        ...

    def purge(self, flt: JobFilter | None, expired_only: bool) -> int:
        """Delete finished jobs: those past their purge time, or all matching."""
        ...

    # -- workers and leadership -----------------------------------------------
    def register_worker(self, info: WorkerInfo) -> None: ...

    def worker_heartbeat(self, worker_id: str) -> None: ...

    def unregister_worker(self, worker_id: str) -> None: ...

    def workers(self, alive_within: float) -> list[WorkerInfo]: ...

    def try_lead(self, name: str, holder: str, ttl: float) -> bool:
        """Take or renew the named leadership for ``ttl`` seconds."""
        ...

    def open_waiter(self) -> Waiter: ...

    def expiring(self) -> bool:
        """Whether any finished job has a purge time or a cleanup policy is stored
        (retention cleanup has work)."""
        ...

    # -- cleanup policies (app.include) -------------------------------------------
    def save_cleanup(self, policies: Mapping[str, float]) -> None:
        """Store ``{job id: seconds}``: finished jobs of that id are purged (by
        ``purge(None, expired_only=True)``) that long after they finished."""
        ...

    def cleanup_policies(self) -> dict[str, float]:
        """The stored cleanup policies, ``{job id: seconds}``."""
        ...


__all__ = [
    "FINISHED", "PENDING", "POISON_RESCUES", "STATES", "ClaimedJob", "DurableStore",
    "EventRow", "FlowRule", "FlowStore", "JobFilter", "JobRow", "JobState", "LogLine",
    "NewJob", "Outcome", "Progress",
    "ScheduleGap", "ScheduleRow", "ScheduleStore", "StepRow", "Store", "Waiter", "WorkerInfo",
    "WorkflowStore",
]
