"""Running a durable job: pick the code version, build ``io`` and ``ctx``, replay."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.durable.engine import DurableHost, Run
from conveyor.durable.io import IO
from conveyor.durable.writes import StepWriters
from conveyor.errors import ConfigurationError, Fail
from conveyor.injection import INJECTED, arguments_for
from conveyor.stores.base import ClaimedJob, StepRow

if TYPE_CHECKING:
    from conveyor.jobs import JobDefinition
    from conveyor.worker.meta import Meta


@dataclass(frozen=True)
class Context:
    """The ``ctx`` parameter: which run this is and what started it."""

    run_id: int
    job_id: str
    version: str | None
    attempt: int
    trigger: dict[str, Any] = field(default_factory=dict)


def trigger_of(claimed: ClaimedJob, event_name: str | None = None) -> dict[str, Any]:
    if claimed.event_id is not None:
        return {"type": "event", "event_id": claimed.event_id, "event_name": event_name}
    if claimed.schedule_id is not None:
        return {"type": "schedule", "schedule_id": claimed.schedule_id}
    return {"type": "invoke"}


class Versions:
    """Older code of durable jobs, kept so runs that started on it can finish."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str], Callable[..., Any]] = {}

    def add(self, job_id: str, version: str, fn: Callable[..., Any]) -> None:
        if not isinstance(version, str) or not version:
            raise ConfigurationError(f"version must be a str like '1.2.0', not {version!r}")
        if not inspect.iscoroutinefunction(fn):
            raise ConfigurationError(
                f"job_version({job_id!r}, {version!r}): durable jobs must be 'async def'"
            )
        self._by[(job_id, version)] = fn

    def pick(
        self, definition: JobDefinition, claimed: ClaimedJob, steps: list[StepRow]
    ) -> tuple[Callable[..., Any], str | None]:
        """The code to replay this run with: the current one for a run without steps or
        of the current version, else the kept code of the version it started on."""
        if not steps or claimed.version == definition.version:
            return definition.fn, definition.version
        assert claimed.version is not None or definition.version is not None
        kept = self._by.get((definition.id, claimed.version or ""))
        if kept is None:
            raise Fail(
                f"run {claimed.id} of {definition.id!r} started on version "
                f"{claimed.version!r}, but this worker has version {definition.version!r} "
                f"and not {claimed.version!r}: its steps cannot be replayed on other code. "
                f"Keep the old function registered with @app.job_version({definition.id!r}, "
                f"{claimed.version!r}) until its runs finish, or cancel the run"
            )
        return kept, claimed.version


async def run_durable(
    app: DurableHost, versions: Versions, writers: StepWriters, definition: JobDefinition,
    claimed: ClaimedJob, args: list[Any], kwargs: dict[str, Any], meta: Meta,
) -> Any:
    """Execute (or replay) one durable run; returns its output or raises. Store calls run
    on the ``writers``' database threads."""
    loop = asyncio.get_running_loop()
    writer = writers.of(app.store)
    db = writer.db
    steps = await loop.run_in_executor(db, app.store.load_steps, claimed.id)
    fn, version = versions.pick(definition, claimed, steps)
    if fn is not definition.fn:  # a kept version: its own parameters' order
        args, kwargs = arguments_for(definition.id, fn, args, kwargs)
    if not inspect.iscoroutinefunction(fn):
        raise Fail(f"durable job {definition.id!r} must be 'async def' (io calls are awaited)")
    claimed.version = version  # the worker records the version the run ran with
    run = Run(app, claimed, steps, meta, version, writer)
    wants = inspect.signature(fn).parameters
    event = None
    if "ctx" in wants and claimed.event_id is not None:
        event = await loop.run_in_executor(db, app.store.get_event, claimed.event_id)
    trigger = trigger_of(claimed, event.name if event is not None else None)
    injected = {
        "io": IO(run),
        "ctx": Context(claimed.id, definition.id, version, claimed.attempt, trigger),
        "meta": meta,
    }
    kwargs = {**kwargs, **{k: injected[k] for k in INJECTED if k in wants}}
    try:
        result = await fn(*args, **kwargs)
    except Exception:
        if run.fatal is not None:
            raise run.fatal from None
        raise
    if run.fatal is not None:
        raise run.fatal
    run.check_complete()
    return result
