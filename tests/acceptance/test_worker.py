"""SPEC §7 — the worker in code: ``app.run_worker(concurrency, queues, burst)`` and
``run_worker_async``, what they accept and which queues they take jobs from; §11's
``app.lifespan(worker=True, concurrency=10)`` checks the same arguments when it is built."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.testing import run_until_idle


def _define(app: Conveyor) -> tuple[Any, Any]:
    @app.job(queue="mail")
    def send(to: str) -> str:
        return f"sent {to}"

    @app.job
    def plain() -> str:
        return "done"

    return send, plain


@pytest.mark.parametrize("queues", [["mail"], ("mail",), "mail", " mail ,", {"mail"}])
def test_a_burst_worker_takes_only_the_queues_it_is_given(app: Conveyor, queues: Any) -> None:
    send, plain = _define(app)
    mail, other = send("ann").run_now(), plain().run_now()

    app.run_worker(queues=queues, burst=True)

    assert app.get_job(mail.id).state == "completed"
    assert app.get_job(other.id).state == "queued"
    run_until_idle(app)
    assert app.get_job(other.id).state == "completed"


def test_queues_given_as_comma_separated_text_name_several(app: Conveyor) -> None:
    send, plain = _define(app)
    handles = [send("a").run_now(), plain().run_now(queue="exports"),
               plain().run_now(queue="later")]

    app.run_worker(queues="mail,exports", burst=True)

    assert [app.get_job(h.id).state for h in handles] == ["completed", "completed", "queued"]


@pytest.mark.parametrize("queues", [[], (), "", ",", " , ", [""], ["mail", ""], [None],
                                    ["a\x00b"], [3], 3, b"mail"])
def test_queues_that_name_no_valid_queue_are_refused(sqlite_app: Conveyor, queues: Any) -> None:
    send, _ = _define(sqlite_app)
    handle = send("ann").run_now()

    with pytest.raises(ValueError, match="queue"):
        sqlite_app.run_worker(queues=queues, burst=True)

    assert sqlite_app.get_job(handle.id).state == "queued"  # nothing ran


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, "4", True, None])
def test_a_bad_concurrency_is_refused(sqlite_app: Conveyor, concurrency: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        sqlite_app.run_worker(concurrency=concurrency, burst=True)


async def test_run_worker_async_refuses_bad_queues_too(sqlite_app: Conveyor) -> None:
    with pytest.raises(ValueError, match="queue"):
        await sqlite_app.run_worker_async(queues=[], burst=True)


@pytest.mark.parametrize(("options", "word"), [
    ({"concurrency": 0}, "concurrency"),
    ({"concurrency": "10"}, "concurrency"),
    ({"queues": []}, "queue"),
    ({"queues": [""]}, "queue"),
    ({"worker": "yes"}, "worker"),
])
def test_lifespan_checks_its_arguments_when_built(sqlite_app: Conveyor,
                                                   options: dict[str, Any], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        sqlite_app.lifespan(**options)


async def test_run_worker_called_from_async_code_still_runs_the_jobs(app: Conveyor) -> None:
    @app.job
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n

    handle = await double(21).run_now()
    app.run_worker(burst=True)  # blocks this loop; the worker gets a loop of its own
    assert await handle.wait(timeout=30) == 42
    await app.run_worker_async(burst=True)  # the async form, for comparison


class _FactoryTask(asyncio.Task):  # type: ignore[type-arg]
    """A task made by a loop's own task factory."""


async def test_async_jobs_run_in_tasks_of_the_loops_own_task_factory(app: Conveyor) -> None:
    @app.job
    async def made_by_factory() -> bool:
        return isinstance(asyncio.current_task(), _FactoryTask)

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **options: Any) -> asyncio.Task[Any]:
        return _FactoryTask(coro, loop=loop, **options)

    handle = await made_by_factory().run_now()
    loop = asyncio.get_running_loop()
    loop.set_task_factory(factory)
    try:
        await app.run_worker_async(burst=True)
    finally:
        loop.set_task_factory(None)
    assert await handle.wait(timeout=5) is True


async def test_cancelling_run_worker_async_twice_releases_its_running_jobs_at_once(
        app: Conveyor) -> None:
    """Cancelling the worker's task stops it as SIGTERM does (running jobs get the grace
    period); cancelling it again, as a second signal, releases them without waiting."""
    started = asyncio.Event()

    @app.job
    async def endless() -> None:
        started.set()
        await asyncio.sleep(3600)

    handle = await endless().run_now()
    worker = asyncio.create_task(app.run_worker_async(concurrency=2, grace=3600))
    await asyncio.wait_for(started.wait(), 30)
    worker.cancel()
    await asyncio.sleep(0.2)  # into the grace period
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(worker), 60)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "queued"  # released: runs again elsewhere
