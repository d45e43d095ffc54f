"""Defining jobs: the definitions service (``app.definitions``) behind
:class:`conveyor.Conveyor`'s ``job``, ``add_worker``, ``include`` and ``on``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from conveyor.cleanup import parse_policies
from conveyor.errors import ConfigurationError, UnknownOptionError
from conveyor.events import EventsHost
from conveyor.flow import FLOW_OPTIONS, check_isolated
from conveyor.flow import job_options as flow_options
from conveyor.jobs import JobDefinition
from conveyor.limits import KeySpec
from conveyor.observe.hooks import Hook, Hooks
from conveyor.options import (
    Duration,
    JobOptions,
    coerce_name,
    coerce_queue,
    coerce_seconds,
    coerce_version,
)
from conveyor.priority import priority_value
from conveyor.retry import Retry, coerce_retry
from conveyor.schedules.api import SchedulesHost
from conveyor.text import MAX_JOB_ID_BYTES, check_identifier

# The options of ``@app.job(...)`` and ``app.add_worker(...)``.
JOB_OPTIONS = frozenset({"name", "version", "retry", "priority", "timeout", "retention",
                         "remove_delay", "queue", "trigger", *FLOW_OPTIONS})


class DefinitionsHost(SchedulesHost, EventsHost, Protocol):
    """What defining jobs uses of its app (triggers attach to its schedules or events)."""

    hooks: Hooks


class JobDefinitionOptions(TypedDict, total=False):
    """The options of ``@app.job(...)`` and ``app.add_worker(...)`` (checked again at run
    time: a bad value is a :class:`~conveyor.ConfigurationError` saying what is accepted)."""

    name: str | None
    version: str | None  # a semantic version like "1.2.0"
    retry: Retry | int | dict[str, Any] | None
    priority: int | str | None
    timeout: Duration
    retention: Duration
    remove_delay: Duration
    queue: str | None
    trigger: Trigger | None
    # flow control (conveyor.flow)
    concurrency: int | None
    rate: str | None  # "10/second"
    concurrency_key: KeySpec | None
    isolation: Literal["thread", "process"] | None


@runtime_checkable
class Trigger(Protocol):
    """A job's ``trigger=``: ``app.cron/every/schedule(...)`` or ``app.event(...)``."""

    def attach(self, app: DefinitionsHost, definition: JobDefinition) -> None:
        """Make ``definition`` run when this trigger fires."""
        ...


class Definitions:
    """Registers functions as jobs (``app.definitions``)."""

    def __init__(self, app: DefinitionsHost) -> None:
        self._app = app
        self.stopped_workers: set[str] = set()  # types whose add_worker handle stopped

    def add_worker(self, type: str, worker: Callable[..., Any],
                   options: dict[str, Any]) -> tuple[JobDefinition, bool]:
        """Register a Reaction-style worker for ``type``; one whose earlier worker was
        stopped takes the type over. Returns the definition and whether it took over
        (the type is then still paused by that stop)."""
        if type not in self.stopped_workers:
            return self.define(type, worker, options, kind="reaction"), False
        previous = self._app.jobs.remove_definition(type)
        try:
            definition = self.define(type, worker, options, kind="reaction")
        except BaseException:
            if previous is not None:
                self._app.jobs.add_definition(previous)
            raise
        self.stopped_workers.discard(type)
        return definition, True

    def job(self, first: Any, options: dict[str, Any]) -> Any:
        """``@app.job`` (``first`` is the function) or ``@app.job("id", ...)`` (a
        decorator)."""
        if callable(first):
            return self.define(_name(first), first, options)
        if first is not None and not isinstance(first, str):
            raise ConfigurationError(f"job id must be a str, not {type(first).__name__}")

        def decorate(fn: Callable[..., Any]) -> JobDefinition:
            return self.define(_name(fn) if first is None else first, fn, options)

        return decorate

    def define(
        self, job_id: str, fn: Callable[..., Any], options: dict[str, Any], kind: str = "function"
    ) -> JobDefinition:
        """Register ``fn`` as job ``job_id`` with validated ``options``."""
        if not callable(fn):
            raise ConfigurationError(f"job {job_id!r} must be a function, got {fn!r}")
        if not isinstance(job_id, str):
            raise ConfigurationError(f"job id must be a str, not {type(job_id).__name__}")
        check_identifier(job_id, "job id", MAX_JOB_ID_BYTES)
        unknown = sorted(set(options) - JOB_OPTIONS)
        if unknown:
            raise UnknownOptionError(
                f"unknown job option {unknown[0]!r}; accepted: {', '.join(sorted(JOB_OPTIONS))}"
            )
        version = coerce_version(options.get("version"))
        job_options = JobOptions(
            priority=priority_value(options.get("priority")),
            queue=coerce_queue(options.get("queue")),
            retry=coerce_retry(options.get("retry")),
            timeout=coerce_seconds("timeout", options.get("timeout")),
            retention=coerce_seconds("retention", options.get("retention")),
            remove_delay=coerce_seconds("remove_delay", options.get("remove_delay")),
        )
        trigger = options.get("trigger")
        if trigger is not None and not isinstance(trigger, Trigger):
            raise ConfigurationError(
                f"invalid trigger {trigger!r}; use app.cron(...), app.every(...), "
                "app.schedule(...) or app.event(...)"
            )
        definition = JobDefinition(
            app=self._app, id=job_id, fn=fn, options=job_options,
            name=coerce_name(options.get("name")), version=version, trigger=trigger, kind=kind,
            **flow_options(options),
        )
        if definition.isolation == "process":
            check_isolated(definition)
        self._app.jobs.add_definition(definition)
        if trigger is not None:
            trigger.attach(self._app, definition)
        return definition

    def include(self, source: ModuleType | object) -> list[JobDefinition]:
        """Register every function in ``source.jobs`` and its ``cleanup`` policies
        (``source`` a module, an object or a mapping with those keys)."""
        def part(name: str) -> Any:
            if isinstance(source, Mapping):
                return source.get(name)
            return getattr(source, name, None)

        jobs, cleanup = part("jobs"), part("cleanup")
        if not isinstance(jobs, Mapping | None):
            raise ConfigurationError("include(): 'jobs' must be a dict of {id: function}")
        policies = parse_policies(cleanup or [])
        added: list[JobDefinition] = []
        try:
            for job_id, fn in (jobs or {}).items():
                added.append(self.define(job_id, fn, {}))
        except BaseException:  # all or nothing: a corrected include() can run again
            for definition in added:
                self._app.jobs.remove_definition(definition.id)
            raise
        # Stored by workers (and app.purge): see conveyor.cleanup.
        self._app.cleanup.update(policies)
        return added

    def on(self, event: str, fn: Hook | None) -> Any:
        """Register hook ``fn`` for ``event`` (``fn`` None: a decorator that does)."""
        hooks, observers = self._app.hooks, self._app.observers

        def register(fn: Hook) -> Hook:
            hooks.add(event, fn)
            if hooks not in observers:
                observers.append(hooks)
            return fn

        if fn is not None:
            return register(fn)
        hooks.check(event)  # refuse an unknown event name now
        return register


def _name(fn: Callable[..., Any]) -> str:
    """The job id a function gives itself: its ``__name__``."""
    name = getattr(fn, "__name__", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"{fn!r} has no __name__ to be the job's id; give one: @app.job(\"my-job\")"
        )
    return name


__all__ = ["JOB_OPTIONS", "Definitions", "DefinitionsHost", "JobDefinitionOptions", "Trigger"]
