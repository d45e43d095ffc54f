"""Group commit: concurrent writes from one process share one transaction.

The first caller leads: it stores every item waiting at that moment (its own first) in one
transaction, and each caller returns only once that transaction has committed. Callers
arriving meanwhile wait; when the commit ends, the first of them leads the next batch. A
lone caller pays nothing extra (it leads a batch of its own); sixteen pay one commit per
batch instead of one each. Callers of a shared batch come back one after another (each
needs the GIL to go on), so the first to come back would lead a batch of its own while the
others queue behind it: after a shared batch, the first caller back waits (at most
CROWD_WAIT after that commit) for the others to queue behind it, and the last of them to
come leads the batch at once (4 threads: ~3.9 items a batch instead of ~1.2; a thread
already running leads, where one woken to lead takes tens of µs to start).
If a batch fails, its items are stored one by one, so each gets its own error (a bad
payload fails only its own item); not if the store was unreachable (the batch may have
committed as the connection went): then each gets that error. Used for single triggers
(jobs) and for durable steps (fenced step writes).
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from conveyor.errors import StoreUnavailable

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 500  # items per transaction (a caller's items are never split)
# Callers of a shared batch coming back with their next items within this many seconds of
# its commit are waited for, so that they share the next one too.
CROWD_WAIT = 0.001


def wait_for_crowd(done: _thread.LockType, timeout: float) -> bool:
    """Wait up to ``timeout`` for a gathering leader's ``done`` lock (released once the
    last of the crowd stored the batch); whether it was."""
    return done.acquire(True, timeout)


class _Call(Generic[T, R]):
    __slots__ = ("done", "items", "lead", "results")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.results: list[R | BaseException] = []
        self.lead = False
        # A follower's lock, held until it may go on (a bare lock: cheaper than an Event).
        self.done: _thread.LockType | None = None

    def wake(self) -> None:
        if self.done is not None:  # the leader itself does not wait
            self.done.release()


class GroupCommit(Generic[T, R]):
    """Shares commits between threads calling :meth:`insert` or :meth:`insert_all` at
    the same time. ``store_many`` stores items in one transaction and returns each one's
    result, in order."""

    def __init__(self, store_many: Callable[[Sequence[T]], Sequence[R]]) -> None:
        self.store_many = store_many
        self.lock = threading.Lock()
        self.waiting: list[_Call[T, R]] = []
        self.leading = False
        # Callers of the last batch if several (else 0): they come back with their next
        # items one after another (each needs the GIL), so a lone leader lets them queue
        # first (``gathering``: its call, first in line), and the last of them to queue
        # leads the batch at once (the gathering leader would have to wake up first).
        self.crowd = 0
        self.crowd_until = 0.0  # (time.monotonic()) until when they are waited for
        self.gathering: _Call[T, R] | None = None

    def insert(self, item: T) -> R:
        """Store one item; returns its result once committed, or raises its error."""
        with self.lock:
            gather = False
            if self.leading:
                call: _Call[T, R] | None = self._queue([item])
            elif self.crowd and time.monotonic() < self.crowd_until:
                call = self.gathering = self._line([item])  # (just after a shared batch)
                gather = True
            else:
                call, self.crowd = None, 0
            self.leading = True
        if call is not None and gather:
            call = self._gather(call)
        if call is None:  # nobody leads, so nobody waits: store it alone, at once
            try:
                return self.store_many([item])[0]
            finally:
                self._hand_over(())
        (result,) = self._wait(call)
        if isinstance(result, BaseException):
            raise result
        return result

    def insert_all(self, items: Sequence[T]) -> list[R | BaseException]:
        """Store items (committed together, maybe with others' items); returns once
        committed, for each item its result or the error that refused it."""
        if not items:
            return []
        with self.lock:
            if self.leading:
                call = self._queue(items)
            else:
                call = _Call(items)
                self.waiting.append(call)
                self.leading = True
        return self._wait(call)

    def _gather(self, call: _Call[T, R]) -> _Call[T, R] | None:
        """(Leading, just after a shared batch, ``call`` first in line) wait a moment for
        the callers that shared it to queue behind this one with their next items: the
        call, in a batch with them (led by the last of them to come, else by this
        thread), or None if none came (then the batches are lone again)."""
        assert call.done is not None
        try:
            if wait_for_crowd(call.done, max(0.0, self.crowd_until - time.monotonic())):
                call.done.release()  # (the batch committed: _wait finds it so)
                return call
        except BaseException:  # (Ctrl-C) leave the line, and the lead to the next in it
            with self.lock:
                if self.gathering is call:
                    self.gathering, call.lead = None, True
            self._leave(call)
            raise
        with self.lock:
            if self.gathering is not call:  # the last to come leads the batch
                return call
            self.gathering = None
            if len(self.waiting) == 1:
                self.waiting.clear()
                self.crowd = 0
                return None
            call.done = None  # this thread leads the batch
        return call

    def _queue(self, items: Sequence[T]) -> _Call[T, R]:
        """(Under the lock, while another caller leads) wait in line; the last of a
        gathered crowd leads at once (its call has no lock to wait on)."""
        if self.gathering is not None and len(self.waiting) + 1 >= self.crowd:
            self.gathering = None
            call: _Call[T, R] = _Call(items)
            self.waiting.append(call)
            return call
        return self._line(items)

    def _line(self, items: Sequence[T]) -> _Call[T, R]:
        """(Under the lock) a call waiting in line, on its lock."""
        call: _Call[T, R] = _Call(items)
        call.done = _thread.allocate_lock()
        call.done.acquire()
        self.waiting.append(call)
        return call

    def _wait(self, call: _Call[T, R]) -> list[R | BaseException]:
        if call.done is not None:
            try:
                call.done.acquire()
            except BaseException:  # (Ctrl-C) leave the line, or hand the lead it was given
                self._leave(call)
                raise
            if not call.lead:
                return call.results
        self._lead()
        return call.results

    def _leave(self, call: _Call[T, R]) -> None:
        """(Interrupted while waiting) take the call out of line: its items are not stored,
        unless a batch took them already; if it was to lead the next batch, the next in
        line leads it (else nobody would, and every later caller would wait forever)."""
        with self.lock:
            if call not in self.waiting:  # in a batch (stored or being stored)
                return
            self.waiting.remove(call)
            if not call.lead:
                return
        self._hand_over(())

    def _lead(self) -> None:
        with self.lock:
            size, taken = 0, 0
            for call in self.waiting:
                if taken and size + len(call.items) > MAX_BATCH:
                    break
                size, taken = size + len(call.items), taken + 1
            batch, self.waiting = self.waiting[:taken], self.waiting[taken:]
            self.crowd = taken if taken > 1 else 0
        try:
            self._store(batch)
        finally:
            self._hand_over(batch)

    def _hand_over(self, batch: Sequence[_Call[T, R]]) -> None:
        """Wake the batch's callers, and the first waiting one to lead the next batch."""
        if self.crowd:
            self.crowd_until = time.monotonic() + CROWD_WAIT
        with self.lock:
            successor = self.waiting[0] if self.waiting else None
            self.leading = successor is not None
            if successor is not None:
                successor.lead = True  # (under the lock: one leaving the line sees it)
        for call in batch:
            call.wake()
        if successor is not None:
            successor.wake()

    def _store(self, batch: list[_Call[T, R]]) -> None:
        items = [item for call in batch for item in call.items]
        results: list[R | BaseException]
        try:
            results = list(self.store_many(items))
        except BaseException as exc:
            # The store unreachable (a lost connection: the batch may have committed):
            # its outcome is unknown, and stored again item by item it could be twice.
            if len(items) == 1 or not isinstance(exc, Exception) or isinstance(
                    exc, StoreUnavailable):
                results = [exc] * len(items)
            else:
                results = [self._alone(item) for item in items]  # find whose item failed
        start = 0
        for call in batch:
            call.results = results[start:start + len(call.items)]
            start += len(call.items)

    def _alone(self, item: T) -> R | BaseException:
        try:
            return self.store_many([item])[0]
        except BaseException as exc:
            return exc
