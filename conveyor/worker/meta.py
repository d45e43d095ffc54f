"""What a running job sees: ``meta`` (and ``job`` for Reaction-style workers)."""

from __future__ import annotations

import logging
import math
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConfigurationError
from conveyor.stores.base import ClaimedJob, LogLine, Progress
from conveyor.text import MAX_LOG_LINE, MAX_PROGRESS_MESSAGE, clean

if TYPE_CHECKING:
    from conveyor.records import JobRecord
    from conveyor.registry import JobRegistry
    from conveyor.worker.childjobs import ChildJobs

_py_logger = logging.getLogger("conveyor.job")


class Buffer:
    """Progress and log lines waiting to be written (flushed by the worker in batches)."""

    def __init__(self) -> None:
        self.progress: dict[int, Progress] = {}
        self.logs: list[LogLine] = []

    def take(self) -> tuple[list[Progress], list[LogLine]]:
        progress, logs = list(self.progress.values()), self.logs
        self.progress, self.logs = {}, []
        return progress, logs

    def __bool__(self) -> bool:
        return bool(self.progress or self.logs)


class LineLogger:
    """``meta.log``'s methods: each formats its line (``%`` args, like logging; a bad
    format never fails the job), cleans it and hands it to :meth:`_write`. They take
    logging's keywords: ``exc_info`` adds a traceback, ``stack_info`` the stack;
    ``extra`` and ``stacklevel`` are accepted and have nothing to do here."""

    def _add(self, level: str, message: Any, args: tuple[Any, ...],
             options: dict[str, Any], exc_info: Any = False) -> None:
        unknown = sorted(set(options) - _LOGGING_KEYWORDS)
        if unknown:
            raise TypeError(f"meta.log got an unexpected keyword argument {unknown[0]!r}; "
                            f"accepted: {', '.join(sorted(_LOGGING_KEYWORDS))}")
        # logging's rule: one non-empty mapping fills "%(name)s" fields
        values = args[0] if len(args) == 1 and isinstance(args[0], Mapping) and args[0] else args
        try:
            text = message % values if args else str(message)
        except (TypeError, ValueError):
            text = f"{message} {args!r}"
        tail = _traceback(options.get("exc_info", exc_info))
        if options.get("stack_info"):
            tail += "Stack (most recent call last):\n" + "".join(traceback.format_stack())
        tail = tail.rstrip()
        self._write(level, clean(f"{text}\n{tail}" if tail else text, MAX_LOG_LINE))

    def _write(self, level: str, text: str) -> None:
        raise NotImplementedError

    def debug(self, message: Any, *args: Any, **options: Any) -> None:
        self._add("debug", message, args, options)

    def info(self, message: Any, *args: Any, **options: Any) -> None:
        self._add("info", message, args, options)

    def warning(self, message: Any, *args: Any, **options: Any) -> None:
        self._add("warning", message, args, options)

    warn = warning

    def error(self, message: Any, *args: Any, **options: Any) -> None:
        self._add("error", message, args, options)

    def exception(self, message: Any, *args: Any, **options: Any) -> None:
        """``error`` with the traceback of the exception being handled, as logging's."""
        self._add("error", message, args, options, exc_info=True)

    def critical(self, message: Any, *args: Any, **options: Any) -> None:
        self._add("critical", message, args, options)

    fatal = critical

    def __call__(self, message: Any, *args: Any, level: int | str = "info",
                 **options: Any) -> None:
        """Reaction's ``job.log(message)``: a line at ``level`` (default info; its
        ``success`` and ``danger`` read as info and error)."""
        self.log(_REACTION_LEVELS.get(level, level) if isinstance(level, str) else level,
                 message, *args, **options)

    def log(self, level: int | str, message: Any, *args: Any, **options: Any) -> None:
        """A line at a logging level: ``logging.INFO`` (or any int) or a level name."""
        number = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
        if not isinstance(number, int):
            raise ConfigurationError(f"unknown log level {level!r}; accepted: debug, info, "
                                     "warning, error, critical or a logging level number")
        name = next((n for floor, n in _LEVELS if number >= floor), "debug")
        self._add(name, message, args, options)


_LOGGING_KEYWORDS = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})
_REACTION_LEVELS = {"success": "info", "danger": "error"}


def _traceback(exc_info: Any) -> str:
    """logging's ``exc_info``: True (the exception being handled), an exception or an
    ``exc_info()`` tuple, as traceback text ("" when there is none)."""
    if isinstance(exc_info, BaseException):
        return "".join(traceback.format_exception(exc_info))
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        return "".join(traceback.format_exception(*exc_info))
    if exc_info and not isinstance(exc_info, tuple) and sys.exc_info()[0] is not None:
        return traceback.format_exc()
    return ""


# logging's level numbers from the top: the name a stored line gets for a level.
_LEVELS = ((logging.CRITICAL, "critical"), (logging.ERROR, "error"),
           (logging.WARNING, "warning"), (logging.INFO, "info"))


class JobLog(LineLogger):
    """A logger whose lines are stored with the run (and echoed to Python logging)."""

    def __init__(self, claimed: ClaimedJob, buffer: Buffer,
                 now: Callable[[], float] = time.time) -> None:
        self._claimed = claimed
        self._buffer = buffer
        self._now = now  # the app's clock, as the attempt's own times

    def _write(self, level: str, text: str) -> None:
        self._buffer.logs.append(
            LogLine(self._claimed.id, self._claimed.attempt, self._now(), level, text)
        )
        _py_logger.log(
            logging.getLevelName(level.upper()), "[%s #%s] %s", self._claimed.job,
            self._claimed.id, text,
        )


def fraction(value: float) -> float:
    """0..1 as is; 1 < value <= 100 as a percentage."""
    accepted = "accepted: a fraction 0..1 or a percent 0..100"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise ConfigurationError(f"progress must be a finite number, got {value!r}; {accepted}")
    if value < 0 or value > 100:  # (an int past float's range too)
        raise ConfigurationError(f"progress {value!r} is out of range; {accepted}")
    return value / 100.0 if value > 1 else float(value)


class Reported:
    """What ``meta.progress(...)`` returns: nothing to wait for (progress is stored with
    the next batch), but ``await meta.progress(...)`` in an async job works too."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator: awaiting it finishes at once


REPORTED = Reported()


class Meta:
    """The ``meta`` parameter: this run's record, other jobs, a stored log, progress."""

    def __init__(
        self, claimed: ClaimedJob, jobs: JobRegistry, buffer: Buffer, load: Any,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._claimed = claimed
        self._buffer = buffer
        self._load = load
        self.jobs = jobs
        self.log = JobLog(claimed, buffer, now)
        self.id = claimed.id
        self.attempt = claimed.attempt

    @property
    def job(self) -> JobRecord:
        """This job's stored record (read when asked for)."""
        record: JobRecord = self._load(self._claimed.id)
        return record

    def progress(self, value: float, message: str | None = None) -> Reported:
        """Report progress: a fraction (0..1) or a percent (0..100), with a message."""
        self._buffer.progress[self._claimed.id] = Progress(
            self._claimed.id, self._claimed.token, fraction(value),
            None if message is None else clean(message, MAX_PROGRESS_MESSAGE),
        )
        return REPORTED

    def serve(self, request: tuple[Any, ...]) -> tuple[Any, ...]:
        """A trigger the attempt's child process asked for (isolation): stored here."""
        from conveyor.worker.childjobs import serve

        return serve(self.jobs, request)

    def note(self, note: tuple[Any, ...]) -> None:
        """A log line or progress that the attempt's child process sent (isolation)."""
        if note[0] == "log":
            self.log._write(note[1], note[2])
        elif note[0] == "progress":
            self.progress(note[1], note[2])


class ChildLog(LineLogger):
    def __init__(self, meta: ChildMeta) -> None:
        self._meta = meta

    def _write(self, level: str, text: str) -> None:
        self._meta.send(("log", level, text))


class ChildMeta:
    """``meta`` in the child process of an attempt with ``isolation="process"``:
    ``job`` is the record as the attempt started; log lines, progress and the triggers
    of ``meta.jobs`` go to the worker, which stores them as for any job."""

    def __init__(self, record: JobRecord | None, claimed: ClaimedJob) -> None:
        self.job = record
        self.id = claimed.id
        self.attempt = claimed.attempt
        self.log = ChildLog(self)
        self._pipe: Any = None  # the child's end: send() and recv()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # sent to the child: no pipe, no lock
        return {"job": self.job, "id": self.id, "attempt": self.attempt}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, log=ChildLog(self), _pipe=None, _lock=threading.Lock())

    def connect(self, pipe: Any) -> ChildMeta:
        self._pipe = pipe
        return self

    def send(self, note: tuple[Any, ...]) -> None:
        if self._pipe is not None:
            with self._lock:  # job threads may log at once; one pipe
                self._pipe.send(("note", note))

    def call(self, request: tuple[Any, ...]) -> Any:
        """Ask the worker (a trigger of ``meta.jobs``) and wait for its answer."""
        from conveyor.errors import PayloadError
        from conveyor.worker.childjobs import answer

        if self._pipe is None:
            raise ConfigurationError("meta.jobs is not connected to a worker here")
        with self._lock:  # one question at a time, answered in order
            try:
                self._pipe.send(("call", request))
            except (TypeError, AttributeError, ValueError, pickle.PickleError) as exc:
                raise PayloadError(f"the arguments cannot be sent to the worker ({exc}); "
                                   "pass JSON data") from None
            reply = self._pipe.recv()
        return answer(reply)

    def progress(self, value: float, message: str | None = None) -> Reported:
        """Report progress: a fraction (0..1) or a percent (0..100), with a message."""
        self.send(("progress", fraction(value),
                   None if message is None else clean(message, MAX_PROGRESS_MESSAGE)))
        return REPORTED

    @property
    def jobs(self) -> ChildJobs:
        """Trigger other jobs: stored by the worker (``.id`` of the new run returned)."""
        from conveyor.worker.childjobs import ChildJobs

        return ChildJobs(self.call)


class JobFailure(Exception):
    """``job.fail(message)`` in a Reaction-style worker: the attempt failed and is retried
    per the job's retry options (``raise conveyor.Fail(...)`` fails for good)."""


class ReactionJob:
    """The ``job`` a Reaction-style worker function receives."""

    def __init__(self, claimed: ClaimedJob, data: Any, meta: Meta) -> None:
        self.id = claimed.id
        self.type = claimed.job
        self.data = data
        self.log = meta.log
        self.attempt = claimed.attempt
        self._meta = meta
        self.outcome: tuple[str, str | None] | None = None

    def done(self, message: str | None = None) -> None:
        self.outcome = ("done", message)

    def fail(self, message: str) -> None:
        self.outcome = ("fail", message)

    def progress(self, value: float, total: float | str | None = None,
                 message: str | None = None) -> None:
        """A fraction (0..1) or a percent (0..100), or Reaction's ``(completed, total)``;
        a message as the second or the ``message`` argument."""
        if isinstance(total, str) and message is None:
            total, message = None, total
        if total is not None:
            if isinstance(total, bool) or not isinstance(total, int | float) or total <= 0:
                raise ConfigurationError(f"progress total must be a number > 0, got {total!r}")
            value = min(max(value / total, 0.0), 1.0)
        self._meta.progress(value, message)
