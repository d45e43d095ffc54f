"""Triggering: turning calls into stored jobs (the service behind run_now/run_at/run_in,
enqueue_many, schedules' and events' occurrences)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.awaiting import StoringHandle, awaited_by_caller
from conveyor.errors import ArgumentsError, ConfigurationError, UniqueViolation
from conveyor.jobs import JobCall, JobDefinition, JobHandle, JobHost
from conveyor.limits import concurrency_key
from conveyor.lockwait import patiently
from conveyor.observe import tracing
from conveyor.options import CallOptions, merge_options
from conveyor.serialization import Limits, dumps
from conveyor.stores.asyncface import AsyncFace, plain
from conveyor.stores.base import NewJob
from conveyor.stores.rows import Alike
from conveyor.workflows import dependency_ids

# A call's encoded arguments: args, kwargs and payload JSON, concurrency key.
Encoded = tuple[str, str, str, str | None]
_NO_ARGUMENTS: Encoded = ("[]", "{}", "{}", None)

if TYPE_CHECKING:
    from conveyor.observe.hooks import Hooks
    from conveyor.stores.base import HotPathStore


class TriggerHost(JobHost, Protocol):
    """What triggering uses of its app."""

    retention: float | None
    limits: Limits
    # The caller's open database connection to store triggers in (or None), e.g. set by
    # conveyor.contrib.django so triggers join transaction.atomic().
    ambient_connection: Callable[[], Any] | None
    hooks: Hooks

    @property
    def triggering(self) -> Triggering: ...


class Triggering:
    """Builds :class:`NewJob` rows from calls and stores them.

    ``insert`` is the one place every trigger passes through, ``insert_async`` its form for
    awaited triggers (``conveyor.testing.inline`` wraps both)."""

    def __init__(self, app: TriggerHost) -> None:
        self._app = app
        # Per job: what its calls without options (due now) are stored with, and the
        # definition's and app's settings it was made of (made again when one changes).
        self._plain: dict[JobDefinition, tuple[tuple[Any, ...], Callable[[JobCall], NewJob]]] = {}

    def new_job(
        self, call: JobCall, run_at: float | None = None, delay: float = 0.0,
        options: Mapping[str, Any] | None = None,
    ) -> NewJob:
        """The row storing ``call`` (due at ``run_at``, else ``delay`` from now)."""
        if not options and run_at is None and not delay:
            return self._plain_rows(call.definition)(call)
        row, encode = self._rows(call.definition, run_at, delay, options)
        return row(encode(call))

    def _plain_rows(self, definition: JobDefinition) -> Callable[[JobCall], NewJob]:
        """``_rows_of`` a call due now without options: the merged options and fields are
        made once per job, not per call."""
        made_of = (definition.id, definition.options, definition.version,
                   definition.concurrency_key, definition.accepts, self._app.retention,
                   self._app.limits)
        cached = self._plain.get(definition)
        if cached is not None and cached[0] == made_of:
            return cached[1]
        rows = self._rows_of(definition, None, 0.0, None)
        self._plain[definition] = (made_of, rows)
        return rows

    def _rows_of(
        self, definition: JobDefinition, run_at: float | None, delay: float,
        options: Mapping[str, Any] | None,
    ) -> Callable[[JobCall], NewJob]:
        """What stores calls of ``definition``: the options are merged (and checked) once,
        each call adds its own arguments."""
        row, encode = self._rows(definition, run_at, delay, options)
        return lambda call: row(encode(call))

    def _rows(
        self, definition: JobDefinition, run_at: float | None, delay: float,
        options: Mapping[str, Any] | None,
    ) -> tuple[Callable[[Encoded], NewJob], Callable[[JobCall], Encoded]]:
        """The row of one call's encoded arguments, and how a call's arguments are
        encoded (and checked): its args, kwargs and payload JSON and concurrency key."""
        opts = merge_options(definition.options, dict(options)) if options else definition.options
        limits = self._app.limits
        retention = self._app.retention if opts.retention is None else opts.retention
        key_spec, accepts = definition.concurrency_key, definition.accepts
        # NewJob's fields after the arguments, positionally (keywords cost a call as much
        # again): queue ... version, then schedule_id, fire_at, rescheduled_from, event_id;
        # after concurrency_key, trace_context and owner_int (None: a text owner).
        fields = (opts.queue, opts.priority, run_at, delay, opts.key, opts.owner, opts.dedupe,
                  opts.max_attempts, opts.retry_json, opts.timeout, retention,
                  opts.remove_delay, definition.version, None, None, None, None)
        tail = (None, True if opts.owner_int else None)

        def encode(call: JobCall) -> Encoded:
            if call.missing is not None:
                raise ArgumentsError(call.missing)
            args, kwargs = call.args, call.kwargs
            if not args and not kwargs:
                if not key_spec:
                    return _NO_ARGUMENTS
                args_json, kwargs_json, payload = "[]", "{}", "{}"
            else:
                single = len(args) == 1  # the single positional argument is the payload
                kwargs_json = dumps(kwargs, "kwargs" if single else "payload",
                                    limits) if kwargs else "{}"
                if single:
                    payload = dumps(args[0], "payload", limits)
                    args_json = f"[{payload}]"
                else:
                    args_json = dumps(args, "payload args", limits, outer=1) if args else "[]"
                    payload = kwargs_json
            key = concurrency_key(key_spec, args, kwargs, accepts) if key_spec else None
            return args_json, kwargs_json, payload, key

        def row(encoded: Encoded) -> NewJob:
            args_json, kwargs_json, payload, key = encoded
            return NewJob(definition.id, args_json, kwargs_json, payload, *fields, key, *tail)

        return row, encode

    def trigger(
        self, call: JobCall, run_at: float | None, delay: float, options: CallOptions
    ) -> JobHandle:
        if awaited_by_caller(2) and self._may_defer(options):  # `await job(x).run_now()`
            opts = dict(options) if options else {}
            return StoringHandle(self._app, lambda: self.new_job(call, run_at, delay, opts))
        # connection=: store the job in the caller's own database transaction.
        connection = options.pop("connection", None) if options else None
        depends_on = options.pop("depends_on", None) if options else None
        new = self.new_job(call, run_at, delay, options)
        if depends_on is not None:
            new.depends_on = dependency_ids(depends_on)
            if new.dedupe:
                raise ConfigurationError(
                    "depends_on cannot be combined with replace=True or unique=True"
                )
        job_id = self.insert([new], connection)[0]
        if new.depends_on and self._app.hooks.wants("cancelled"):
            self._report_cancelled_at_once(job_id, connection)
        return JobHandle(self._app, job_id)

    def _report_cancelled_at_once(self, job_id: int, connection: Any) -> None:
        """A dependency that had already failed or been cancelled cancels the new job as
        it is stored, so no worker reports it: report it here (once committed: not in the
        caller's transaction, which may still roll back)."""
        ambient = self._app.ambient_connection
        if connection is not None or (ambient is not None and ambient() is not None):
            return
        record = self._app.get_job(job_id)
        if record is not None and record.state == "cancelled":
            self._app.hooks.cancelled(self._app, [record])

    def _may_defer(self, options: CallOptions | None) -> bool:
        """Whether an awaited trigger may be stored off the loop: not in the caller's
        own transaction (``connection=``, Django's atomic block) nor with dependencies."""
        if options and ("connection" in options or "depends_on" in options):
            return False
        ambient = self._app.ambient_connection
        return ambient is None or ambient() is None

    def insert(self, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        """Store ``jobs`` in one transaction (the caller's, with ``connection``)."""
        ambient = self._app.ambient_connection
        if connection is None and ambient is not None:
            connection = ambient()
        if tracing.enabled():  # the otel extra, with a tracer provider configured
            return tracing.traced_insert(jobs, lambda: self._store_jobs(jobs, connection))
        return self._store_jobs(jobs, connection)

    async def insert_async(self, jobs: Sequence[NewJob]) -> list[int]:
        """``insert`` from async code, without blocking the event loop: over the store's
        async face (PostgreSQL's async pool) when it has one and the jobs are plain, else
        ``insert`` in a worker thread."""
        store = self._app.store
        if isinstance(store, AsyncFace) and plain(jobs) and not tracing.enabled():
            return await store.insert_plain_async(jobs)
        return await asyncio.to_thread(self.insert, jobs)

    def _store_jobs(self, jobs: Sequence[NewJob], connection: Any) -> list[int]:
        store: HotPathStore = self._app.store
        if connection is not None:
            return store.insert(jobs, connection=connection)
        insert = partial(store.insert, jobs)
        try:
            return patiently(insert)
        except UniqueViolation:  # a racing process inserted the same unique job
            return patiently(insert)

    def enqueue_many(
        self, calls: Sequence[JobCall], run_at: float | None, connection: Any,
        options: Mapping[str, Any],
    ) -> list[JobHandle]:
        if not calls:
            return []
        definition = calls[0].definition
        if all(call.definition is definition for call in calls):
            jobs: Sequence[NewJob] = self._alike(definition, calls, run_at, options)
        else:
            rows_of: dict[JobDefinition, Callable[[JobCall], NewJob]] = {}
            jobs = []
            for call in calls:
                if (row := rows_of.get(call.definition)) is None:
                    row = rows_of[call.definition] = self._rows_of(
                        call.definition, run_at, 0.0, options)
                jobs.append(row(call))
        return list(map(partial(JobHandle, self._app), self.insert(jobs, connection)))

    def _alike(self, definition: JobDefinition, calls: Sequence[JobCall],
               run_at: float | None, options: Mapping[str, Any]) -> Alike:
        """Calls of one job as columns (only their arguments vary): no row object per
        call."""
        row, encode = self._rows(definition, run_at, 0.0, options)
        encoded = list(map(encode, calls))
        args, kwargs, payloads, keys = zip(*encoded, strict=True)
        columns: dict[str, Sequence[Any]] = {"args": args, "kwargs": kwargs, "payload": payloads}
        if definition.concurrency_key:
            columns["concurrency_key"] = keys
        return Alike(row(encoded[0]), len(encoded), columns)


__all__ = ["TriggerHost", "Triggering"]
