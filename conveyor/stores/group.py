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
committed as the connection went): then each gets that error.

A leader interrupted (Ctrl-C: a BaseException) as it stores keeps its interrupt: the other
callers' items go back in line for the next leader if its transaction was rolled back (the
interrupt came before the store reached its commit: :func:`committing`), or each gets a
StoreUnavailable saying it may be stored. A caller interrupted anywhere leaves the line,
or hands on the lead it held: nobody waits for a leader that is gone. Used for single
triggers (jobs) and for durable steps (fenced step writes).
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
_reached = threading.local()  # .commit: this thread's store_many reached its commit


def committing() -> None:
    """Called by a ``store_many`` just before the call that commits (COMMIT, or a
    statement in autocommit): interrupted before it, nothing of the batch is stored."""
    _reached.commit = True


def wait_for_crowd(done: _thread.LockType, timeout: float) -> bool:
    """Wait up to ``timeout`` for a gathering leader's ``done`` lock (released once the
    last of the crowd stored the batch); whether it was."""
    return done.acquire(True, timeout)


class _Call(Generic[T, R]):
    __slots__ = ("done", "gone", "handed", "items", "lead", "results", "successor", "woken")

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self.results: list[R | BaseException] = []
        self.lead = False
        self.handed = False  # (a leader) has handed the lead on ...
        self.successor: _Call[T, R] | None = None  # ... to this call
        self.woken = False
        self.gone = False  # its caller left (interrupted) once a batch had taken it
        # A follower's lock, held until it may go on (a bare lock: cheaper than an Event).
        self.done: _thread.LockType | None = None

    def wake(self) -> None:
        if not self.woken:  # (once: a hand-over run again after an interrupt)
            self.woken = True
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
        self.storing: list[_Call[T, R]] = []  # the calls of the leader's store_many now

    def insert(self, item: T) -> R:
        """Store one item; returns its result once committed, or raises its error."""
        call: _Call[T, R] | None = None
        lone = gather = False
        try:  # (from before the call is in line: an interrupt anywhere is handled)
            with self.lock:
                if self.leading:
                    call = self._queue([item])
                elif self.crowd and time.monotonic() < self.crowd_until:
                    call = self.gathering = self._line([item])  # (just after a shared batch)
                    call.lead = gather = True
                else:
                    self.crowd, lone = 0, True
                self.leading = True
            if gather:
                assert call is not None
                self._gather(call)
            if lone:  # nobody leads, so nobody waits: store it alone, at once
                return self.store_many([item])[0]
            assert call is not None
            (result,) = self._wait(call)
        except BaseException:
            if call is not None:
                self._leave(call)
            raise
        finally:
            if lone:
                self._end_lone()
        if isinstance(result, BaseException):
            raise result
        return result

    def insert_all(self, items: Sequence[T]) -> list[R | BaseException]:
        """Store items (committed together, maybe with others' items); returns once
        committed, for each item its result or the error that refused it."""
        if not items:
            return []
        call: _Call[T, R] = _Call(items)
        try:
            with self.lock:
                if self.leading:
                    call = self._queue(items)
                else:
                    call.lead = self.leading = True
                    self.waiting.append(call)
            return self._wait(call)
        except BaseException:
            self._leave(call)
            raise

    def _gather(self, call: _Call[T, R]) -> None:
        """(Leading, just after a shared batch, ``call`` first in line) wait a moment for
        the callers that shared it to queue behind this one with their next items: the
        call goes in a batch with them, led by the last of them to come, else by this
        thread (alone if none came: then the batches are lone again)."""
        assert call.done is not None
        # (Interrupted: the caller leaves the line, and the lead to the next in it.)
        if wait_for_crowd(call.done, max(0.0, self.crowd_until - time.monotonic())):
            call.done.release()  # (the batch committed: _wait finds it so)
            return
        with self.lock:
            if self.gathering is call:  # (else the last to come leads the batch)
                self.gathering = None
                call.done = None  # this thread leads the batch (its line stays whole)

    def _queue(self, items: Sequence[T]) -> _Call[T, R]:
        """(Under the lock, while another caller leads) wait in line; the last of a
        gathered crowd leads at once (its call has no lock to wait on)."""
        if self.gathering is not None and len(self.waiting) + 1 >= self.crowd:
            self.gathering.lead = False  # (waits for this batch instead)
            self.gathering = None
            call: _Call[T, R] = _Call(items)
            call.lead = True
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
        """(The caller leaves the line if interrupted: :meth:`_leave`.)"""
        if call.done is not None:
            call.done.acquire()
            if not call.lead:
                return call.results
        self._lead(call)
        return call.results

    def _leave(self, call: _Call[T, R]) -> None:
        """(Interrupted) take the call out of line: its items are not stored, unless a
        batch took them already; if it was to lead the next batch, the next in line
        leads it (else nobody would, and every later caller would wait forever)."""
        with self.lock:
            if self.gathering is call:
                self.gathering = None
            if call not in self.waiting:  # in a batch (stored, being stored, or led)
                call.gone = True
                return
            self.waiting.remove(call)
            if not call.lead:
                return
        self._hand_over((), call)

    def _lead(self, own: _Call[T, R]) -> None:
        batch: list[_Call[T, R]] | None = None
        try:
            with self.lock:
                size, taken = 0, 0
                for call in self.waiting:
                    if taken and size + len(call.items) > MAX_BATCH:
                        break
                    size, taken = size + len(call.items), taken + 1
                batch, self.waiting = self.waiting[:taken], self.waiting[taken:]
                self.crowd = taken if taken > 1 else 0
                self.storing = []
            self._store(batch)
        except BaseException as exc:  # (an interrupt) the leader's own, not the others'
            if batch is not None:
                self._interrupted(batch, own, exc)
            raise
        finally:
            if batch is not None:  # (else still in line: _leave hands the lead on)
                self._hand_over_surely(batch, own)

    def _end_lone(self) -> None:
        """(A lone caller, stored) nobody leads now, or the first in line if any."""
        ended = False
        try:
            with self.lock:
                if not self.waiting:
                    self.leading, ended = False, True  # (one step: never interrupted between)
                    return
        except BaseException:  # (interrupted) the lead is handed on all the same
            if not ended:
                self._hand_over_surely((), _Call(()))
            raise
        self._hand_over_surely((), _Call(()))

    def _hand_over_surely(self, batch: Sequence[_Call[T, R]], own: _Call[T, R]) -> None:
        """:meth:`_hand_over`, run again to its end if interrupted (at its start, too)."""
        try:
            self._hand_over(batch, own)
        except BaseException:
            self._hand_over(batch, own)
            raise

    def _hand_over(self, batch: Sequence[_Call[T, R]], own: _Call[T, R]) -> None:
        """Wake the batch's callers, and the first waiting one to lead the next batch
        (``own``: the leader's call). Run again after an interrupt, it finishes."""
        if self.crowd:
            self.crowd_until = time.monotonic() + CROWD_WAIT
        with self.lock:
            if not own.handed:  # (under the lock: one leaving the line sees the lead)
                own.handed = True
                own.successor = self.waiting[0] if self.waiting else None
                self.leading = own.successor is not None
                if own.successor is not None:
                    own.successor.lead = True
        for call in batch:
            call.wake()
        if own.successor is not None:
            own.successor.wake()

    def _store(self, batch: list[_Call[T, R]]) -> None:
        items = [item for call in batch for item in call.items]
        results: list[R | BaseException]
        try:
            results = self._attempt(batch, items)
        except Exception as exc:
            # The store unreachable (a lost connection: the batch may have committed):
            # its outcome is unknown, and stored again item by item it could be twice.
            if len(items) == 1 or isinstance(exc, StoreUnavailable):
                results = [exc] * len(items)
            else:  # find whose item failed
                self._one_by_one(batch)
                return
        start = 0
        for call in batch:
            call.results = results[start:start + len(call.items)]
            start += len(call.items)

    def _attempt(self, calls: list[_Call[T, R]], items: Sequence[T]) -> list[R | BaseException]:
        """store_many(items), for ``calls`` (interrupted: see _interrupted)."""
        self.storing, _reached.commit = calls, False
        return list(self.store_many(items))

    def _one_by_one(self, batch: list[_Call[T, R]]) -> None:
        for call in batch:
            call.results = results = []  # (filled as it goes: see _interrupted)
            for item in call.items:
                try:
                    results.extend(self._attempt([call], [item]))
                except Exception as exc:
                    results.append(exc)

    def _interrupted(self, batch: list[_Call[T, R]], own: _Call[T, R],
                     exc: BaseException) -> None:
        """The leader was interrupted (``exc``) storing ``batch``: the calls of a
        store_many interrupted past its commit point may be stored (or some of their
        items are): each gets an error saying so; the others with no outcome yet were
        not (rolled back), and go back to the head of the line for the next leader
        (taken out of ``batch``: not woken)."""
        maybe = StoreUnavailable(
            f"the batch storing this was interrupted ({type(exc).__name__}) as it "
            "committed: it may or may not be stored")
        reached = getattr(_reached, "commit", False)
        for call in batch:
            if len(call.results) < len(call.items) and (
                    call.results or (reached and call in self.storing)):
                call.results = [maybe] * len(call.items)
        with self.lock:
            back = [c for c in batch if not c.results and c is not own and not c.gone]
            self.waiting[:0] = back
        batch[:] = [c for c in batch if c not in back]
