"""The async face of a store: what async callers use so that they never block the event
loop, and hold no thread while they wait.

A store that implements :class:`AsyncFace` (PostgreSQL, over psycopg's async pool) serves
awaited triggers and ``await handle.wait()`` on the event loop itself; any other store
(SQLite, memory, a store of one's own) is called in a worker thread instead, one short
call at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from conveyor.stores.base import NewJob, ReadStore

State = tuple[str, str | None, str | None]  # state, result JSON, error JSON


@runtime_checkable
class AsyncFace(Protocol):
    """Async forms of the calls async code makes most."""

    async def insert_plain_async(self, jobs: Sequence[NewJob]) -> list[int]:
        """Store plain jobs (no dedupe, schedule or links) in one transaction; ids in
        the jobs' order, once committed."""
        ...

    async def state_of_async(self, job_id: int) -> State | None:
        """As ``state_of``."""
        ...


def plain(jobs: Sequence[NewJob]) -> bool:
    """Whether ``jobs`` may be stored by ``insert_plain_async``."""
    return not any(j.dedupe or j.schedule_id or j.linked for j in jobs)


async def state_of(store: ReadStore, job_id: int) -> State | None:
    """``store.state_of(job_id)`` without blocking the event loop."""
    if isinstance(store, AsyncFace):
        return await store.state_of_async(job_id)
    return await asyncio.to_thread(store.state_of, job_id)
