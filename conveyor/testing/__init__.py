"""Helpers for testing code that triggers conveyor jobs.

* ``with inline(app):`` runs every trigger inside the call, as a worker would.
* ``run_until_idle(app)`` runs everything due on an in-process worker.
* ``FakeClock(app, start=...)`` moves time for schedules, delays, retries and durable
  waits with ``clock.advance(n, unit)``.
* ``enqueued(app, job=None, **payload_subset)`` lists stored jobs for assertions.

The pytest plugin (installed with conveyor) provides a ``conveyor_app`` fixture.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from conveyor.testing.clock import FakeClock, clock_of

if TYPE_CHECKING:
    from conveyor.app import Conveyor
    from conveyor.jobs import JobDefinition
    from conveyor.records import JobRecord
    from conveyor.stores.base import NewJob

__all__ = ["FakeClock", "enqueued", "inline", "run_until_idle"]

# Rounds of skipping waits and retry delays before inline() gives up on a job.
_MAX_ROUNDS = 1000


def run_until_idle(app: Conveyor, clock: FakeClock | None = None, **worker_options: Any) -> None:
    """Run every job that is due (on ``clock``'s time when given) on an in-process
    worker until nothing is due and nothing is running. Schedule occurrences and due
    durable runs included; a job due later stays for ``clock.advance``."""
    if clock is not None and clock.app is not app:
        raise ValueError("run_until_idle(): clock belongs to another app")
    worker_options.setdefault("poll_interval", 0.05)
    app.run_worker(burst=True, **worker_options)  # from async code too: in a thread


def enqueued(app: Conveyor, job: str | JobDefinition | None = None,
             **payload_subset: Any) -> list[JobRecord]:
    """Stored jobs (any state, oldest first) of ``job`` (an id or the decorated function)
    whose payload contains ``payload_subset`` (the single positional argument when the
    job was called with one, else its keyword arguments)."""
    name = job if job is None or isinstance(job, str) else job.id
    return app.jobs_list(job=name, data=payload_subset or None, limit=1_000_000,
                         newest_first=False)


class _Inline:
    """State of one ``inline(app)`` block."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app
        self.ids: set[int] = set()
        self.running = False
        self.clock: FakeClock | None = None
        self.lock = threading.RLock()

    def insert(self, original: Any, jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        for new in jobs:  # due at once: run_in / run_at run inside the call too
            new.run_at, new.delay = None, 0.0
        ids = list(original(jobs, connection) if connection is not None else original(jobs))
        self.settle(ids)
        return ids

    def send_event(self, original: Any, name: str, payload: Any = None, id: str | None = None,
                   **options: Any) -> Any:
        options["deliver_at"] = None  # delivered now, as run_in / run_at run now
        record = original(name, payload, id, **options)
        self.settle(record.runs)
        return record

    def settle(self, ids: Iterable[int]) -> None:
        """Run ``ids`` (and all else due) now, unless a drain of this block runs already."""
        with self.lock:
            self.ids.update(ids)
            if self.running:  # triggered by a job of this block: the running drain takes it
                return
            self.running = True
        try:
            self.drain()
        finally:
            self.running = False

    def drain(self) -> None:
        for _ in range(_MAX_ROUNDS):
            run_until_idle(self.app)
            later = self._next_wake()
            if later is None:
                return
            clock = clock_of(self.app) or self._own_clock()
            clock.move_to(later + timedelta(milliseconds=1))  # records round to the µs

    def _next_wake(self) -> Any:
        """The earliest due time among this block's jobs still waiting on time."""
        records = self.app.jobs_list(ids=sorted(self.ids), limit=len(self.ids) or 1,
                                     state=["scheduled", "waiting"])
        due = [r.run_at for r in records if r.run_at is not None]
        return min(due) if due else None

    def _own_clock(self) -> FakeClock:
        if self.clock is None:
            self.clock = FakeClock(self.app)
        return self.clock


@contextmanager
def inline(app: Conveyor) -> Iterator[None]:
    """Inside the block every trigger of ``app`` (``run_now``, ``run_in``, ``run_at``,
    ``enqueue_many``, ``send_event``, jobs a job triggers) runs before the call returns,
    as a worker would run it: results and errors are stored, retries run at once, and
    durable waits on time are skipped over (waits for an event still wait for it)."""
    state = _Inline(app)
    original = app.triggering.insert
    original_send = app.events.send_event
    # An outer inline() block's hooks, put back when this (nested) block ends.
    outer = {name: vars(app.triggering)[name] for name in ("insert", "insert_async")
             if name in vars(app.triggering)}
    outer_send = vars(app.events).get("send_event")

    def insert(jobs: Sequence[NewJob], connection: Any = None) -> list[int]:
        return state.insert(original, jobs, connection)

    async def insert_async(jobs: Sequence[NewJob]) -> list[int]:  # awaited triggers
        return await asyncio.to_thread(insert, jobs)

    def send_event(name: str, payload: Any = None, id: str | None = None,
                   **options: Any) -> Any:
        return state.send_event(original_send, name, payload, id, **options)

    app.triggering.insert = insert  # type: ignore[method-assign]
    app.triggering.insert_async = insert_async  # type: ignore[method-assign]
    app.events.send_event = send_event  # type: ignore[method-assign]
    try:
        yield
    finally:
        del app.triggering.insert, app.triggering.insert_async, app.events.send_event
        for name, hook in outer.items():
            setattr(app.triggering, name, hook)
        if outer_send is not None:
            app.events.send_event = outer_send  # type: ignore[method-assign]
        if state.clock is not None:
            state.clock.stop()
