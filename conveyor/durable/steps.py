"""Step records of durable runs as ``app.steps(run_id)`` returns them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.records import utc
from conveyor.stores.base import StepRow


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


__all__ = ["Step"]
