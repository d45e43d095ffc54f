"""Run one claimed job and turn what happened into an Outcome."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conveyor.clock import epoch
from conveyor.errors import (
    ConfigurationError,
    Fail,
    PayloadError,
    RetryIn,
    StepFailed,
    Suspend,
)
from conveyor.observe import tracing
from conveyor.retry import Retry
from conveyor.serialization import dumps
from conveyor.stores.base import ClaimedJob, Outcome
from conveyor.text import MAX_ERROR_MESSAGE, clean
from conveyor.timeunits import delay_seconds
from conveyor.worker.abandoned import abandon
from conveyor.worker.failure import error_json
from conveyor.worker.isolation import ChildFailed, in_thread, run_isolated
from conveyor.worker.meta import Buffer, ChildMeta, JobFailure, Meta, ReactionJob

log = logging.getLogger("conveyor.worker")

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.jobs import JobDefinition


# Seconds a coroutine cancelled by its timeout gets to end before it is abandoned.
CANCEL_GRACE = 1.0


class JobRunner:
    """Runs jobs for one worker: async on the loop, sync in threads."""

    def __init__(self, app: Host, buffer: Buffer) -> None:
        self.app = app
        self.buffer = buffer
        # job id -> the exception that ended its failed or retried attempt (for observers)
        self.errors: dict[int, BaseException] = {}
        self.native: dict[str, bool] = {}  # job name -> thread_native (without a timeout)

    async def run(self, claimed: ClaimedJob) -> Outcome:
        definition = self.app.definition(claimed.job)
        if definition is None:
            return self._undefined(claimed)
        try:
            with tracing.current(self.app, claimed):
                if definition.isolation == "process":
                    result = await _carried(self._isolated(definition, claimed))
                elif claimed.timeout:
                    result = await _within(_carried(self._attempt(definition, claimed)),
                                           claimed)
                else:  # (what _carried does, without a coroutine of its own)
                    attempt = self._attempt(definition, claimed)
                    try:
                        result = await attempt
                    except (KeyboardInterrupt, SystemExit) as exc:
                        raise _Raised(exc) from None
            return self._completed(definition, claimed, result)
        except _Raised as raised:  # the job's own KeyboardInterrupt or SystemExit
            return self._caught(definition, claimed, raised.exc)
        except (Exception, SystemExit, Suspend) as exc:  # sys.exit() fails the job only
            return self._caught(definition, claimed, exc)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():  # the worker cancels it: passed on
                raise
            # the job's own (it awaited something cancelled elsewhere, or raised it): it
            # fails the attempt, rather than leaving the job running with nobody on it
            return self._caught(definition, claimed, exc)
        except (KeyboardInterrupt, GeneratorExit):  # not the job's (its own came as _Raised)
            raise
        except BaseException as exc:  # a job's own BaseException subclass fails the attempt
            return self._caught(definition, claimed, exc)  # (conveyor's Interrupt too)

    def _undefined(self, claimed: ClaimedJob) -> Outcome:
        return self._failed(claimed, LookupError(
            f"no job {claimed.job!r} is defined in this worker's app; deploy the code "
            "that defines it, then retry this job"
        ), retryable=False)

    async def _isolated(self, definition: JobDefinition, claimed: ClaimedJob) -> Any:
        args, kwargs = stored_arguments(claimed)  # refused here, with why
        texts = (claimed.args, claimed.kwargs)  # the child decodes them again
        if definition.by_name:
            args, kwargs = definition.arguments(args, kwargs)
            texts = (json.dumps(args), json.dumps(kwargs))
        meta = child = None
        if "meta" in definition.wants:
            meta = self._meta(claimed)
            record = await in_thread("conveyor-isolated", self.app.get_job, claimed.id)
            child = ChildMeta(record, claimed)
        return await run_isolated(definition.id, definition.fn, *texts, claimed.timeout,
                                  child, meta.note if meta else None,
                                  meta.serve if meta else None)

    def thread_native(self, claimed: ClaimedJob) -> bool:
        """Can this job run start to finish on a pool thread (a plain sync function, no
        timeout, no process isolation), its outcome made there too?"""
        if claimed.timeout:
            return False
        native = self.native.get(claimed.job)
        if native is None:
            definition = self.app.definition(claimed.job)
            native = self.native[claimed.job] = (
                definition is not None and not definition.is_async
                and definition.kind == "function" and definition.isolation == "thread")
        return native

    def run_in_thread(self, claimed: ClaimedJob) -> Outcome:
        """Run a :meth:`thread_native` job in the calling (pool) thread."""
        definition = self.app.definition(claimed.job)
        if definition is None:
            return self._undefined(claimed)
        try:
            args, kwargs = definition.arguments(*stored_arguments(claimed))
            if "meta" in definition.wants:
                kwargs["meta"] = self._meta(claimed)
            with tracing.current(self.app, claimed):
                result = definition.fn(*args, **kwargs)
            return self._completed(definition, claimed, result)
        except BaseException as exc:  # whatever the job raises (no signal reaches a lane
            # thread, and no engine above it waits for an Interrupt): it fails the attempt,
            # never the lane (a lane thread that died took its slot and job with it)
            return self._caught(definition, claimed, exc)

    def _completed(self, definition: JobDefinition, claimed: ClaimedJob, result: Any) -> Outcome:
        return Outcome(claimed.id, claimed.token, "completed", self._now(),
                       result=dumps(result, "result", self.app.limits),
                       version=_ran(definition, claimed))

    def _meta(self, claimed: ClaimedJob) -> Meta:
        """The ``meta`` of an attempt: its log lines are timed on the app's clock."""
        return Meta(claimed, self.app.jobs, self.buffer, self.app.get_job, self._now)

    def _now(self) -> float:
        """When an attempt ended (or logged a line): on the app's clock, or on this host's
        should that clock fail (a user's clock= object): how the attempt ended is not the
        clock's to say."""
        try:
            return epoch(self.app.clock)
        except Exception:
            log.exception("the app's clock failed; this attempt is timed on this host's")
            return time.time()

    def _caught(self, definition: JobDefinition, claimed: ClaimedJob,
                exc: BaseException) -> Outcome:
        """The outcome of an attempt that raised ``exc``. Should judging it fail (a bug,
        or a row no code can read), the attempt fails for good, logged: the job is never
        left running, and the lane that ran it goes on."""
        try:
            return self._judged(definition, claimed, exc)
        except Exception as bug:
            log.exception("job %s (%s): could not judge how its attempt ended; failed",
                          claimed.id, claimed.job)
            return self.broken(claimed, exc, f"conveyor could not judge how this attempt "
                               f"ended ({bug!r})")

    def broken(self, claimed: ClaimedJob, exc: BaseException, why: str) -> Outcome:
        """The attempt fails for good with ``exc``, not retried because of ``why`` (a bug
        of conveyor's, logged by the caller)."""
        self.errors[claimed.id] = exc
        return Outcome(claimed.id, claimed.token, "failed", self._now(),
                       error=_not_retried(error_json(exc), why))

    def _judged(self, definition: JobDefinition, claimed: ClaimedJob,
                exc: BaseException) -> Outcome:
        if isinstance(exc, Suspend):
            return Outcome(claimed.id, claimed.token, "waiting", self._now(),
                           run_at=exc.run_at, version=_ran(definition, claimed))
        if isinstance(exc, (Fail, PayloadError)) or (isinstance(exc, StepFailed) and exc.final):
            return self._failed(claimed, exc, retryable=False)
        if isinstance(exc, RetryIn):
            now = self._now()
            try:
                delay = delay_seconds(exc.delay, exc.unit, datetime.fromtimestamp(now, UTC),
                                      self.app.timezone)
            except ConfigurationError as bad:  # fails the attempt, never the worker
                return self._failed(claimed, ConfigurationError(f"invalid RetryIn: {bad}"),
                                    retryable=True)
            self.errors[claimed.id] = exc
            return Outcome(claimed.id, claimed.token, "pending", now,
                           error=error_json(exc), delay=delay)
        if isinstance(exc, ChildFailed):
            return self._failed(claimed, exc.stand_in(), retryable=exc.retryable,
                                error=exc.error)
        if isinstance(exc, TimeoutError):
            if claimed.timeout and not str(exc):
                exc = TimeoutError(f"timed out after {claimed.timeout:g} s (the attempt ran "
                                   f"past its timeout of {claimed.timeout:g} s)")
            return self._failed(claimed, exc, retryable=True)
        return self._failed(claimed, exc, retryable=True)

    def _failed(self, claimed: ClaimedJob, exc: BaseException, retryable: bool,
                error: str | None = None) -> Outcome:
        now = self._now()
        self.errors[claimed.id] = exc
        error = error or error_json(exc)
        if retryable and claimed.attempt < claimed.max_attempts:
            try:
                policy = Retry.from_json(json.loads(claimed.retry)) if claimed.retry else Retry()
                delay = policy.delay(claimed.attempt)
            except (ValueError, TypeError, ArithmeticError, RecursionError) as bad:
                # A policy written by hand or by other software: failed for good, saying why.
                error = _not_retried(error, f"its stored retry policy "
                                     f"{clean(claimed.retry, 200)!r} cannot be read ({bad})")
            else:
                return Outcome(claimed.id, claimed.token, "pending", now, error=error,
                               delay=delay)
        return Outcome(claimed.id, claimed.token, "failed", now, error=error)

    def _attempt(self, definition: JobDefinition, claimed: ClaimedJob) -> Awaitable[Any]:
        """What to await for the attempt: a plain async function's own coroutine (no
        frames of conveyor's between the job and its task), else :meth:`_invoke`."""
        if (definition.is_async and definition.kind == "function"
                and "meta" not in definition.wants):
            args, kwargs = definition.arguments(*stored_arguments(claimed))
            awaitable: Awaitable[Any] = definition.fn(*args, **kwargs)
            return awaitable
        return self._invoke(definition, claimed)

    async def _invoke(self, definition: JobDefinition, claimed: ClaimedJob) -> Any:
        args, kwargs = definition.arguments(*stored_arguments(claimed))
        if definition.kind == "function" and "meta" not in definition.wants:
            return await self._call(definition, definition.fn, args, kwargs, claimed)
        meta = self._meta(claimed)
        if definition.kind == "reaction":
            data = args[0] if len(args) == 1 else (kwargs or {})  # Reaction's default
            job = ReactionJob(claimed, data, meta)
            await self._call(definition, definition.fn, [job], {}, claimed)
            if job.outcome and job.outcome[0] == "fail":
                raise JobFailure(job.outcome[1] or "failed")
            return job.outcome[1] if job.outcome else None
        if definition.kind == "durable":
            runner: Callable[..., Any] = self.app.durable_runner
            return await runner(definition, claimed, args, kwargs, meta, self)
        if "meta" in definition.wants:
            kwargs["meta"] = meta
        return await self._call(definition, definition.fn, args, kwargs, claimed)

    async def _call(
        self, definition: JobDefinition, fn: Callable[..., Any], args: list[Any],
        kwargs: dict[str, Any], claimed: ClaimedJob | None = None,
    ) -> Any:
        if definition.is_async:
            return await fn(*args, **kwargs)
        if claimed is not None and claimed.timeout:
            return await _call_abandonable(fn, args, kwargs, claimed)
        # A daemon thread of its own, not a pool thread: one still running when a stopping
        # worker releases its job past the grace period must not keep the process alive.
        name = f"conveyor-job-{claimed.id if claimed is not None else definition.id}"
        future = asyncio.ensure_future(in_thread(name, functools.partial(fn, *args, **kwargs)))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be interrupted. When a timeout cancels the attempt, wait for
            # the thread to return so that a retry never runs beside it; a second cancel
            # (shutdown past its grace period, a lost lease) stops the wait.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
            raise


class _Raised(Exception):
    """A KeyboardInterrupt or SystemExit raised by a job's own code, carried as an
    Exception: asyncio re-raises those two out of the event loop from any task they end,
    which stopped the worker with this attempt (and every other it held) left running."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(exc)
        self.exc = exc


async def _carried(attempt: Awaitable[Any]) -> Any:
    """Await a job's attempt; its KeyboardInterrupt or SystemExit comes out as _Raised."""
    try:
        return await attempt
    except (KeyboardInterrupt, SystemExit) as exc:
        raise _Raised(exc) from None


def _not_retried(error: str, why: str) -> str:
    """A stored error (``error_json``) whose message adds why it is not retried."""
    value = json.loads(error)
    value["message"] = clean(f"{value['message']} (not retried: {why})", MAX_ERROR_MESSAGE)
    return json.dumps(value)


def stored_arguments(claimed: ClaimedJob) -> tuple[list[Any], dict[str, Any]]:
    """The claimed job's arguments. Stored text that is not a JSON list (args) or object
    (kwargs), as in a row written by hand or by other software, fails the attempt for
    good with a PayloadError saying so: running again cannot mend it."""
    args = [] if claimed.args == "[]" else _stored("args", claimed.args, list)
    kwargs = {} if claimed.kwargs == "{}" else _stored("kwargs", claimed.kwargs, dict)
    return args, kwargs


def _stored(name: str, text: str, shape: type[Any]) -> Any:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = _NOT_JSON
    if not isinstance(value, shape):
        what = "a JSON list" if shape is list else "a JSON object"
        raise PayloadError(f"the stored {name} of this job are not {what}: "
                           f"{clean(text, 200)!r}; trigger it again with valid arguments")
    return value


_NOT_JSON = object()


async def _call_abandonable(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any],
                            claimed: ClaimedJob) -> Any:
    """A sync job with a timeout runs in a thread of its own: when the timeout (or a
    shutdown) cancels the attempt, the attempt ends now and the thread, which Python cannot
    stop, is abandoned (and logged) without taking a slot of the worker's pool; it is asked
    to stop (ThreadAbandoned at its next Python instruction)."""
    call = functools.partial(fn, *args, **kwargs)
    try:
        return await in_thread(f"conveyor-job-{claimed.id}", call, interrupt=True)
    except asyncio.CancelledError:
        log.warning("job %s (%s, attempt %d) is past its timeout of %g s or was stopped; its "
                    "thread is abandoned (asked to stop; it runs on until it executes "
                    "Python again)", claimed.id, claimed.job, claimed.attempt,
                    claimed.timeout or 0)
        raise


async def _within(attempt: Coroutine[Any, Any, Any], claimed: ClaimedJob) -> Any:
    """Await ``attempt`` for at most ``claimed.timeout`` seconds, then cancel it and raise
    TimeoutError. A coroutine that swallows the cancel (and so cannot be stopped, like a
    sync job's thread) is abandoned after CANCEL_GRACE seconds and logged: its attempt is
    failed on time all the same."""
    task = asyncio.ensure_future(attempt)
    try:
        await asyncio.wait([task], timeout=claimed.timeout)
    except asyncio.CancelledError:  # the worker stops the attempt: passed on
        task.cancel()
        await asyncio.wait([task], timeout=CANCEL_GRACE)
        raise
    if task.done():
        return task.result()  # its own outcome, which may be its own CancelledError
    task.cancel()
    await asyncio.wait([task], timeout=CANCEL_GRACE)
    if not task.done():
        log.warning("job %s (%s, attempt %d) is past its timeout of %g s and ignores being "
                    "cancelled; its coroutine is abandoned (it runs on)", claimed.id,
                    claimed.job, claimed.attempt, claimed.timeout or 0)
        abandon(task, claimed)
        raise TimeoutError
    if task.cancelled():
        raise TimeoutError
    # It ended some other way once cancelled (returned, or raised): past its timeout all
    # the same, so the attempt fails (with what it raised as the cause).
    raise TimeoutError from task.exception()


def _ran(definition: JobDefinition, claimed: ClaimedJob) -> str | None:
    """The version a run ran with: a durable run may replay on kept older code, and its
    runner sets ``claimed.version`` to the version it used."""
    return claimed.version if definition.kind == "durable" else definition.version
