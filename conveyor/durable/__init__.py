"""Durable runs: jobs with an ``io`` parameter replay from stored steps (SPEC §5)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from conveyor.durable.io import IO, StepLogger
from conveyor.durable.mixin import DurableMixin, Step
from conveyor.durable.runner import Context, Versions, run_durable
from conveyor.stores.base import ClaimedJob, Store

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.events import EventTrigger
    from conveyor.jobs import JobDefinition
    from conveyor.worker.execute import JobRunner
    from conveyor.worker.meta import Meta

DB_THREADS = 16


class DurableExtension:
    """Per-app state: event triggers, kept versions; runs durable jobs; delivers due events."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self.triggers: list[tuple[EventTrigger, JobDefinition]] = []
        self.versions = Versions()
        # Durable runs wait on many small store writes; enough threads let a PostgreSQL
        # store commit them concurrently (group commit) instead of one fsync at a time.
        self.db = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="conveyor-durable")

    async def run(
        self, definition: JobDefinition, claimed: ClaimedJob, args: list[Any],
        kwargs: dict[str, Any], meta: Meta, runner: JobRunner,
    ) -> Any:
        return await run_durable(
            self.app, self.versions, self.db, definition, claimed, args, kwargs, meta, runner
        )

    def maintain(self, app: Conveyor, store: Store, leader: bool) -> None:
        if leader:
            from conveyor.events import deliver_due

            deliver_due(app, store)


def install(app: Conveyor) -> None:
    """Give ``app`` durable runs and events (called by Conveyor.__init__)."""
    extension = DurableExtension(app)
    app._durable = extension
    app.durable_runner = extension.run
    app.extensions.append(extension)


__all__ = ["IO", "Context", "DurableExtension", "DurableMixin", "Step", "StepLogger", "install"]
