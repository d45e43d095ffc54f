"""Group commit: concurrent single inserts from one process share one transaction.

The first caller leads: it stores every job waiting at that moment (its own first) in one
transaction, and each caller returns only once that transaction has committed. Callers
arriving meanwhile wait; when the commit ends, the first of them leads the next batch. A
lone producer pays nothing extra (it leads a batch of one); sixteen producers pay one
commit per batch instead of one each. If a batch fails, its jobs are stored one by one,
so each caller gets its own job's error (a bad payload fails only its own call).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from conveyor.stores.base import NewJob

MAX_BATCH = 500


class _Call:
    __slots__ = ("done", "error", "id", "job", "lead")

    def __init__(self, job: NewJob) -> None:
        self.job = job
        self.id = 0
        self.error: BaseException | None = None
        self.lead = False
        self.done = threading.Event()

    def result(self) -> int:
        if self.error is not None:
            raise self.error
        return self.id


class GroupCommit:
    """Shares commits between threads calling :meth:`insert` at the same time."""

    def __init__(self, store_many: Callable[[Sequence[NewJob]], list[int]]) -> None:
        self.store_many = store_many  # one transaction, ids in the jobs' order
        self.lock = threading.Lock()
        self.waiting: list[_Call] = []
        self.leading = False

    def insert(self, job: NewJob) -> int:
        """Store one plain job (no dedupe, schedule or links); returns once committed."""
        call = _Call(job)
        with self.lock:
            self.waiting.append(call)
            follow, self.leading = self.leading, True
        if follow:
            call.done.wait()
            if not call.lead:
                return call.result()
        self._lead()
        return call.result()

    def _lead(self) -> None:
        with self.lock:
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
        try:
            self._store(batch)
        finally:
            with self.lock:
                successor = self.waiting[0] if self.waiting else None
                self.leading = successor is not None
            for call in batch:
                call.done.set()
            if successor is not None:
                successor.lead = True
                successor.done.set()

    def _store(self, batch: list[_Call]) -> None:
        try:
            ids = self.store_many([c.job for c in batch])
        except BaseException as exc:
            if len(batch) == 1 or not isinstance(exc, Exception):
                for call in batch:
                    call.error = exc
                return
            for call in batch:  # find whose job failed: each alone
                try:
                    call.id = self.store_many([call.job])[0]
                except BaseException as one:
                    call.error = one
            return
        for call, job_id in zip(batch, ids, strict=True):
            call.id = job_id
