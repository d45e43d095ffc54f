"""The durable half of :class:`conveyor.Conveyor`: kept versions and step records."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor.events import EventsMixin
from conveyor.records import utc
from conveyor.stores.base import StepRow

if TYPE_CHECKING:
    from conveyor.durable.extension import DurableExtension


@dataclass(frozen=True)
class Step:
    """One stored step of a durable run (for timelines: dashboard, CLI, tests)."""

    seq: int
    key: str
    kind: str  # task, wait, event, log, send_event, fetch
    state: str  # completed, failed, waiting
    input: Any
    output: Any
    error: dict[str, Any] | None
    attempts: int
    history: list[dict[str, Any]]
    wake_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def from_row(cls, row: StepRow) -> Step:
        def load(text: str | None) -> Any:
            return json.loads(text) if text is not None else None

        return cls(
            seq=row.seq, key=row.key, kind=row.kind, state=row.state, input=load(row.input),
            output=load(row.output), error=load(row.error), attempts=row.attempts,
            history=load(row.history) or [], wake_at=utc(row.wake_at),
            started_at=utc(row.started_at), finished_at=utc(row.finished_at),
        )


class DurableMixin(EventsMixin):
    durable_runs: DurableExtension

    def job_version(
        self, job_id: str, version: str
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Keep an older version of a durable job so runs that started on it finish on it:
        ``@app.job_version("send-welcome", "1.2.0")`` over the old function."""

        def keep(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.durable_runs.versions.add(job_id, version, fn)
            return fn

        return keep

    def steps(self, run_id: int) -> list[Step]:
        """A durable run's stored steps, in order."""
        return [Step.from_row(r) for r in self._store.load_steps(int(run_id))]
