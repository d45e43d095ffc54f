"""Triggering: turning calls into stored jobs (the service behind run_now/run_at/run_in,
enqueue_many, schedules' and events' occurrences)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
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

    def new_job(
        self, call: JobCall, run_at: float | None = None, delay: float = 0.0,
        options: Mapping[str, Any] | None = None,
    ) -> NewJob:
        """The row storing ``call`` (due at ``run_at``, else ``delay`` from now)."""
        return self._rows_of(call.definition, run_at, delay, options)(call)

    def _rows_of(
        self, definition: JobDefinition, run_at: float | None, delay: float,
        options: Mapping[str, Any] | None,
    ) -> Callable[[JobCall], NewJob]:
        """What stores calls of ``definition``: the options are merged (and checked) once,
        each call adds its own arguments (``enqueue_many`` reuses it for every call)."""
        opts = merge_options(definition.options, dict(options)) if options else definition.options
        limits = self._app.limits
        retention = self._app.retention if opts.retention is None else opts.retention
        key_spec, accepts = definition.concurrency_key, definition.accepts
        fields = (opts.queue, opts.priority, run_at, delay, opts.key, opts.owner, opts.dedupe,
                  opts.max_attempts, opts.retry_json, opts.timeout, retention,
                  opts.remove_delay, definition.version)
        owner_int = True if opts.owner_int else None  # NULL in the store: a text owner

        def row(call: JobCall) -> NewJob:
            if call.missing is not None:
                raise ArgumentsError(call.missing)
            args, kwargs = call.args, call.kwargs
            single = len(args) == 1  # the single positional argument is the payload
            kwargs_json = dumps(kwargs, "kwargs" if single else "payload",
                                limits) if kwargs else "{}"
            if single:
                payload = dumps(args[0], "payload", limits)
                args_json = f"[{payload}]"
            else:
                args_json = dumps(args, "payload args", limits, outer=1) if args else "[]"
                payload = kwargs_json
            return NewJob(
                definition.id, args_json, kwargs_json, payload, *fields,
                concurrency_key=concurrency_key(key_spec, args, kwargs, accepts)
                if key_spec else None, owner_int=owner_int,
            )

        return row

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
        try:
            return patiently(lambda: store.insert(jobs))
        except UniqueViolation:  # a racing process inserted the same unique job
            return patiently(lambda: store.insert(jobs))

    def enqueue_many(
        self, calls: Sequence[JobCall], run_at: float | None, connection: Any,
        options: Mapping[str, Any],
    ) -> list[JobHandle]:
        rows_of: dict[JobDefinition, Callable[[JobCall], NewJob]] = {}
        rows = []
        for call in calls:
            if (row := rows_of.get(call.definition)) is None:
                row = rows_of[call.definition] = self._rows_of(
                    call.definition, run_at, 0.0, options)
            rows.append(row(call))
        if not rows:
            return []
        alike = Alike(rows) if len(rows_of) == 1 else rows  # one job: only arguments vary
        return [JobHandle(self._app, i) for i in self.insert(alike, connection)]


__all__ = ["TriggerHost", "Triggering"]
