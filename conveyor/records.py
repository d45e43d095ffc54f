"""JobRecord: a stored job as users read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.errors import ConfigurationError
from conveyor.priority import Priority
from conveyor.serialization import as_error, payload_of, read_error, read_stored
from conveyor.states import FINISHED
from conveyor.stores.base import JobRow, LogLine
from conveyor.timeunits import FAR_FUTURE


def utc(ts: float | None) -> datetime | None:
    """Epoch seconds to an aware UTC datetime. A time stored between two microseconds
    (a jittered retry, a fractional delay) reads as the later one, so a clock moved to a
    record's ``run_at`` has reached it."""
    if ts is None:
        return None
    try:
        if ts >= FAR_FUTURE:
            return None
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError, TypeError):  # no time a reader can show
        return None
    return moment + timedelta(microseconds=1) if moment.timestamp() < ts else moment


def _same(kept: Any, own: float | None, number: int, row: JobRow) -> datetime | None:
    """A time of a kept attempt; the job's latest attempt reads its time from the job's
    own column when they are the same moment (SQLite's JSON keeps 15 digits: 10 µs)."""
    if not isinstance(kept, (int, float)):
        return None
    if number == row.attempts and own is not None and abs(kept - own) < 1e-4:
        return utc(own)
    return utc(kept)


def _history(row: JobRow) -> list[Attempt]:
    """The kept attempts; entries that are not an attempt (a row written by hand or by
    other software) are left out rather than failing the read."""
    kept = read_stored(row.history, [])
    history = []
    for h in kept if isinstance(kept, list) else []:
        number = h.get("number") if isinstance(h, dict) else None
        if isinstance(number, int) and not isinstance(number, bool):
            history.append(Attempt(
                number, _same(h.get("started_at"), row.started_at, number, row),
                _same(h.get("finished_at"), row.finished_at, number, row),
                as_error(h.get("error"))))
    return history


def _payload(row: JobRow, args: Any, kwargs: Any) -> Any:
    """The payload the job was given (SPEC: its single positional argument, else its
    keyword arguments), as the stored arguments give it: keys in their order and numbers
    as written, where PostgreSQL's ``jsonb`` payload column (kept for ``data=`` filters)
    keeps no key order and rewrites numbers (``1e300`` reads back as an int). A chain
    member was given the arguments after the previous result that was put first; the
    payload column when neither reads as it (a row written by other software)."""
    stored = read_stored(row.payload)
    if isinstance(args, list) and isinstance(kwargs, dict):
        given = payload_of(args, kwargs)
        if _alike(given, stored):
            return given
        if args and _alike(given := payload_of(args[1:], kwargs), stored):
            return given
    return stored


def _alike(given: Any, stored: Any) -> bool:
    """Whether JSON value ``stored`` is ``given`` as ``jsonb`` reads it back (keys in
    any order, numbers written another way). A loop, not recursion: payloads may nest
    deeper than Python's recursion limit."""
    pending = [(given, stored)]
    while pending:
        given, stored = pending.pop()
        if isinstance(given, dict):
            if not (isinstance(stored, dict) and given.keys() == stored.keys()):
                return False
            pending.extend((value, stored[key]) for key, value in given.items())
        elif isinstance(given, list):
            if not (isinstance(stored, list) and len(given) == len(stored)):
                return False
            pending.extend(zip(given, stored, strict=True))
        elif not _same_scalar(given, stored):
            return False
    return True


def _same_scalar(given: Any, stored: Any) -> bool:
    if isinstance(given, bool) or isinstance(stored, bool):
        return given is stored
    if isinstance(given, int | float) and isinstance(stored, int | float):
        try:
            return given == stored or float(given) == float(stored)
        except OverflowError:  # an int past any float
            return False
    return bool(given == stored)


def _priority(value: Any) -> Priority:
    """A stored priority; one no trigger stores (past int32, which SQLite holds, or text
    that is no level name) reads as the nearest it could be."""
    if isinstance(value, int):
        return Priority(min(max(value, -(2**31)), 2**31 - 1))
    try:
        return Priority(value)
    except ConfigurationError:
        return Priority(0)


def _whole(value: Any) -> int | None:
    """An int column as stored; anything else there (SQLite holds text and reals written
    by hand) reads as None."""
    return value if isinstance(value, int) else None


def _owner(row: JobRow) -> str | int | None:
    """The owner as given: an int owner reads back as an int (text that is no number,
    written by other software, as the text)."""
    if row.owner_int and row.owner is not None:
        try:
            return int(row.owner)
        except ValueError:
            pass
    return row.owner


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime | None
    finished_at: datetime | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    level: str
    message: str
    attempt: int


@dataclass(frozen=True)
class JobRecord:
    """Everything stored about one job. Datetimes are timezone-aware UTC."""

    id: int
    job: str
    args: list[Any]
    kwargs: dict[str, Any]
    state: str
    priority: Priority  # an int that also equals its level name ("high")
    queue: str
    key: str | None
    owner: str | int | None  # as given: an int owner reads back as an int
    attempts: int
    max_attempts: int
    run_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: Any
    error: dict[str, Any] | None
    progress: float | None
    progress_message: str | None
    version: str | None
    rescheduled_from: int | None
    schedule_id: str | None
    event_id: str | None
    payload: Any
    logs: list[LogEntry] = field(default_factory=list)
    history: list[Attempt] = field(default_factory=list)
    lease_expires_at: datetime | None = None
    worker_id: str | None = None
    concurrency_key: str | None = None
    # Workflows: the durable run that started this one, the jobs it waits for (in order),
    # the runs it started (in order) and the jobs that wait for it.
    parent_id: int | None = None
    depends_on: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    dependents: list[int] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @classmethod
    def from_row(
        cls, row: JobRow, logs: list[LogLine] | None = None, depends_on: list[int] | None = None,
        children: list[int] | None = None, dependents: list[int] | None = None,
    ) -> JobRecord:
        history = _history(row)
        # A durable run asleep between executions gives its attempt back, to take again
        # when it wakes; the attempt it started still counts.
        attempts = row.attempts + (row.state == "waiting" and row.started_at is not None)
        if attempts > len(history) and row.started_at is not None:
            finished = row.finished_at if row.state in ("completed", "cancelled") else None
            history.append(Attempt(attempts, utc(row.started_at), utc(finished), None))
        created = utc(row.created_at) or datetime.fromtimestamp(0, UTC)
        args, kwargs = read_stored(row.args), read_stored(row.kwargs)
        return cls(
            id=row.id,
            job=row.job,
            args=args if isinstance(args, list) else [],
            kwargs=kwargs if isinstance(kwargs, dict) else {},
            state=row.state,
            priority=_priority(row.priority),
            queue=row.queue,
            key=row.key,
            owner=_owner(row),
            attempts=attempts,
            max_attempts=max(_whole(row.max_attempts) or 0, attempts),  # rescues go past it
            run_at=utc(row.run_at),
            created_at=created,
            started_at=utc(row.started_at),
            finished_at=utc(row.finished_at),
            result=read_stored(row.result),
            error=read_error(row.error) if row.state != "completed" else None,
            progress=row.progress,
            progress_message=row.progress_message,
            version=row.version,
            rescheduled_from=row.rescheduled_from,
            schedule_id=row.schedule_id,
            event_id=row.event_id,
            payload=_payload(row, args, kwargs),
            logs=[LogEntry(utc(g.at) or created, g.level, g.message, g.attempt)
                  for g in logs or []],
            history=history,
            lease_expires_at=utc(row.lease_expires_at),
            worker_id=row.worker_id,
            concurrency_key=row.concurrency_key,
            parent_id=_whole(row.parent_id),
            depends_on=depends_on or [],
            children=children or [],
            dependents=dependents or [],
        )
