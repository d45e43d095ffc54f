"""Events: ``app.send_event``, event triggers (``trigger=app.event(name, filter=...)``),
durable waits woken by events, and ``app.events_list``.

An event is stored once per id; delivering it (at once, or at ``deliver_at`` by the
maintenance leader) starts a run of every job whose trigger matches and wakes the runs
waiting for it, in the same transaction that marks it delivered, so it happens once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.errors import ConfigurationError, is_connection_error
from conveyor.eventfilters import check_filter, matches
from conveyor.records import utc
from conveyor.serialization import Limits, dumps, read_stored
from conveyor.stores.base import EventRow, NewJob, Store
from conveyor.text import check_identifier, clean, clean_name
from conveyor.timeunits import to_utc

log = logging.getLogger("conveyor.events")

if TYPE_CHECKING:
    from conveyor.jobs import JobDefinition
    from conveyor.triggering import Triggering


class EventRoutes:
    """Which jobs each event starts: the app's event triggers (``app.event_routes``)."""

    def __init__(self) -> None:
        self.triggers: list[tuple[EventTrigger, JobDefinition]] = []

    def add(self, trigger: EventTrigger, definition: JobDefinition) -> None:
        self.triggers.append((trigger, definition))


class EventsHost(Protocol):
    """What sending and delivering events use of the app."""

    limits: Limits

    @property
    def store(self) -> Store: ...

    @property
    def triggering(self) -> Triggering: ...

    @property
    def event_routes(self) -> EventRoutes: ...


class EventTrigger:
    """``trigger=app.event("user.created", filter={"plan": ["pro"]})``: start a run of the
    job, with the event's payload as its argument, for each matching event."""

    kind = "event"  # as the dashboard and API describe the trigger

    def __init__(self, name: str, filter: dict[str, Any] | None = None) -> None:
        self.name = check_name(name)
        self.filter = check_filter(filter)

    def attach(self, app: EventsHost, definition: JobDefinition) -> None:
        app.event_routes.add(self, definition)

    def accepts(self, name: str, payload: Any) -> bool:
        return name == self.name and matches(self.filter, payload)

    def __repr__(self) -> str:
        return f"<event trigger {self.name!r} filter={self.filter!r}>"

    def __str__(self) -> str:
        where = f" where {json.dumps(self.filter, ensure_ascii=False)}" if self.filter else ""
        return f"event {self.name}{where}"


@dataclass(frozen=True)
class EventRecord:
    """A stored event and the runs it started (job ids)."""

    id: str
    name: str
    payload: Any
    sent_at: datetime | None
    deliver_at: datetime | None
    delivered_at: datetime | None
    source: int | None = None  # the durable run that sent it
    runs: list[int] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: EventRow) -> EventRecord:
        return cls(
            id=row.id, name=row.name, payload=read_stored(row.payload), sent_at=utc(row.sent_at),
            deliver_at=utc(row.deliver_at), delivered_at=utc(row.delivered_at),
            source=row.source, runs=list(row.runs),
        )


def check_name(name: Any) -> str:
    """An event name as stored (sanitised, see :func:`conveyor.text.clean_name`)."""
    return clean_name(name)


def send(
    app: EventsHost, name: str, payload: str, event_id: str | None, delay: float | None = None,
    source: int | None = None, deliver_at: float | None = None, store: Store | None = None,
) -> EventRow:
    """Store an event (``payload`` is JSON text) and deliver it now if it is due."""
    store = store or app.store
    if event_id is not None and (not isinstance(event_id, str) or not event_id):
        raise ConfigurationError(f"an event id must be a non-empty str, got {event_id!r}")
    if event_id is not None:
        check_identifier(event_id, "event id")
    if deliver_at is None:
        deliver_at = store.now() + (delay or 0.0)
    row = EventRow(
        id=event_id or uuid.uuid4().hex, name=name, payload=payload, deliver_at=deliver_at,
        source=source,
    )
    stored, _ = store.deliver_event(row, lambda event: runs_for(app, event), wakes)
    return stored


def runs_for(app: EventsHost, event: EventRow) -> Sequence[NewJob]:
    """The runs an event starts: one per job whose trigger matches it. A trigger that
    cannot start its run (its job refuses the payload) is skipped and logged; the
    others still start."""
    payload = json.loads(event.payload)
    runs = []
    for trigger, definition in app.event_routes.triggers:
        try:
            if trigger.accepts(event.name, payload):
                runs.append(app.triggering.new_job(definition(payload), None, 0.0, {}))
        except Exception:
            log.exception("event %r (%s): job %r cannot start from it; skipped", event.id,
                          event.name, definition.id)
    return runs


def wakes(event: EventRow, spec: str | None) -> bool:
    """Does ``event`` satisfy a waiting step's ``{"name", "filter"}``? A spec no code
    here can read (written by other software) wakes nothing and is logged: it must not
    stop the event's delivery to its other waiters and triggers."""
    try:
        wanted = json.loads(spec or "{}")
        return bool(
            wanted.get("name") == event.name
            and matches(wanted.get("filter") or {}, json.loads(event.payload))
        )
    except Exception:
        log.exception("event %r (%s): a waiting step's stored filter %r cannot be read; "
                      "that step is not woken", event.id, event.name, clean(spec, 200))
        return False


def deliver_due(app: EventsHost, store: Store, limit: int = 100) -> int:
    """Deliver events whose ``deliver_at`` has come (the maintenance leader calls this)."""
    due = store.due_events(limit)
    for row in due:
        try:
            store.deliver_event(row, lambda event: runs_for(app, event), wakes)
        except Exception as exc:
            if is_connection_error(exc):
                raise
            # Quarantine: mark it delivered without runs, so it cannot block the others.
            log.exception("event %r (%s) cannot be delivered; marked delivered without "
                          "starting runs", row.id, row.name)
            store.deliver_event(row, lambda event: [], lambda event, spec: False)
    return len(due)


class EventsServiceHost(EventsHost, Protocol):
    """What the events service uses of its app."""

    timezone: str


class Events:
    """Event triggers, sending and finding events (``app.events``)."""

    def __init__(self, app: EventsServiceHost) -> None:
        self._app = app

    def event(self, name: str, filter: dict[str, Any] | None = None) -> EventTrigger:
        """A trigger: ``@app.job(trigger=app.event("user.created", filter={"plan":
        ["pro"]}))``. Filters are EventBridge-style (see :mod:`conveyor.eventfilters`)."""
        return EventTrigger(name, filter)

    def send_event(
        self, name: str, payload: Any = None, id: str | None = None, *,
        deliver_at: datetime | None = None,
    ) -> EventRecord:
        """Store an event and start the runs it triggers (now, or at ``deliver_at``).
        Sending an ``id`` that was sent before does nothing and returns the stored event."""
        name = check_name(name)
        app = self._app
        due = to_utc(deliver_at, app.timezone).timestamp() if deliver_at else None
        row = send(app, name, dumps(payload, "event payload", app.limits), id, deliver_at=due)
        return EventRecord.from_row(row)

    def get_event(self, event_id: str) -> EventRecord | None:
        """The stored event with this id (and the runs it started), or None."""
        row = self._app.store.get_event(str(event_id))
        return EventRecord.from_row(row) if row else None

    def events_list(
        self, name: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[EventRecord]:
        """Stored events, newest first, each with the runs it started."""
        if limit < 0 or offset < 0:
            raise ConfigurationError("limit and offset must be >= 0")
        return [EventRecord.from_row(r) for r in self._app.store.list_events(name, limit, offset)]
