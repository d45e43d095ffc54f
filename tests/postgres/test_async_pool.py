"""The PostgreSQL store's async face (conveyor/stores/postgres/asyncpool.py): per-loop
connections, closed with the app or once their loop has ended; clear errors; recovery
after the server dropped its connections."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreError, StoreUnavailable
from conveyor.stores.postgres.asyncpool import AsyncPool
from tests.postgres.helpers import connect, terminate_sessions

pytestmark = pytest.mark.postgres


def _apool(app: Conveyor) -> AsyncPool:
    pool: AsyncPool = app.store.apool  # type: ignore[attr-defined]
    return pool


async def _backend(app: Conveyor) -> int:
    async with _apool(app).connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
    assert row is not None
    return int(row[0])


def _alive(url: str, pids: set[int]) -> set[int]:
    with connect(url) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)",
                            (sorted(pids),)).fetchall()
    return {r[0] for r in rows}


def _gone(url: str, pids: set[int]) -> bool:
    deadline = time.monotonic() + 5
    while _alive(url, pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(url, pids)


def test_each_loop_gets_connections_closed_once_it_ended_or_the_app_closed(pg_url: str) -> None:
    app = Conveyor(pg_url)

    @app.job
    async def noop(i: int) -> None: ...

    async def use() -> int:
        await asyncio.gather(*(_trigger(noop, i) for i in range(20)))
        return await _backend(app)

    first = asyncio.run(use())
    second = asyncio.run(use())  # a new loop: the ended loop's connections are closed
    assert first != second
    assert _gone(pg_url, {first})
    assert app.count() == 40
    app.close()
    assert _gone(pg_url, {second})
    with pytest.raises(StoreError, match="closed"):
        asyncio.run(_trigger(noop, 1))


async def _trigger(job: Any, i: int) -> Any:
    return await job(i).run_now()


async def test_a_connection_the_server_dropped_fails_one_call_then_reconnects(
    pg_url: str,
) -> None:
    app = Conveyor(pg_url)

    @app.job
    async def noop() -> None: ...

    try:
        first = await noop().run_now()
        terminate_sessions(pg_url)
        try:
            await noop().run_now()  # may be served by the dropped connection
        except StoreUnavailable as exc:
            assert "PostgreSQL" in str(exc)
        later = await noop().run_now()
        assert later.id > first.id and app.get_job(later.id) is not None
    finally:
        app.close()


async def test_an_unreachable_server_is_one_clear_error() -> None:
    app = Conveyor("postgresql://postgres@127.0.0.1:1/nowhere", migrate=False,
                   connect_timeout=1)

    @app.job
    async def noop() -> None: ...

    try:
        with pytest.raises(StoreUnavailable, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1"):
            await noop().run_now()
    finally:
        app.close()


async def test_wait_reads_over_the_async_pool_without_a_thread(pg_url: str) -> None:
    app = Conveyor(pg_url)

    @app.job
    async def double(x: int) -> int:
        return 2 * x

    try:
        handle = await double(21).run_now()
        await app.run_worker_async(burst=True)
        loop = asyncio.get_running_loop()
        calls: list[Any] = []
        original = loop.run_in_executor

        def spy(*args: Any) -> Any:
            calls.append(args)
            return original(*args)

        loop.run_in_executor = spy  # type: ignore[method-assign]
        try:
            assert await handle.wait(timeout=30) == 42
        finally:
            loop.run_in_executor = original  # type: ignore[method-assign]
        assert calls == []
    finally:
        app.close()
