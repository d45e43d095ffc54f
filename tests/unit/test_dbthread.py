"""The worker's database thread: calls in order, their errors raised where awaited, and a
call cancelled before it starts never made."""

from __future__ import annotations

import asyncio
import threading

import pytest

from conveyor.worker.dbthread import DbThread


def test_calls_run_in_order_on_the_thread_and_raise_where_awaited() -> None:
    async def main() -> None:
        db = DbThread(asyncio.get_running_loop(), "conveyor-db-test")
        seen: list[int] = []
        results = await asyncio.gather(*(db.call(lambda i=i: seen.append(i) or i)
                                         for i in range(50)))
        assert results == seen == list(range(50))
        assert await db.call(threading.current_thread) is db.thread

        def bad() -> None:
            raise KeyError("no such row")

        with pytest.raises(KeyError, match="no such row"):
            await db.call(bad)
        gate = threading.Event()
        blocked = db.call(gate.wait)  # holds the thread until set
        never: list[int] = []
        cancelled = db.call(never.append, 1)
        cancelled.cancel()
        gate.set()
        assert await blocked is True
        assert await db.call(len, never) == 0  # the cancelled call was skipped
        db.shutdown()
        await asyncio.to_thread(db.thread.join, 5)
        assert not db.thread.is_alive()

    asyncio.run(main())


def test_a_call_raising_stop_iteration_fails_where_awaited_instead_of_hanging() -> None:
    """An asyncio future refuses StopIteration (TypeError in the loop's callback, the
    future never done): a store call or an extension's hook that let one out hung its
    awaiter for good, a worker with it, heartbeating the leases it holds."""
    async def main() -> None:
        db = DbThread(asyncio.get_running_loop(), "conveyor-db-test")

        def empty() -> int:
            return next(iter(()))

        with pytest.raises(RuntimeError, match="StopIteration"):
            await asyncio.wait_for(db.call(empty), 10)
        assert await db.call(len, "ok") == 2  # the thread goes on
        db.shutdown()

    asyncio.run(main())
