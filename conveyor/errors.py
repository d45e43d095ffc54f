"""Every public exception conveyor raises, in one place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


class ConveyorError(Exception):
    """Base class for conveyor's own errors."""


class ConfigurationError(ConveyorError, ValueError):
    """A bad URL, option or definition (raised before anything is stored)."""


class UnknownOptionError(ConfigurationError, TypeError):
    """A misspelt or unsupported keyword option (app, job definition or trigger): a
    ConfigurationError, and a TypeError as Python raises for an unexpected keyword."""


class PayloadError(ConveyorError, TypeError, ValueError):
    """A trigger's arguments cannot be stored as JSON; names the offending path. A
    TypeError and a ValueError, like the ones ``json.dumps`` raises for such values."""


class ArgumentsError(ConveyorError, TypeError):
    """A job was called with arguments its function does not accept."""


class ScheduleError(ConveyorError, ValueError):
    """Schedule text (English or cron) that cannot be read."""


class UnknownJobError(ConveyorError, KeyError):
    """No job with that id is defined on this app."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown job"


class StoreError(ConveyorError):
    """The store cannot be opened or reached (locked, corrupt, unreachable)."""


def store_closed(kind: str) -> StoreError:
    """What every store (``kind``: SQLite, PostgreSQL, memory) raises once its app was
    closed."""
    return StoreError(f"this {kind} store is closed (its app was closed); open a new "
                      "Conveyor(...) to use it again")


class AttemptCrashed(ConveyorError):
    """The child process of an ``isolation="process"`` attempt died: its message is the
    exit status (``killed by SIGABRT``)."""


# The end of the message of a store used before its tables exist (opened with migrate=False).
SCHEMA_MISSING = ("no conveyor schema there yet (or an older one): create or upgrade it with "
                  "`conveyor migrate`, or open the app with migrate=True")


class StoreMissing(StoreError):
    """A read-only command found no store (or one whose schema is older than this
    conveyor's) at the URL; nothing was created."""


class StoreUnavailable(StoreError):
    """A passing failure: the connection was lost, the server is restarting, a lock wait
    ran out. Trying again later may succeed (workers do so with a back-off)."""


class StoreBusy(StoreUnavailable):
    """Another process held the store's write lock longer than the busy timeout: nothing
    was written, so trying again is safe. ``waiting`` says what is awaited (for logs),
    ``timeout`` how long the store waited before giving up (seconds)."""

    def __init__(self, message: str, waiting: str = "waiting for the store's write lock",
                 timeout: float = 5.0) -> None:
        super().__init__(message)
        self.waiting = waiting
        self.timeout = timeout


class UniqueViolation(ConveyorError):
    """The store refused a row that a unique constraint already holds (e.g. a racing
    process stored the same unique job first)."""


class StoreDataError(ConveyorError, ValueError):
    """The store refused a value (out of range, or a character it cannot hold)."""


class ErrorInfo(dict[str, Any]):
    """A stored error: a dict with ``type``, ``message`` and ``traceback`` (and whatever
    else was stored), readable as ``error["message"]`` or ``error.message``."""

    @property
    def type(self) -> str | None:
        return self.get("type")

    @property
    def message(self) -> str | None:
        return self.get("message")

    @property
    def traceback(self) -> str | None:
        return self.get("traceback")


class JobFailed(ConveyorError):
    """Raised by ``JobHandle.result()`` when the job failed or was cancelled."""

    def __init__(self, job_id: int, state: str, error: dict[str, Any] | None) -> None:
        self.job_id = job_id
        self.state = state
        self.error = ErrorInfo(error or {})
        message = self.error.get("message") or state
        kind = self.error.get("type")
        super().__init__(f"job {job_id} {state}: {kind + ': ' if kind else ''}{message}")


class StepFailed(ConveyorError):
    """A durable step failed for good (its retries are spent). ``error`` holds the stored
    error (type, message, traceback); the same exception is raised on every replay.
    ``final``: the step ended on an error that is never retried (``Fail``, a refused fetch,
    a result JSON cannot hold), so left uncaught it fails the run without retrying too."""

    def __init__(self, key: str, error: dict[str, Any], final: bool = False) -> None:
        self.key = key
        self.error = error
        self.final = final
        kind = error.get("type")
        super().__init__(
            f"step {key!r} failed: {kind + ': ' if kind else ''}{error.get('message')}"
        )


class FetchRefused(ConveyorError, ValueError):
    """``io.background_fetch`` refused a URL (scheme, or a private address: SSRF guard)."""


class Fail(Exception):
    """Raise inside a job to fail it at once, without retrying."""


class NonDeterminismError(ConveyorError, Fail):
    """A durable run replayed into a step that differs from the stored one (the run fails
    at once, without retrying: nothing is silently mixed)."""


class RetryIn(Exception):
    """Raise inside a job to retry it after ``delay`` seconds, ``n`` of ``unit``
    (``RetryIn(2, "hours")``), a timedelta or text such as ``"5 minutes"``."""

    def __init__(self, delay: float | timedelta | str, unit: str = "seconds") -> None:
        self.delay = delay
        self.unit = unit
        spelled = delay if isinstance(delay, (str, timedelta)) else f"{delay} {unit}"
        super().__init__(f"retry in {spelled}")


class Interrupt(BaseException):
    """Control flow used by the engine (replay, suspension). Derives from BaseException so
    that ``except Exception:`` in user code cannot swallow it."""


class Suspend(Interrupt):
    """A durable run releases its worker until ``run_at`` (None: until an event arrives)."""

    def __init__(self, run_at: float | None) -> None:
        self.run_at = run_at
        super().__init__(f"suspended until {run_at}")


def is_internal(exc: BaseException) -> bool:
    """True for conveyor's own control-flow interrupts, which user code must re-raise."""
    return isinstance(exc, Interrupt)


class WorkerFailed(ConveyorError):
    """A worker stopped because it cannot go on (a background task kept failing, or the
    store stayed unreachable past the outage tolerance); its leases were released.
    ``run_worker`` raises it and ``conveyor worker`` exits non-zero, so a process
    supervisor restarts it."""


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the store is unreachable (worth retrying as it is), as
    opposed to the store refusing the data it was given."""
    # The stores turn driver errors into conveyor's own (StoreUnavailable for a lost
    # connection), so no driver exception is matched here.
    return isinstance(exc, StoreError | OSError)
