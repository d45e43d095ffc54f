"""``await job(x).run_now()`` stores the job without blocking the event loop.

A trigger stores its job before it returns: called plainly (``job(x).run_now()``, also in
async code) it blocks its thread for the database round trip. Written
``await job(x).run_now()`` in a coroutine, the caller awaits the call's value at once, so
the trigger hands back an awaitable that stores the job without blocking the event loop
(over the store's async face, PostgreSQL's async pool, else in a worker thread) and gives
the stored handle: the loop keeps serving other tasks meanwhile, and the job is stored
before the ``await`` expression completes.
Whether the caller awaits is read from its bytecode (the instruction after the call is
``GET_AWAITABLE``); anything else keeps the blocking form.
"""

from __future__ import annotations

import asyncio
import dis
import sys
from collections.abc import Callable, Generator, Sequence
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar

from conveyor.errors import StoreUnavailable
from conveyor.jobs import JobHandle

if TYPE_CHECKING:
    from conveyor.jobs import JobHost
    from conveyor.stores.base import NewJob

_AWAITS: dict[tuple[CodeType, int], bool] = {}
T = TypeVar("T")
_MAX_CACHED = 10_000
BUILD_CHUNK = 100  # jobs validated and encoded on the loop between two of its turns


def awaited_by_caller(depth: int) -> bool:
    """Whether the frame ``depth`` levels above the caller of this function awaits the
    value that call returns, inside a running event loop."""
    if asyncio._get_running_loop() is None:  # (get_running_loop() raises: slower)
        return False
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return False
    key = (frame.f_code, frame.f_lasti)
    found = _AWAITS.get(key)
    if found is None:
        found = _next_is_await(frame.f_code, frame.f_lasti)
        if len(_AWAITS) < _MAX_CACHED:
            _AWAITS[key] = found
    return found


def _next_is_await(code: CodeType, last: int) -> bool:
    for instruction in dis.get_instructions(code):
        if instruction.offset > last:
            return instruction.opname == "GET_AWAITABLE"
    return False


class StoringHandle(JobHandle):
    """What an awaited trigger returns: awaiting it stores the job off the event loop
    and gives its :class:`JobHandle`. Triggers awaited in the same turn of the loop are
    stored together (one transaction)."""

    __slots__ = ("_call",)

    def __init__(self, app: JobHost, call: Callable[[], NewJob]) -> None:
        super().__init__(app, 0)
        self._call = call

    def __await__(self) -> Generator[Any, None, JobHandle]:
        if not self.id:
            self.id = yield from _batch(self.app).add(self._call).__await__()
        return JobHandle(self.app, self.id)


class _Batch:
    """The awaited triggers of one app on one event loop: stored one batch at a time
    (group commit), each batch all the triggers awaited since the last one started."""

    def __init__(self, app: JobHost, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.loop = loop
        self.pending: list[tuple[Callable[[], NewJob], asyncio.Future[int]]] = []
        self.storing = False  # a batch is being stored: the next one waits for it

    def add(self, build: Callable[[], NewJob]) -> asyncio.Future[int]:
        future: asyncio.Future[int] = self.loop.create_future()
        if not self.pending and not self.storing:
            self.loop.call_soon(self._flush)
        self.pending.append((build, future))
        return future

    def _flush(self) -> None:
        items, self.pending = self.pending, []
        self.storing = True
        task = self.loop.create_task(self._store(items))
        _running.add(task)
        task.add_done_callback(self._stored)

    def _stored(self, task: asyncio.Task[None]) -> None:
        _running.discard(task)
        self.storing = False
        if task.cancelled():  # the loop is ending (asyncio.run cancels every task)
            for _, future in self.pending:
                future.cancel()
            self.pending = []
        elif self.pending:
            self._flush()

    async def _store(self, items: list[tuple[Callable[[], NewJob], asyncio.Future[int]]]) -> None:
        try:
            results = await self._store_all([b for b, _ in items])
        except asyncio.CancelledError:
            for _, future in items:
                future.cancel()
            raise
        except BaseException as exc:  # e.g. no thread could run: every trigger failed
            results = [exc] * len(items)
        settle([future for _, future in items], results)

    async def _store_all(self, builds: list[Callable[[], NewJob]]) -> list[int | BaseException]:
        """Build (validate) each job, ``BUILD_CHUNK`` at a time between turns of the loop,
        then store them in one transaction; if that fails, store each alone so only the
        trigger at fault fails."""
        results: list[int | BaseException] = []
        built: list[tuple[int, NewJob]] = []
        for start in range(0, len(builds), BUILD_CHUNK):
            if start:
                await asyncio.sleep(0)  # let the loop serve other tasks
            for build in builds[start:start + BUILD_CHUNK]:
                try:
                    built.append((len(results), build()))
                    results.append(0)
                except Exception as exc:
                    results.append(exc)
        insert = self.app.triggering.insert_async
        try:
            ids = await insert([job for _, job in built]) if built else []
        except StoreUnavailable as exc:  # not one trigger's fault: every one failed
            for index, _ in built:
                results[index] = exc
        except Exception:
            for index, job in built:
                try:
                    results[index] = (await insert([job]))[0]
                except Exception as exc:
                    results[index] = exc
        else:
            for (index, _), job_id in zip(built, ids, strict=True):
                results[index] = job_id
        return results


_batches: dict[tuple[int, int], _Batch] = {}
_running: set[asyncio.Task[None]] = set()


def settle(futures: Sequence[asyncio.Future[T]], results: Sequence[T | BaseException]) -> None:
    """Give each future its result, or raise in it the result that is an exception; a
    future already done (cancelled meanwhile) is left as it is."""
    for future, result in zip(futures, results, strict=True):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def _batch(app: JobHost) -> _Batch:
    loop = asyncio.get_running_loop()
    key = (id(app), id(loop))
    batch = _batches.get(key)
    if batch is None or batch.app is not app or batch.loop is not loop:
        if len(_batches) > 64:  # loops and apps come and go (tests): forget old ones
            _batches.clear()
        batch = _batches[key] = _Batch(app, loop)
    return batch
