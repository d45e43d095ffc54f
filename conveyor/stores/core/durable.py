"""Durable runs (steps) and events: the store methods, once. The statements both
databases share are :class:`~conveyor.stores.eventlogic.EventSQL` (the dialect's
``events``) and the named queries ``save_step``, ``suspend``, ``store_event``,
``stored_event`` and ``due_events``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conveyor.stores.base import EventRow, NewJob, StepRow, StepWrite
from conveyor.stores.core.dialect import Dialect
from conveyor.stores.eventlogic import (
    EVENT_COLUMNS,
    STEP_COLUMNS,
    deliver,
    event_runs,
    step_values,
    with_runs,
)
from conveyor.stores.group import GroupCommit, committing


def step_params(d: Dialect, token: int, step: StepRow, suspend: float | None,
                version: str | None) -> dict[str, Any]:
    """Parameters of ``save_step`` and ``suspend``: the step's columns by name."""
    values = dict(zip(STEP_COLUMNS.split(", "), step_values(step), strict=True))
    return d.params(**values, token=token, suspend=suspend, version=version)


class DurableCore:
    d: Dialect
    step_group: GroupCommit[dict[str, Any], bool]  # set by the store: step writes

    _insert_in: Callable[[Any, NewJob], int]  # InsertCore: one job, open transaction
    def load_steps(self, job_id: int) -> list[StepRow]:
        with self.d.reading() as conn:
            rows = conn.execute(self.d.events.load_steps, (job_id,)).fetchall()
        return [StepRow(*r) for r in rows]

    def save_step(
        self, token: int, step: StepRow, suspend_until: float | None = None,
        version: str | None = None,
    ) -> bool:
        return self.step_group.insert(step_params(self.d, token, step, suspend_until, version))

    def save_steps(self, writes: Sequence[StepWrite]) -> list[bool | BaseException]:
        return self.step_group.insert_all([step_params(self.d, *w) for w in writes])

    def _store_steps(self, batch: Sequence[dict[str, Any]]) -> list[bool]:
        """Step writes (:func:`step_params`) in one transaction: whether each was stored."""
        d = self.d
        if len(batch) == 1:
            # A step that suspends its run is two statements where the dialect has
            # "suspend" (SQLite): one transaction, or an event sent between them would
            # find the step waiting but not its run, and never wake it.
            alone = batch[0]["suspend"] is None or "suspend" not in d.q
            with d.one() if alone else d.writing() as conn:
                if alone:
                    committing()  # its one statement commits (autocommit)
                saved = [d.save_step(conn, batch[0])]
                committing()  # (a transaction commits as the block ends)
            return saved
        order = sorted(range(len(batch)), key=lambda i: batch[i]["job_id"])  # lock order

        def store() -> list[bool]:
            with d.writing() as conn:
                stored = d.save_steps(conn, [batch[i] for i in order])
                committing()
            saved = [False] * len(batch)
            for i, ok in zip(order, stored, strict=True):
                saved[i] = ok
            return saved

        return d.attempt(store)

    def deliver_event(
        self,
        event: EventRow,
        runs: Callable[[EventRow], Sequence[NewJob]],
        wakes: Callable[[EventRow, str | None], bool],
    ) -> tuple[EventRow, bool]:
        d = self.d
        params = d.params(id=event.id, name=event.name, payload=event.payload,
                          deliver_at=event.deliver_at, source=event.source)
        with d.writing() as conn:
            new = d.run(conn, "store_event", params).rowcount == 1
            stored = EventRow(*d.run(conn, "stored_event", params).fetchone())
            now = d.now(conn, params)
            if stored.delivered_at is None and stored.deliver_at <= now and deliver(
                conn, d.events, stored, runs, wakes, lambda job: self._insert_in(conn, job), now
            ):
                d.notify(conn)
            stored.runs = event_runs(conn, d.events, stored.id)
        d.inserted()
        return stored, new

    def due_events(self, limit: int) -> list[EventRow]:
        with self.d.reading() as conn:
            rows = self.d.run(conn, "due_events", self.d.params(limit=limit)).fetchall()
        return [EventRow(*r) for r in rows]

    def get_event(self, event_id: str) -> EventRow | None:
        found = self._events(self.d.events.by_id, (event_id,))
        return found[0] if found else None

    def list_events(self, name: str | None, limit: int, offset: int) -> list[EventRow]:
        sql = self.d.events
        where, params = (sql.by_name, (name,)) if name is not None else ("", ())
        return self._events(f"{where} {sql.newest_first}", (*params, limit, offset))

    def _events(self, where: str, params: Sequence[Any]) -> list[EventRow]:
        with self.d.reading() as conn:
            return with_runs(conn, self.d.events, [EventRow(*r) for r in conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM conveyor_events {where}", params
            )])

    def purge_events(self, older_than: float) -> int:
        with self.d.one() as conn:
            return int(conn.execute(self.d.events.purge_events, (older_than,)).rowcount)
