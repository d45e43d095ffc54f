"""Step writes of the durable runs on one event loop, committed together.

A step's ``await`` returns only once its result is committed (fenced by the run's lease),
but the runs on a worker's loop need not pay one transaction and two thread hand-offs
each: the writes made in one loop iteration go to a database thread as one
``store.save_steps`` call (one transaction, shared with other threads' step writes by the
store's group commit). While it commits, new writes wait for the next batch; a write
refused on its data fails only its own step.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from concurrent.futures import Executor, Future

from conveyor.awaiting import settle
from conveyor.stores.base import StepWrite, Store

_Batch = list[tuple[StepWrite, "asyncio.Future[bool]"]]


class StepWriter:
    """Group commit of one loop's step writes (one batch in flight at a time)."""

    def __init__(self, store: Store, db: Executor, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.db = db
        self.loop = loop
        self.pending: _Batch = []
        self.busy = False  # a batch is about to be sent or committing

    def save(self, write: StepWrite) -> asyncio.Future[bool]:
        """Resolves once ``write`` is committed: True, or False if the lease is gone."""
        future: asyncio.Future[bool] = self.loop.create_future()
        self.pending.append((write, future))
        if not self.busy:
            self.busy = True
            self.loop.call_soon(self._send)  # after the other runs of this iteration
        return future

    def _send(self) -> None:
        batch, self.pending = self.pending, []
        try:
            sent = self.db.submit(self.store.save_steps, [write for write, _ in batch])
        except BaseException as exc:  # the executor is shut down
            self._settle(batch, [exc] * len(batch))
            return
        sent.add_done_callback(lambda done: self._committed(batch, done))

    def _committed(self, batch: _Batch, done: Future[list[bool | BaseException]]) -> None:
        error = done.exception()
        results: list[bool | BaseException] = (
            [error] * len(batch) if error is not None else done.result()
        )
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits now
            self.loop.call_soon_threadsafe(self._settle, batch, results)

    def _settle(self, batch: _Batch, results: list[bool | BaseException]) -> None:
        settle([future for _, future in batch], results)
        if self.pending:
            self.loop.call_soon(self._send)
        else:
            self.busy = False


class StepWriters:
    """One :class:`StepWriter` per event loop running durable jobs."""

    def __init__(self, db: Executor) -> None:
        self.db = db
        self.lock = threading.Lock()
        self.by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, StepWriter] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, store: Store) -> StepWriter:
        """The running loop's writer for ``store``."""
        loop = asyncio.get_running_loop()
        with self.lock:
            writer = self.by_loop.get(loop)
            if writer is None or writer.store is not store:
                writer = self.by_loop[loop] = StepWriter(store, self.db, loop)
        return writer
