"""Supervisor.step: a failure is logged and backed off, but a step that is closed
(its coroutine dropped unfinished, as a loop that ends does with its leftover tasks)
ends at once: closing is not a failure of the task."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Generator
from typing import Any

import pytest

from conveyor.worker.supervise import Supervisor


class _Pending:
    """An awaitable that stays pending until its coroutine is resumed or closed."""

    def __await__(self) -> Generator[None, Any, None]:
        yield


def test_a_step_closed_while_it_waits_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    supervisor = Supervisor(stop=lambda: None)

    async def body() -> None:
        await _Pending()

    step = supervisor.step("upkeep", body)
    step.send(None)  # now waiting inside body
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        step.close()  # GeneratorExit: it ignored it and slept (RuntimeError) before
    assert supervisor.failures == {} and supervisor.fatal is None
    assert not caplog.records


def test_a_watched_task_failing_as_the_worker_stops_leaves_no_unread_exception() -> None:
    """A helper task that fails while the worker is stopping is not the worker's failure,
    and its exception is read (asyncio would log it as never retrieved)."""
    supervisor = Supervisor(stop=lambda: None)
    unread: list[dict[str, Any]] = []

    async def failing() -> None:
        raise RuntimeError("store closed meanwhile")

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: unread.append(ctx))
        task = asyncio.create_task(failing())
        supervisor.watch(task, lambda: True)
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callback runs
        del task
        gc.collect()

    asyncio.run(main())
    assert supervisor.fatal is None and unread == []
