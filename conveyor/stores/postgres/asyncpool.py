"""PostgreSQL for async callers: async psycopg connections, so awaited triggers and
``await handle.wait()`` wait for the database on the event loop, holding no thread.

One pool per store (one per app), opened lazily by the first async call on each event
loop and closed with the store. It is conveyor's own small pool, not psycopg_pool's
AsyncConnectionPool: that pool runs helper tasks which catch ``CancelledError`` to keep
their state, so an ``asyncio.run`` that ends while one of them is busy (adding a
connection) hangs in its final "cancel every task"; this one runs nothing in the
background (a connection is connected by the caller that needs it), so a loop may end at
any moment. Connections of a loop that has ended are closed when the store next opens
one, or when it closes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from conveyor.clock import Clock, epoch
from conveyor.errors import PayloadError, StoreUnavailable, store_closed
from conveyor.stores.base import NewJob
from conveyor.stores.postgres.connection import (
    RESET_CLOCK,
    Settings,
    classify,
    describe,
    is_connection_error,
)
from conveyor.stores.postgres.dialect import PostgresDialect
from conveyor.stores.postgres.queries import NUL_IN_PAYLOAD, Q, many_columns

AsyncConn = psycopg.AsyncConnection[Any]
CHUNK = 100  # rows per INSERT: the loop formats one chunk while the server stores another
_STATE = PostgresDialect.q["state_of"].replace("%(id)s", "%s").encode()
_CLOCK = "SELECT set_config('conveyor.now', %s, false)"


class _LoopConns:
    """The connections of one event loop: at most ``pool_size``, idle ones reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.idle: list[AsyncConn] = []
        self.slots = asyncio.Semaphore(settings.pool_size)
        self.closed = False

    async def get(self) -> AsyncConn:
        async with asyncio.timeout(self.settings.pool_timeout):
            await self.slots.acquire()
        try:
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed:
                    return conn
            return await psycopg.AsyncConnection.connect(
                self.settings.conninfo, **self.settings.connect_kwargs())
        except BaseException:
            self.slots.release()
            raise

    def put(self, conn: AsyncConn, reuse: bool) -> None:
        """Back to the idle list if it is fit to serve again, else closed."""
        status = conn.pgconn.transaction_status
        if reuse and not self.closed and not conn.closed and status == TransactionStatus.IDLE:
            self.idle.append(conn)
        else:
            conn.pgconn.finish()  # what AsyncConnection.close() does, without a loop
        self.slots.release()

    def close(self) -> None:
        """From any thread: close the idle connections now, the busy ones when freed."""
        self.closed = True
        idle, self.idle = self.idle, []
        for conn in idle:
            conn.pgconn.finish()


class AsyncPool:
    """The async connections of one PostgreSQL store; failures surface as StoreError."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock: Clock | None = None  # given: every statement's conveyor_now()
        self._clock_passed = False
        self._lock = threading.Lock()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopConns] = {}
        self._closed = False

    def _conns(self) -> _LoopConns:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise store_closed("PostgreSQL")
            conns = self._loops.get(loop)
            if conns is not None:
                return conns
            ended = [other for other in self._loops if other.is_closed()]
            gone = [self._loops.pop(other) for other in ended]
            conns = self._loops[loop] = _LoopConns(self.settings)
        for old in gone:
            old.close()
        return conns

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConn]:
        """An autocommit connection of this loop; failures surface as StoreError."""
        where = self.settings.where
        conns = self._conns()
        try:
            conn = await conns.get()
        except TimeoutError:
            raise StoreUnavailable(f"PostgreSQL at {where}: no connection available (all "
                                   f"{self.settings.pool_size} busy for "
                                   f"{self.settings.pool_timeout:g} s)") from None
        except psycopg.Error as exc:
            raise StoreUnavailable(describe(where, exc)) from None
        reuse = True
        try:
            if self.clock is not None:
                self._clock_passed = True
                await conn.execute(_CLOCK, (repr(epoch(self.clock)),))
            elif self._clock_passed:  # a clock was removed: its setting stays per session
                await conn.execute(RESET_CLOCK)
            yield conn
        except psycopg.Error as exc:
            if not is_connection_error(exc):
                raise classify(where, exc) from exc
            reuse = False
            conns.close()  # the idle ones broke too (a restart): connect anew
            with self._lock:
                if self._loops.get(asyncio.get_running_loop()) is conns:
                    del self._loops[asyncio.get_running_loop()]
            raise StoreUnavailable(describe(where, exc)) from None
        finally:
            conns.put(conn, reuse)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            loops, self._loops = list(self._loops.values()), {}
        for conns in loops:
            conns.close()

    # -- the store's async face (conveyor.stores.asyncface.AsyncFace) ---------------
    async def insert_plain(self, jobs: Sequence[NewJob]) -> list[int]:
        async with self.connection() as conn:
            if len(jobs) <= CHUNK:  # one statement: its own transaction
                return await _insert(conn, jobs)
            ids: list[int] = []
            async with conn.transaction():
                for start in range(0, len(jobs), CHUNK):
                    ids += await _insert(conn, jobs[start:start + CHUNK])
            return ids

    async def state_of(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        async with self.connection() as conn:
            cursor = await conn.execute(_STATE, (job_id,))
            row = await cursor.fetchone()
        return (row[0], row[1], row[2]) if row else None


async def _insert(conn: AsyncConn, jobs: Sequence[NewJob]) -> list[int]:
    try:
        cursor = await conn.execute(Q["insert_many"], many_columns(jobs))
    except pg_errors.UntranslatableCharacter:
        raise PayloadError(NUL_IN_PAYLOAD) from None
    return sorted(r[0] for r in await cursor.fetchall())


class AsyncMixin:
    """PostgresStore's async face."""

    apool: AsyncPool

    async def insert_plain_async(self, jobs: Sequence[NewJob]) -> list[int]:
        return await self.apool.insert_plain(jobs)

    async def state_of_async(self, job_id: int) -> tuple[str, str | None, str | None] | None:
        return await self.apool.state_of(job_id)
