"""Step records of durable runs as ``app.steps(run_id)`` returns them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.records import utc
from conveyor.serialization import read_error, read_stored
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
        """The step as readers show it; columns no code here wrote (not JSON, or not
        their shape) read as their text, an error of no type, or no history."""
        history = read_stored(row.history, [])
        return cls(
            seq=row.seq, key=row.key, kind=row.kind, state=row.state,
            input=read_stored(row.input), output=read_stored(row.output),
            error=read_error(row.error), attempts=row.attempts,
            history=[h for h in history if isinstance(h, dict)]
            if isinstance(history, list) else [],
            wake_at=utc(row.wake_at), started_at=utc(row.started_at),
            finished_at=utc(row.finished_at),
        )


__all__ = ["Step"]
