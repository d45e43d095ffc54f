"""SPEC §3, §11: the awaited trigger forms, async jobs, async hooks and a worker inside an
ASGI app behave exactly like their sync forms — same errors for the same odd inputs, same
stored records, same outcomes."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conveyor import Conveyor, Fail, JobFailed, JobRecord
from conveyor.testing import FakeClock

from ..support import record_of

START = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)

#: (label, how to trigger given a job) — inputs SPEC §3/§8 refuses.
REFUSED: list[tuple[str, Callable[[Any], Any]]] = [
    ("unknown unit", lambda job: job({"a": 1}).run_in(3, "fortnights")),
    ("negative n", lambda job: job({"a": 1}).run_in(-1, "seconds")),
    ("nan n", lambda job: job({"a": 1}).run_in(math.nan, "minutes")),
    ("infinite n", lambda job: job({"a": 1}).run_in(math.inf, "days")),
    ("naive run_at", lambda job: job({"a": 1}).run_at(datetime(2031, 1, 1))),
    ("set payload", lambda job: job({"a": {1, 2}}).run_now()),
    ("nan payload", lambda job: job({"a": [0, math.nan]}).run_now()),
    ("nul payload", lambda job: job({"a": "x\x00y"}).run_now()),
    ("surrogate payload", lambda job: job({"a": "\ud800"}).run_now()),
    ("deep payload", lambda job: job(nested(70)).run_now()),
    ("object kwarg", lambda job: job(None, extra=object()).run_now()),
    ("bad priority", lambda job: job({"a": 1}).run_now(priority="urgent")),
]

#: Valid but unusual triggers whose stored records must not depend on the form used.
ACCEPTED: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("fractional week", lambda job, p: job(p).run_in(1.5, "weeks")),
    ("calendar month", lambda job, p: job(p).run_in(1, "month")),
    ("quarters", lambda job, p: job(p).run_in(2, "quarters")),
    ("zero seconds", lambda job, p: job(p).run_in(0, "second")),
    ("ms", lambda job, p: job(p).run_in(0.5, "milliseconds")),
    ("options", lambda job, p: job(p).run_now(priority="critical", queue="q", key="k",
                                              owner=7, retry=3, timeout=2.5)),
]

ODD_PAYLOAD = {"": None, "n": [0, -0.0, 2**62, 1e308, True], "s": "ü☃\u2028", "e": {}}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _error_of(fn: Callable[[], Any]) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        fn()
    return caught.type, str(caught.value)


async def _async_error_of(fn: Callable[[], Awaitable[Any]]) -> tuple[type[BaseException], str]:
    with pytest.raises(Exception) as caught:
        await fn()
    return caught.type, str(caught.value)


def _comparable(record: JobRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in (
        "job", "args", "kwargs", "state", "priority", "queue", "key", "owner", "attempts",
        "max_attempts", "run_at")}


@pytest.fixture
def paris(open_app: Callable[..., Conveyor]) -> Conveyor:
    return open_app(timezone="Europe/Paris")


async def test_awaited_triggers_refuse_what_sync_triggers_refuse(paris: Conveyor) -> None:
    @paris.job
    def target(payload: Any, extra: Any = None) -> None: ...

    for label, trigger in REFUSED:
        sync_error = _error_of(lambda t=trigger: t(target))  # type: ignore[misc]
        async_error = await _async_error_of(
            lambda t=trigger: _awaited(t(target)))  # type: ignore[misc]
        assert sync_error == async_error, label
        assert issubclass(sync_error[0], ValueError | TypeError), (label, sync_error)
    assert paris.count() == 0, "a refused trigger stored a job"


async def _awaited(handle: Any) -> Any:
    return await handle


async def test_awaited_and_sync_triggers_store_identical_records(app: Conveyor) -> None:
    FakeClock(app, start=START)

    @app.job
    def target(payload: Any) -> None: ...

    for label, trigger in ACCEPTED:
        sync_handle = trigger(target, ODD_PAYLOAD)
        async_handle = await trigger(target, ODD_PAYLOAD)
        assert async_handle.id != sync_handle.id, label
        sync_record, async_record = record_of(app, sync_handle.id), record_of(app, async_handle.id)
        assert _comparable(sync_record) == _comparable(async_record), label
        assert async_record.args == [ODD_PAYLOAD], label


async def test_awaited_dedupe_returns_the_same_handles_as_sync(app: Conveyor) -> None:
    @app.job
    def target(payload: Any) -> None: ...

    first = target(1).run_in(1, "hour", key="k")
    kept = await target(2).run_in(1, "hour", key="k", unique=True)
    assert kept.id == first.id
    replacing = await target(3).run_in(1, "hour", key="k", replace=True)
    assert record_of(app, first.id).state == "cancelled"
    assert target(4).run_in(1, "hour", key="k", unique=True).id == replacing.id
    assert app.count(state="scheduled") == 1


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_async_and_sync_jobs_end_with_the_same_records(app: Conveyor, kind: str) -> None:
    hooked: list[tuple[str, str, str | None]] = []

    @app.on("completed")
    async def on_completed(record: JobRecord, error: Any = None) -> None:
        hooked.append(("completed", record.job, None))
        raise RuntimeError("a failing hook never fails the job")

    @app.on("failed")
    def on_failed(record: JobRecord, error: Any = None) -> None:
        hooked.append(("failed", record.job, type(error).__name__ if error else None))

    def body(payload: Any) -> Any:
        if payload == "fail":
            raise Fail("refused: fail")
        if payload == "boom":
            raise KeyError("boom")
        return payload

    if kind == "sync":
        app.job("echo", retry=0)(body)
    else:
        async def async_body(payload: Any) -> Any:
            return body(payload)
        app.job("echo", retry=0)(async_body)

    echo = app.jobs.echo
    handles = {p: await echo(p).run_now() for p in ("fail", "boom")}
    ok = await echo(ODD_PAYLOAD).run_now()
    await app.run_worker_async(burst=True)

    assert await ok.wait(timeout=30) == ODD_PAYLOAD == ok.result(timeout=30)
    for payload, handle in handles.items():
        record = record_of(app, handle.id)
        assert record.state == "failed"
        assert record.error is not None
        assert record.error["type"] in {"Fail", "KeyError"}, record.error
        with pytest.raises(JobFailed) as awaited:
            await handle.wait(timeout=30)
        with pytest.raises(JobFailed) as blocked:
            handle.result(timeout=30)
        assert str(awaited.value) == str(blocked.value), payload
    assert sorted(hooked) == [("completed", "echo", None), ("failed", "echo", "Fail"),
                              ("failed", "echo", "KeyError")]


async def test_awaited_wait_times_out_like_result(app: Conveyor) -> None:
    @app.job
    def never_run() -> None: ...

    handle = await never_run().run_in(1, "day")
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0.05)
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    assert record_of(app, handle.id).state == "scheduled"


async def _lifespan(asgi: Any, body: Callable[[], Awaitable[None]]) -> None:
    """Drive ``asgi`` through the ASGI lifespan protocol around ``body`` (as uvicorn does)."""
    received: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await received.put({"type": "lifespan.startup"})
    server = asyncio.create_task(asgi({"type": "lifespan", "asgi": {"version": "3.0"}},
                                      received.get, sent.put))
    assert (await sent.get())["type"] == "lifespan.startup.complete"
    try:
        await body()
    finally:
        await received.put({"type": "lifespan.shutdown"})
        assert (await sent.get())["type"] == "lifespan.shutdown.complete"
        await server


async def test_a_lifespan_worker_runs_jobs_awaited_in_a_web_request(app: Conveyor) -> None:
    from fastapi import FastAPI

    @app.job
    async def double(n: int) -> int:
        return n * 2

    @app.job
    def sync_triple(n: int) -> int:
        return n * 3

    web = FastAPI(lifespan=app.lifespan(concurrency=2))

    @web.post("/go/{n}")
    async def go(n: int) -> dict[str, Any]:
        first = await double(n).run_now()
        second = sync_triple(n).run_now()
        refused = None
        try:
            await double(n).run_in(1, "fortnight")
        except ValueError as exc:
            refused = type(exc).__name__
        return {"double": await first.wait(timeout=20), "triple": await second.wait(timeout=20),
                "refused": refused}

    async def requests() -> None:
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answers = await asyncio.gather(*(client.post(f"/go/{n}") for n in range(4)))
        assert [a.json()["double"] for a in answers] == [0, 2, 4, 6]
        assert [a.json()["triple"] for a in answers] == [0, 3, 6, 9]
        assert {a.json()["refused"] for a in answers} != {None}

    await _lifespan(web, requests)
    assert app.count(state="completed") == 8
    assert app.count(state="running") == 0

