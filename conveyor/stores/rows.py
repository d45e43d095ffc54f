"""The rows stores take and give: plain dataclasses (no behaviour, no imports of conveyor).

Times are floats (seconds since the epoch, UTC); JSON fields are already-serialised text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload


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
    owner_int: bool | None = None  # True: the owner was given as an int (read back as one)
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


class Alike(Sequence[NewJob]):
    """Jobs equal in every field but ``varying`` (enqueue_many's calls of one job with
    one set of options), held as columns: ``first`` for the fields they share, and one
    sequence per varying field given (the others as in ``first``). A bulk insert reads
    the columns (``columnar``); whoever reads a job gets a real :class:`NewJob`, and from
    then on the jobs are those objects (changed or not), built once. Whoever changes a
    job of it changes that field of every job, or names it in ``varying``."""

    varying: tuple[str, ...] = ("args", "kwargs", "payload", "concurrency_key",
                                "trace_context")

    def __init__(self, first: NewJob, size: int, columns: dict[str, Sequence[Any]]) -> None:
        self._first, self._size, self._columns = first, size, columns
        self._jobs: list[NewJob] | None = None

    @property
    def first(self) -> NewJob:
        """The first job: its fields outside ``varying`` are every job's."""
        return self._first if self._jobs is None else self._jobs[0]

    def columnar(self) -> tuple[NewJob, dict[str, Sequence[Any]]] | None:
        """``first`` and the varying columns, while no job was read as an object."""
        return (self._first, self._columns) if self._jobs is None else None

    def jobs(self) -> list[NewJob]:
        """The jobs as objects (built on first use)."""
        if self._jobs is None:
            template = {name: getattr(self._first, name) for name in NewJob.__slots__}
            names = tuple(self._columns)
            rows = zip(*self._columns.values(), strict=True) if names else [()] * self._size
            self._jobs = [NewJob(**template | dict(zip(names, values, strict=True)))
                          for values in rows]
        return self._jobs

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> NewJob: ...
    @overload
    def __getitem__(self, index: slice) -> list[NewJob]: ...
    def __getitem__(self, index: int | slice) -> NewJob | list[NewJob]:
        return self.jobs()[index]

    def __iter__(self) -> Iterator[NewJob]:
        return iter(self.jobs())


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
    # Seconds it waited in its worker for a slot after its claim (set as it starts): it
    # started at started_at + waited (the store's started_at is the claim's time).
    waited: float = 0.0
    # Its worker's deadline to start it (time.monotonic()): past it, its lease may end
    # before a heartbeat renews it, or may have ended (conveyor.worker.claims.START_WITHIN).
    start_by: float = math.inf


class Claimed(list[ClaimedJob]):
    """What ``complete_and_claim`` returns: the claimed jobs, and how many of the outcomes
    were stored (``stored``; None: not told). An outcome the store refused was fenced: its
    lease was taken (most often by a cancel) before it arrived."""

    def __init__(self, jobs: Sequence[ClaimedJob] = (), stored: int | None = None) -> None:
        super().__init__(jobs)
        self.stored = stored


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
    owner_int: bool | None = None  # True: ``owner`` was given as an int


@dataclass(slots=True)
class JobFilter:
    """Which jobs a query or bulk action applies to. Empty = all."""

    states: Sequence[str] | None = None  # public state names, or LOST (running, lease expired)
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
    hidden_jobs: Sequence[str] | None = None  # never these jobs' (conveyor's own)


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


__all__ = [
    "ClaimedJob", "JobFilter", "JobRow", "LogLine", "NewJob", "Outcome", "Progress",
    "WorkerInfo",
]
