"""``await job(x).run_now()`` stores off the event loop (on PostgreSQL over the async pool,
holding no thread; on other stores in a worker thread); a plain call in async code still
stores before it returns."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from conveyor import Conveyor
from conveyor.jobs import JobHandle
from conveyor.stores.asyncface import AsyncFace


def _spy(app: Conveyor) -> list[int]:
    threads: list[int] = []
    insert = app.store.insert

    def spying(jobs: Any, connection: Any = None) -> list[int]:
        threads.append(threading.get_ident())
        return insert(jobs, connection) if connection is not None else insert(jobs)

    app.store.insert = spying  # type: ignore[method-assign]
    return threads


def _spy_async(app: Conveyor) -> list[int]:
    """Batches stored over the store's async face (PostgreSQL), by thread."""
    threads: list[int] = []
    store = app.store
    if isinstance(store, AsyncFace):
        insert = store.insert_plain_async

        async def spying(jobs: Any) -> list[int]:
            threads.append(threading.get_ident())
            return await insert(jobs)

        store.insert_plain_async = spying  # type: ignore[method-assign]
    return threads


async def test_awaited_triggers_store_off_the_loop(app: Conveyor) -> None:
    threads, on_loop = _spy(app), _spy_async(app)

    @app.job
    async def double(x: int) -> int:
        return x * 2

    async def trigger(i: int) -> JobHandle:
        return await double(i).run_now()

    handles = await asyncio.gather(*(trigger(i) for i in range(20)))
    later = await double(99).run_in(1, "hour")
    assert all(type(h) is JobHandle for h in [*handles, later])
    assert len({h.id for h in handles}) == 20
    if isinstance(app.store, AsyncFace):  # on the loop, awaiting the async pool
        assert not threads and set(on_loop) == {threading.get_ident()}
    else:
        assert threads and threading.get_ident() not in threads
    assert len(threads + on_loop) <= 3  # the 20 gathered triggers are stored together
    assert app.get_job(later.id).state == "scheduled"  # type: ignore[union-attr]
    await app.run_worker_async(burst=True)
    assert [await h.wait(timeout=30) for h in handles] == [i * 2 for i in range(20)]


async def test_one_bad_payload_fails_only_its_own_awaited_trigger(app: Conveyor) -> None:
    import pytest

    from conveyor.errors import PayloadError

    @app.job
    async def echo(x: Any) -> Any:
        return x

    async def trigger(x: Any) -> JobHandle:
        return await echo(x).run_now()

    results = await asyncio.gather(trigger(1), trigger(object()), trigger(3),
                                   return_exceptions=True)
    assert isinstance(results[1], PayloadError)
    good = [r for r in results if isinstance(r, JobHandle)]
    assert len(good) == 2 and all(app.get_job(h.id) is not None for h in good)
    with pytest.raises(PayloadError):
        await echo({1, 2}).run_now()


async def test_a_plain_call_in_async_code_stores_before_it_returns(app: Conveyor) -> None:
    threads = _spy(app)

    @app.job
    def noop() -> None: ...

    handle = noop().run_now()  # not awaited: stored right here, on this thread
    assert threads == [threading.get_ident()]
    assert app.get_job(handle.id) is not None
    pending = [noop().run_now() for _ in range(2)]
    assert all(app.get_job(h.id) is not None for h in pending)
    assert (await handle).id == handle.id


def test_sync_code_is_unchanged(app: Conveyor) -> None:
    threads = _spy(app)

    @app.job
    def noop() -> None: ...

    handle = noop().run_now()
    assert threads == [threading.get_ident()] and app.get_job(handle.id) is not None


def test_a_loop_that_ends_with_awaited_triggers_in_flight_ends(app: Conveyor) -> None:
    @app.job
    async def noop(i: int) -> None: ...

    async def trigger(i: int) -> JobHandle:
        return await noop(i).run_now()

    async def main() -> None:
        # Never awaited by anyone: cancelled when asyncio.run ends.
        pending = [asyncio.ensure_future(trigger(i)) for i in range(50)]
        await asyncio.sleep(0)
        assert not any(t.done() for t in pending)

    for _ in range(3):
        asyncio.run(main())  # returns (nothing left running, nothing hangs)
    assert app.count() <= 150
    asyncio.run(trigger(1))  # and the app still serves a new loop
