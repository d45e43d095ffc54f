"""A thread that makes a worker's store calls, one at a time in order, for its event loop.

What a one-thread ``ThreadPoolExecutor`` with ``loop.run_in_executor`` did, without the
``concurrent.futures.Future`` (a lock and a condition each), the chaining of the two
futures and the executor's bookkeeping on every call: a call is queued with its asyncio
future, and the thread hands the result back with one ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Call = tuple["asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class DbThread:
    """Runs calls on one thread of its own (started at once, named ``name``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str) -> None:
        self.loop = loop
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        # A daemon: one call still in flight when the interpreter exits (its worker gone)
        # must not keep the process alive; every call a worker makes is awaited first.
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on the thread, after the calls queued before it. A call whose
        future is cancelled before it starts is never made (as an executor's)."""
        future: asyncio.Future[T] = self.loop.create_future()
        self.calls.put((future, fn, args))
        return future

    def shutdown(self) -> None:
        """The thread ends once the calls queued so far are made."""
        self.calls.put(None)

    def _serve(self) -> None:
        calls = self.calls
        while (item := calls.get()) is not None:
            self._make(*item)
            del item  # (nothing of a call outlives it here)

    def _make(self, future: asyncio.Future[Any], fn: Callable[..., Any],
              args: tuple[Any, ...]) -> None:
        if future.cancelled():
            return
        try:
            result = fn(*args)
        except BaseException as exc:  # the caller's to raise, whatever it is
            if isinstance(exc, StopIteration):  # a future refuses it (and is never done)
                error = RuntimeError(f"{getattr(fn, '__qualname__', fn)} raised StopIteration")
                error.__cause__ = exc
                exc = error
            self._send(_fail, future, exc)
        else:
            self._send(_done, future, result)

    def _send(self, how: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self.loop.call_soon_threadsafe(how, *args)


def _done(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(exc)
