"""The durable-runs-and-events part of the Store protocol, and its rows
(re-exported by :mod:`conveyor.stores.base`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from conveyor.stores.rows import NewJob


@dataclass(slots=True)
class StepRow:
    """One step of a durable run. ``state``: "completed", "failed" or "waiting" (asleep,
    awaiting an event, or between retries until ``wake_at``)."""

    job_id: int
    seq: int
    key: str
    kind: str  # task, wait, event, log, send_event, fetch
    state: str
    input: str | None = None  # JSON shown to people (secrets redacted)
    output: str | None = None
    error: str | None = None
    attempts: int = 0
    history: str | None = None  # JSON list of failed attempts
    wake_at: float | None = None
    event_name: str | None = None  # for "event" steps: the event awaited
    fingerprint: str | None = None  # the call's arguments, to refuse key reuse
    started_at: float = 0.0
    finished_at: float | None = None


class StepWrite(NamedTuple):
    """One fenced step write, as :meth:`DurableStore.save_step` takes it."""

    token: int
    step: StepRow
    suspend_until: float | None = None
    version: str | None = None


@dataclass(slots=True)
class EventRow:
    id: str
    name: str
    payload: str = "null"
    sent_at: float = 0.0
    deliver_at: float = 0.0
    delivered_at: float | None = None
    source: int | None = None  # the run that sent it
    runs: list[int] = field(default_factory=list)

    def as_json(self) -> str:
        """What ``io.wait_for_event`` hands back, as JSON text."""
        return (
            f'{{"id": {json.dumps(self.id)}, "name": {json.dumps(self.name)}, '
            f'"payload": {self.payload}, "sent_at": {self.sent_at!r}}}'
        )


class DurableStore(Protocol):
    """What conveyor.durable and conveyor.events ask of a store."""

    # -- durable runs and events (conveyor.durable, conveyor.events) -----------
    # A durable run's steps are rows keyed by (job id, seq); every write from the
    # running worker is fenced by its lease token like the job's own writes.
    def load_steps(self, job_id: int) -> list[StepRow]:
        """The run's stored steps in sequence order."""
        ...

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        """Insert or replace a step if the run is still held with ``token``; returns
        False when the lease is gone. With ``suspend_until`` the run is set ``waiting``
        until then in the same transaction (an event can then wake it at once)."""
        ...

    def save_steps(self, writes: Sequence[StepWrite]) -> list[bool | BaseException]:
        """:meth:`save_step` for several runs at once, committed together (and maybe
        with other threads' step writes): for each write, once committed, whether it was
        stored (False: that run's lease is gone) or the error that refused it (a write
        refused on its data fails only itself)."""
        ...

    def deliver_event(
        self,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
    ) -> tuple[EventRow, bool]:
        """Store ``event`` unless its id exists; if the stored event is due and not yet
        delivered, deliver it in the same transaction: insert ``runs(event)`` and complete
        the waiting event steps (filter JSON) that ``wakes`` accepts. Returns the stored
        event and whether it was new."""
        ...

    def due_events(self, limit: int) -> list[EventRow]:
        """Events whose ``deliver_at`` has passed and that were not delivered yet."""
        ...

    def get_event(self, event_id: str) -> EventRow | None: ...

    def list_events(self, name: str | None, limit: int, offset: int) -> list[EventRow]:
        """Newest first; ``runs`` filled in."""
        ...

    def purge_events(self, older_than: float) -> int:
        """Delete events delivered before ``older_than`` (epoch seconds), except those an
        unfinished run started or was woken by; returns how many."""
        ...
