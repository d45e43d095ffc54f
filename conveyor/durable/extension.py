"""The durable-runs service of an app (``app.durable_runs``): kept versions, the
database threads, running durable jobs, stored steps; as an
:class:`~conveyor.host.Extension` it delivers due events."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from conveyor.durable.engine import DurableHost
from conveyor.durable.runner import Versions, run_durable
from conveyor.durable.steps import Step
from conveyor.durable.writes import StepWriters
from conveyor.events import deliver_due
from conveyor.host import BaseExtension

if TYPE_CHECKING:
    from conveyor.host import Host
    from conveyor.jobs import JobDefinition
    from conveyor.stores.base import ClaimedJob, Store
    from conveyor.worker.execute import JobRunner
    from conveyor.worker.meta import Meta

DB_THREADS = 16


class DurableExtension(BaseExtension):
    """Per-app state: kept versions; runs durable jobs; delivers due events."""

    def __init__(self, app: DurableHost) -> None:
        self.app = app
        self.versions = Versions()
        # Store reads of durable runs; their step writes are batched per event loop.
        self.db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="conveyor-durable")
        self.writers = StepWriters(self.db)

    async def run(
        self, definition: JobDefinition, claimed: ClaimedJob, args: list[Any],
        kwargs: dict[str, Any], meta: Meta, runner: JobRunner,
    ) -> Any:
        """Execute (or replay) a durable run for the worker whose ``runner`` claimed it."""
        return await run_durable(
            self.app, self.versions, self.writers, definition, claimed, args, kwargs, meta
        )

    def job_version(
        self, job_id: str, version: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A decorator keeping ``fn`` as version ``version`` of durable job ``job_id``."""

        def keep(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.versions.add(job_id, version, fn)
            return fn

        return keep

    def steps(self, run_id: int) -> list[Step]:
        """A durable run's stored steps, in order."""
        return [Step.from_row(r) for r in self.app.store.load_steps(int(run_id))]

    def maintain(self, app: Host, store: Store, leader: bool) -> None:
        if leader:
            deliver_due(self.app, store)


__all__ = ["DB_THREADS", "DurableExtension"]
