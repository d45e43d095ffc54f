"""Conveyor: the app that defines, triggers and finds jobs and runs workers."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Unpack, overload

from conveyor import readonly
from conveyor.cleanup import CleanupPolicies
from conveyor.clock import Clock
from conveyor.clock import check as check_clock
from conveyor.definitions import Definitions, JobDefinitionOptions
from conveyor.delegate import delegate
from conveyor.durable import DurableExtension
from conveyor.errors import ConfigurationError, UnknownJobError
from conveyor.events import EventRoutes, Events
from conveyor.flow import FlowControl, FlowUpkeep
from conveyor.host import Extension
from conveyor.jobs import JobCall, JobDefinition, JobHandle
from conveyor.maintenance import Maintenance
from conveyor.maintenance import maintain as maintenance_pass
from conveyor.observe import Observer
from conveyor.observe.hooks import Hook, Hooks
from conveyor.options import TriggerOptions, coerce_seconds
from conveyor.queries import Queries
from conveyor.reaction import WorkerHandle
from conveyor.records import JobRecord
from conveyor.registry import JobRegistry
from conveyor.schedules.api import Scheduling
from conveyor.schedules.periodic import Periodic
from conveyor.serialization import DEFAULT_LIMITS, Limits
from conveyor.stores import check_options, check_store, open_existing, open_store, resolve_url
from conveyor.stores.base import Store
from conveyor.timeunits import check_timezone, to_utc
from conveyor.triggering import Triggering
from conveyor.web import Lifespan
from conveyor.web import asgi as asgi_app

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from conveyor.worker import Worker

Decorated = Callable[[Callable[..., Any]], JobDefinition]


class Conveyor:
    """A conveyor app: ``Conveyor("sqlite:///jobs.db")``, ``Conveyor("memory://")``,
    ``Conveyor("postgresql://...")``; default ``$CONVEYOR_URL`` or ``sqlite:///conveyor.db``.

    ``clock=``: an object whose ``now()`` returns an aware datetime; it replaces the
    database clock in every time decision (default None: the database clock).
    ``store=``: a store object instead of a URL (it must pass
    ``conveyor.testing.conformance``).
    """

    jobs: JobRegistry

    def __init__(
        self,
        url: str | None = None,
        *,
        lease: float = 30.0,
        timezone: str = "UTC",
        retention: float | timedelta | str | None = None,
        event_retention: float | timedelta | str | None = "30 days",
        migrate: bool = True,
        allow_private_fetch: bool = True,
        max_depth: int = DEFAULT_LIMITS.max_depth,
        max_payload: int = DEFAULT_LIMITS.max_payload,
        clock: Clock | None = None,
        store: Store | None = None,
        **store_options: Any,
    ) -> None:
        if store is not None and (url is not None or store_options):
            raise ConfigurationError(
                "give either a store URL (with its options) or store=, not both"
            )
        self.url = check_store(store).url if store is not None else resolve_url(url)
        check_options(self.url, store_options, _OPTIONS)
        override = readonly.overriding_url()  # the command line's --url
        if store is None and override is not None and override != self.url:
            self.url, store_options = override, {}  # the options were for the other store
        # Payloads and results: nesting depth and UTF-8 JSON bytes (SPEC-style limits).
        self.limits = Limits(max_depth, max_payload)
        lease_seconds = coerce_seconds("lease", lease)
        if not lease_seconds or lease_seconds < 0.1:
            raise ConfigurationError(f"invalid lease {lease!r}: must be at least 0.1 seconds")
        self.lease = lease_seconds
        self.timezone = check_timezone(timezone)
        self.retention = coerce_seconds("retention", retention)
        # Delivered events are deleted this long after delivery (None: kept forever).
        self.event_retention = coerce_seconds("event_retention", event_retention)
        self.jobs = JobRegistry()
        self.cleanup = CleanupPolicies()  # job id -> seconds kept (include() policies)
        # Capabilities (schedules, durable runs and events) plug into the worker and
        # maintenance here (conveyor.host.Extension).
        self.extensions: list[Extension] = []
        self.event_routes = EventRoutes()  # which jobs each event starts
        # Told by workers about every attempt once stored (hooks, metrics, tracing).
        self.observers: list[Observer] = []
        self.hooks = Hooks(self)
        # Returns the caller's open database connection to store triggers in (or None);
        # conveyor.contrib.django sets it so triggers join transaction.atomic().
        self.ambient_connection: Callable[[], Any] | None = None
        # io.background_fetch may reach private/loopback addresses (False: the SSRF guard).
        self.allow_private_fetch = allow_private_fetch
        self.triggering = Triggering(self)
        self.definitions = Definitions(self)  # registering jobs, hooks and plugins
        self.queries = Queries(self)  # finding and steering stored jobs
        self.flow = FlowControl(self)  # queues, limits and pauses
        self.events = Events(self)  # event triggers, sending and finding events
        # None: due times and leases on the database clock; given: on this one everywhere.
        self.clock: Clock | None = check_clock(clock)
        self.durable_runs = DurableExtension(self)  # durable runs: versions, steps
        # Runs jobs that take an ``io`` parameter.
        self.durable_runner: Callable[..., Any] = self.durable_runs.run
        self.periodic = Periodic(self)  # storing schedule occurrences
        self.scheduling = Scheduling(self)  # schedule triggers and stored schedules
        self.extensions += [FlowUpkeep(), self.durable_runs, self.periodic]
        # Built by a read-only command (conveyor.readonly): create, migrate and save nothing.
        self.read_only = readonly.active()
        self._store: Store = store if store is not None else self._open(self.url, store_options)
        self._store.use_clock(self.clock)
        # What opening applied (``conveyor migrate`` reports it).
        self.applied_migrations: list[str] = (
            self._store.migrate() if migrate and not self.read_only else [])

    def _open(self, url: str, options: dict[str, Any]) -> Store:
        return open_existing(url, **options) if self.read_only else open_store(url, **options)

    # -- lifecycle ---------------------------------------------------------------
    @property
    def store(self) -> Store:
        return self._store

    def close(self) -> None:
        """Release the store's connections."""
        self._store.close()

    def __enter__(self) -> Conveyor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Conveyor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def use_clock(self, clock: Clock | None) -> None:
        """Decide every time from now on on ``clock`` (None: the database clock again);
        ``conveyor.testing.FakeClock`` installs itself this way."""
        self.clock = check_clock(clock)
        self._store.use_clock(self.clock)

    def migrate(self) -> list[str]:
        """Create or upgrade the schema; returns what was applied."""
        return self._store.migrate()

    def reopen(self, url: str, read_only: bool = False, **store_options: Any) -> None:
        """Switch to the store ``url`` names (opened and migrated; with ``read_only``, or
        for an app built read-only, opened as it is) with ``store_options`` (as
        ``Conveyor(url, ...)`` takes them), closing the current one; the CLI's ``--url``
        uses it for apps that name their URL in code."""
        reading = read_only or self.read_only
        store = (open_existing if reading else open_store)(url, **store_options)
        try:
            store.use_clock(self.clock)
            self.applied_migrations = [] if reading else store.migrate()
        except BaseException:
            store.close()
            raise
        self._store.close()
        self._store, self.url = store, url

    # -- definitions -----------------------------------------------------------
    @overload
    def job(self, fn: Callable[..., Any], /) -> JobDefinition: ...

    @overload
    def job(
        self, job_id: str | None = None, /, **options: Unpack[JobDefinitionOptions]
    ) -> Decorated: ...

    def job(self, first: Any = None, /, **options: Any) -> Any:
        """Register a function as a job: ``@app.job`` or ``@app.job("id", retry=..., ...)``.

        Options: ``name``, ``version``, ``retry``, ``priority``, ``timeout``, ``retention``,
        ``remove_delay``, ``queue``, ``trigger``; flow control: ``concurrency``, ``rate``,
        ``concurrency_key``, ``isolation`` (see :mod:`conveyor.flow`).
        """
        return self.definitions.job(first, options)

    @overload
    def on(self, event: str, fn: None = None, /) -> Callable[[Hook], Hook]: ...

    @overload
    def on(self, event: str, fn: Hook, /) -> Hook: ...

    def on(self, event: str, fn: Hook | None = None, /) -> Any:
        """Register ``fn(record, error=None)`` (sync or async) for ``event``: "started",
        "completed", "failed", "retrying" or "cancelled". A worker runs it after it stored
        that state; what it raises is logged and never fails the job.
        ``@app.on("failed")`` or ``app.on("failed", fn)``."""
        return self.definitions.on(event, fn)

    def add_worker(
        self, type: str, worker: Callable[..., Any], **options: Unpack[JobDefinitionOptions]
    ) -> WorkerHandle:
        """Reaction-style: register ``worker(job)`` for jobs of ``type``; returns a handle
        with ``pause()``, ``resume()`` and ``stop()``. Options as :meth:`job`'s."""
        definition, took_over = self.definitions.add_worker(type, worker, dict(options))
        if took_over:  # its earlier handle was stopped: jobs of the type start again
            self.flow.resume(job=definition)
        return WorkerHandle(self.flow, definition, self.definitions.stopped_workers)

    def include(self, source: ModuleType | object) -> list[JobDefinition]:
        """Register every function in ``source.jobs`` and its ``cleanup`` policies."""
        return self.definitions.include(source)

    # -- triggering --------------------------------------------------------------
    def enqueue_many(
        self, calls: Iterable[JobCall], *, run_at: datetime | None = None,
        connection: Any = None, **options: Unpack[TriggerOptions],
    ) -> list[JobHandle]:
        """Store many calls in one transaction (the fast path for bulk work); with
        ``connection=`` (PostgreSQL) in the caller's own transaction."""
        if "depends_on" in options:
            raise ConfigurationError(
                "enqueue_many does not take depends_on: trigger each dependent with "
                "run_now(depends_on=[...]), or use conveyor.group/chain for workflows")
        due = to_utc(run_at, self.timezone).timestamp() if run_at else None
        return self.triggering.enqueue_many(list(calls), due, connection, options)

    # -- schedules (conveyor.schedules.api) ------------------------------------------
    schedule_job = delegate("scheduling", Scheduling.schedule_job)
    cron = delegate("scheduling", Scheduling.cron)
    every = delegate("scheduling", Scheduling.every)
    schedule = delegate("scheduling", Scheduling.schedule)
    schedule_cron_job = delegate("scheduling", Scheduling.schedule_cron_job)
    sync_schedules = delegate("scheduling", Scheduling.sync_schedules)
    schedules = delegate("scheduling", Scheduling.schedules)
    get_schedule = delegate("scheduling", Scheduling.get_schedule)
    pause_schedule = delegate("scheduling", Scheduling.pause_schedule)
    resume_schedule = delegate("scheduling", Scheduling.resume_schedule)
    remove_schedule = delegate("scheduling", Scheduling.remove_schedule)

    # -- events (conveyor.events) and durable runs (conveyor.durable) -------------------
    event = delegate("events", Events.event)
    send_event = delegate("events", Events.send_event)
    get_event = delegate("events", Events.get_event)
    events_list = delegate("events", Events.events_list)

    def job_version(
        self, job_id: str, version: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Keep an older version of a durable job so runs that started on it finish on it:
        ``@app.job_version("send-welcome", "1.2.0")`` over the old function."""
        return self.durable_runs.job_version(job_id, version)

    steps = delegate("durable_runs", DurableExtension.steps)

    # -- finding and steering (conveyor.queries) --------------------------------------
    get_job = delegate("queries", Queries.get_job)
    get_jobs = delegate("queries", Queries.get_jobs)

    def jobs_list(
        self, *, limit: int | None = None, offset: int = 0, newest_first: bool = True,
        **filters: Any,
    ) -> list[JobRecord]:
        """Stored jobs matching ``state``, ``job``, ``queue``, ``owner``, ``key``, ``data``,
        ``text``, ``since``/``until`` (created between), ``before_id``/``after_id`` (ids
        between, for keyset paging), newest first; all of them unless ``limit`` is given."""
        self.scheduling.shown()
        return self.queries.jobs_list(
            limit=limit, offset=offset, newest_first=newest_first, **filters)

    def count(self, **filters: Any) -> int:
        """How many stored jobs match (same filters as :meth:`jobs_list`)."""
        self.scheduling.shown()
        return self.queries.count(**filters)

    def counts(self) -> dict[str, int]:
        """Jobs by public state (every state present, zero included); conveyor's own
        jobs (retention cleanup) are left out, as :meth:`count` leaves them out."""
        self.scheduling.shown()
        return self.queries.counts()

    cancel_jobs = delegate("queries", Queries.cancel_jobs)
    cancel = delegate("queries", Queries.cancel)
    retry = delegate("queries", Queries.retry)
    purge = delegate("queries", Queries.purge)

    # -- flow control (conveyor.flow) ----------------------------------------------------
    queue = delegate("flow", FlowControl.queue)
    pause = delegate("flow", FlowControl.pause)
    resume = delegate("flow", FlowControl.resume)
    paused_jobs = delegate("flow", FlowControl.paused_jobs)
    queues = delegate("flow", FlowControl.queues)
    paused_counts = delegate("flow", FlowControl.paused_counts)
    declared_limits = delegate("flow", FlowControl.declared_limits)
    hold = delegate("flow", FlowControl.hold)

    # -- workers -------------------------------------------------------------------
    def run_worker(
        self,
        concurrency: int = 10,
        queues: Sequence[str] | str | None = None,
        burst: bool = False,
        **options: Any,
    ) -> None:
        """Run a worker in this process until stopped (or, with ``burst``, until idle)."""
        self._worker(concurrency, queues, burst, options).run_blocking()

    async def run_worker_async(
        self,
        concurrency: int = 10,
        queues: Sequence[str] | str | None = None,
        burst: bool = False,
        **options: Any,
    ) -> None:
        """Async form of :meth:`run_worker`."""
        await self._worker(concurrency, queues, burst, options).run()

    def _worker(
        self, concurrency: int, queues: Sequence[str] | str | None, burst: bool,
        options: dict[str, Any],
    ) -> Worker:
        from conveyor.worker import Worker

        return Worker(self, concurrency=concurrency, queues=queues, burst=burst, **options)

    # -- web apps (conveyor.web) -----------------------------------------------------------
    def asgi(self, token: str | None = None, prefix: str = "") -> ASGIApp:
        """The dashboard and JSON API as an ASGI app to mount:
        ``fastapi_app.mount("/jobs", app.asgi())``. Links and static files follow the
        mount point (or ``prefix``, when a proxy strips it). ``token`` (default:
        ``$CONVEYOR_TOKEN``) protects every page and API call; without one, protect the
        path with your framework's auth."""
        return asgi_app(self, token, prefix)

    def lifespan(
        self, worker: bool = True, concurrency: int = 10,
        queues: Sequence[str] | str | None = None, **worker_options: Any,
    ) -> Lifespan:
        """Run a worker inside the web process while it serves (small deployments):
        ``FastAPI(lifespan=app.lifespan())``, or ``async with app.lifespan():``. On
        shutdown running jobs get the worker's grace period, then are released."""
        return Lifespan(self, worker, concurrency, queues, worker_options)

    def definition(self, job_id: str) -> JobDefinition | None:
        return self.jobs.definition(job_id) or self.periodic.system.get(job_id)

    def definition_by_slug_or_id(self, name: str) -> JobDefinition | None:
        """The job (built-in ones too) whose URL slug or id is ``name``."""
        found = self.jobs.definition_by_slug(name) or self.definition(name)
        system = (d for d in self.periodic.system.values() if d.slug == name)
        return found or next(system, None)

    def maintenance_for(self, store: Store, holder: str) -> Maintenance:
        """The leader-elected maintenance duty of worker ``holder`` (conveyor.maintenance)."""
        return Maintenance(self, store, holder)

    def maintain(self, store: Store, leader: bool, full: bool = True) -> None:
        """One maintenance pass (the worker calls this): rescue, then extensions (retention
        cleanup is the built-in ``conveyor.purge`` schedule); extensions marked ``slow``
        only on a ``full`` pass (conveyor.maintenance.SLOW_PASSES). Each stage runs even
        when one before it failed; the first failure is raised afterwards (the worker logs
        it)."""
        maintenance_pass(self, store, leader, full)


# The app's own keyword options, named in the error for one it does not know.
_OPTIONS = tuple(name for name, p in inspect.signature(Conveyor.__init__).parameters.items()
                 if p.kind is p.KEYWORD_ONLY)

__all__ = ["Conveyor", "UnknownJobError"]
