"""Blind acceptance tests of the async forms of the API (SPEC §1, §3, §7), of the §11
integrations (ASGI mounting and lifespan, hooks, metrics, logs, traces) and of the §12
testing helpers, written from SPEC alone with inputs its examples do not use: hooks that
fail or are slow, jobs raising ``BaseException`` subclasses, cancelled awaiting tasks,
zero and negative timeouts, inline runs with retries and durable jobs. Every test that
takes ``app`` runs on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail, JobFailed, JobHandle, Retry, chain, group
from conveyor.testing import FakeClock, enqueued, inline, run_until_idle
from tests.conformance.helpers import drain
from tests.support import memory_spans

START = datetime(2033, 3, 31, 22, 45, tzinfo=UTC)


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    """An app on an empty memory, SQLite and PostgreSQL store."""
    with Conveyor(store_url, lease=2) as application:
        yield application


def state(app: Conveyor, handle: Any) -> str:
    found = app.get_job(handle.id if isinstance(handle, JobHandle) else handle)
    assert found is not None
    return found.state


def error_type(app: Conveyor, handle: JobHandle) -> str:
    found = app.get_job(handle.id)
    assert found is not None and found.error is not None, found
    error = found.error
    return str(error["type"] if isinstance(error, dict) else error.type)


class Ticker:
    """Measures how long the event loop goes without running a 5 ms ticker task."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            self.max_gap = max(self.max_gap, now - last)
            last = now

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task


async def _await(call: Any) -> JobHandle:
    handle: JobHandle = await call.run_now()
    return handle


# -- §3 awaited triggers ----------------------------------------------------------------------


async def test_awaited_run_at_and_run_in_are_stored_before_they_return(app: Conveyor) -> None:
    @app.job
    def later(x: Any) -> None: ...

    india = timezone(timedelta(hours=5, minutes=30))
    at = await later({"é": [1]}).run_at(datetime(2040, 2, 29, 12, 0, 0, 123000, tzinfo=india))
    found = app.get_job(at.id)
    assert found is not None and found.state == "scheduled"
    assert found.run_at == datetime(2040, 2, 29, 6, 30, 0, 123000, tzinfo=UTC)
    before = datetime.now(UTC)
    soon = await later(None).run_in(1.5, "weeks")
    found = app.get_job(soon.id)
    assert found is not None and found.state == "scheduled" and found.run_at is not None
    delta = found.run_at - before
    assert timedelta(weeks=1.5) - timedelta(seconds=5) < delta < timedelta(weeks=1.5, seconds=30)


async def test_many_concurrent_awaited_triggers_lose_nothing(app: Conveyor) -> None:
    @app.job
    def many(n: int) -> int:
        return n

    async def later(n: int) -> JobHandle:
        handle: JobHandle = await many(-n).run_in(n, "minutes")
        return handle

    handles = await asyncio.gather(*(_await(many(n)) for n in range(150)),
                                   *(later(n) for n in range(1, 51)))
    ids = [h.id for h in handles]
    assert len(set(ids)) == 200
    assert app.count() == 200
    assert sorted(app.get_job(i).args[0] for i in ids) == sorted(  # type: ignore[union-attr]
        [*range(150), *(-n for n in range(1, 51))])


async def test_concurrent_awaited_unique_triggers_share_one_job(app: Conveyor) -> None:
    @app.job
    def once(n: int) -> None: ...

    async def trigger(n: int) -> JobHandle:
        handle: JobHandle = await once(n).run_now(key="ü", unique=True)
        return handle

    handles = await asyncio.gather(*(trigger(n) for n in range(40)))
    assert len({h.id for h in handles}) == 1
    assert app.count(state="queued") == 1


async def test_awaited_replace_leaves_one_pending_job(app: Conveyor) -> None:
    @app.job
    def replaced(n: int) -> None: ...

    first = await replaced(1).run_in(1, "hour", key="k")
    second = await replaced(2).run_in(2, "hours", key="k", replace=True)
    assert state(app, first) == "cancelled"
    assert state(app, second) == "scheduled"


async def test_awaited_batch_triggers_give_handles_that_can_be_waited(app: Conveyor) -> None:
    @app.job
    def add(x: int, y: int = 1) -> int:
        return x + y

    @app.job
    async def total(xs: list[int]) -> int:
        return sum(xs)

    grouped = await group(add(1), add(2), add(3)).run_now()
    chained = await chain(add(10), group(add(y=2), add(y=3)), total()).run_now()
    scheduled = await app.schedule_job(type="add", data=41)
    assert isinstance(scheduled, JobHandle)
    worker = asyncio.create_task(app.run_worker_async(burst=True))
    assert await grouped.wait(timeout=30) == [2, 3, 4]
    assert await chained.wait(timeout=30) == 13 + 14
    assert await scheduled.wait(timeout=30) == 42
    await asyncio.wait_for(worker, 30)


async def test_wait_raises_job_failed_with_the_stored_error(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def broken(text: str) -> None:
        raise LookupError(text)

    failed = await broken("χάος\n🙃").run_now()
    cancelled = await broken("never").run_in(3, "days")
    app.cancel(cancelled.id)
    await app.run_worker_async(burst=True)
    with pytest.raises(JobFailed) as caught:
        await failed.wait(timeout=5)
    assert "χάος" in str(caught.value) and "LookupError" in str(caught.value)
    with pytest.raises(JobFailed):
        await cancelled.wait(timeout=5)


async def test_wait_with_zero_timeout_checks_once(app: Conveyor) -> None:
    @app.job
    async def quick() -> dict[str, int]:
        return {"n": 0}

    handle = await quick().run_now()
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0)
    await app.run_worker_async(burst=True)
    assert await handle.wait(timeout=0) == {"n": 0}
    assert await handle.wait(timeout=math.inf) == {"n": 0}


@pytest.mark.parametrize("timeout", [-1, -0.001, math.nan])
async def test_negative_or_nan_timeouts_are_a_clear_error(app: Conveyor, timeout: float) -> None:
    @app.job
    def never() -> None: ...

    handle = await never().run_in(1, "day")
    with pytest.raises(ValueError, match="timeout"):
        await handle.wait(timeout=timeout)
    with pytest.raises(ValueError, match="timeout"):
        handle.result(timeout=timeout)


async def test_waiting_never_blocks_the_event_loop(app: Conveyor) -> None:
    @app.job
    def idle() -> None: ...

    handle = await idle().run_in(1, "hour")
    async with Ticker() as ticker:
        with pytest.raises(TimeoutError):
            await handle.wait(timeout=0.6)
    assert ticker.max_gap < 0.25, ticker.max_gap


async def test_cancelling_the_waiting_task_leaves_the_job_alone(app: Conveyor) -> None:
    @app.job
    async def survivor() -> str:
        return "still here"

    handle = await survivor().run_now()
    waiter = asyncio.create_task(handle.wait())
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(handle.wait(), 0.05)
    assert state(app, handle) == "queued"
    await app.run_worker_async(burst=True)
    assert await handle.wait(timeout=5) == "still here"


async def test_cancelled_trigger_tasks_never_return_a_handle_that_is_not_stored(
        app: Conveyor) -> None:
    @app.job
    def maybe(n: int) -> int:
        return n

    tasks = [asyncio.create_task(_await(maybe(n))) for n in range(30)]
    await asyncio.sleep(0)
    for task in tasks[::2]:
        task.cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    handles = [h for h in done if isinstance(h, JobHandle)]
    assert len(handles) >= 15
    for handle in handles:
        assert state(app, handle) == "queued"
    after = await maybe(99).run_now()
    assert state(app, after) == "queued"


async def test_async_with_runs_a_burst_worker_and_reopens(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store does not outlive its app")
    async with Conveyor(store_url) as first:
        @first.job
        async def stored(x: int) -> int:
            await asyncio.sleep(0.01)
            return x * 3

        handle = await stored(-7).run_now()
        await first.run_worker_async(burst=True)
    async with Conveyor(store_url) as second:
        found = second.get_job(handle.id)
        assert found is not None and found.state == "completed" and found.result == -21


async def test_a_burst_async_worker_runs_sync_and_async_jobs_off_the_loop(app: Conveyor) -> None:
    @app.job
    def blocking(seconds: float) -> str:
        time.sleep(seconds)
        return threading.current_thread().name

    @app.job
    async def cooperative(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    sync_handle = await blocking(0.4).run_now()
    async_handle = await cooperative(0.2).run_now()
    async with Ticker() as ticker:
        await asyncio.wait_for(app.run_worker_async(burst=True, concurrency=2), 30)
    assert ticker.max_gap < 0.3, ticker.max_gap
    assert await sync_handle.wait(timeout=1) != threading.current_thread().name
    assert await async_handle.wait(timeout=1) == 0.2


# -- BaseException subclasses raised by jobs ----------------------------------------------------


class Abort(BaseException):
    """A user's own BaseException subclass (not an Exception)."""


async def test_a_base_exception_subclass_fails_the_attempt_and_the_worker_goes_on(
        app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def sync_abort() -> None:
        raise Abort("sync ✗")

    @app.job(retry=Retry(retries=0))
    async def async_abort() -> None:
        raise Abort("async ✗")

    @app.job
    def afterwards() -> str:
        return "ran"

    one = await sync_abort().run_now()
    two = await async_abort().run_now()
    three = await afterwards().run_now(priority="low")
    await asyncio.wait_for(app.run_worker_async(burst=True, concurrency=1), 30)
    assert state(app, one) == "failed" and "Abort" in error_type(app, one)
    assert state(app, two) == "failed" and "Abort" in error_type(app, two)
    assert await three.wait(timeout=5) == "ran"


def test_sys_exit_in_a_sync_job_fails_only_that_attempt(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def exits() -> None:
        sys.exit("leaving ✗")

    @app.job
    def next_one() -> int:
        return 1

    bad = exits().run_now()
    good = next_one().run_now(priority="low")
    drain(app, concurrency=1)
    assert state(app, bad) == "failed"
    assert "SystemExit" in error_type(app, bad)
    assert good.result(timeout=5) == 1


def test_keyboard_interrupt_in_a_sync_job_never_leaves_it_running(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def interrupted() -> None:
        raise KeyboardInterrupt

    handle = interrupted().run_now()
    with _maybe(KeyboardInterrupt):
        drain(app)
    assert state(app, handle) in ("failed", "queued", "scheduled")


class _maybe:
    """Context manager that swallows ``kind`` if raised (either outcome is allowed)."""

    def __init__(self, kind: type[BaseException]) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *rest: object) -> bool:
        return kind is not None and issubclass(kind, self.kind)


async def test_an_async_job_raising_cancelled_error_itself_does_not_hang(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    async def self_cancelling() -> None:
        raise asyncio.CancelledError("by the job")

    handle = await self_cancelling().run_now()
    with _maybe(asyncio.CancelledError):
        await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert state(app, handle) in ("failed", "cancelled", "queued", "scheduled")


# -- §11 hooks ----------------------------------------------------------------------------------


def test_a_slow_async_hook_sees_the_stored_state_and_finishes(app: Conveyor) -> None:
    seen: list[tuple[str, str]] = []

    @app.on("completed")
    async def slow(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0.3)
        stored = app.get_job(record.id)
        seen.append((record.state, stored.state if stored else ""))

    @app.job
    def fast() -> int:
        return 5

    handle = fast().run_now()
    started = time.monotonic()
    drain(app)
    assert handle.result(timeout=5) == 5
    if not seen:  # the hook may still be finishing after a burst worker returns
        deadline = started + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
    assert seen == [("completed", "completed")]


def test_failing_async_hooks_are_logged_with_a_traceback(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.on("failed")
    async def broken_alert(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("alerting is down ⚠")

    @app.on("retrying")
    def broken_retry_hook(record: Any, error: Any = None) -> None:
        raise ValueError("retry hook ⚠")

    @app.job(retry=Retry(retries=1, wait=0))
    def always_fails() -> None:
        raise KeyError("the job's own error")

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        handle = always_fails().run_now()
        drain(app)
    found = app.get_job(handle.id)
    assert found is not None and found.state == "failed" and found.attempts == 2
    assert "the job's own error" in found.error["message"]  # type: ignore[index]
    assert "alerting is down" not in str(found.error)
    assert "alerting is down ⚠" in caplog.text and "retry hook ⚠" in caplog.text
    assert any(r.exc_info or "Traceback" in r.getMessage() for r in caplog.records
               if "alerting" in r.getMessage() or (r.exc_info and "alerting" in str(r.exc_info[1])))


def test_a_hook_raising_a_base_exception_subclass_never_fails_the_job(app: Conveyor) -> None:
    @app.on("completed")
    def rude(record: Any, error: Any = None) -> None:
        raise Abort("hook abort")

    @app.job
    def kept() -> str:
        return "kept"

    @app.job
    def second() -> str:
        return "second"

    first = kept().run_now()
    later = second().run_now(priority="low")
    with _maybe(Abort):
        drain(app, concurrency=1)
    assert state(app, first) == "completed"
    drain(app)
    assert later.result(timeout=5) == "second"


def test_a_started_hook_runs_once_per_attempt_with_the_attempt_number(app: Conveyor) -> None:
    attempts: list[tuple[int, str]] = []

    @app.on("started")
    async def on_start(record: Any, error: Any = None) -> None:
        attempts.append((record.attempts, record.state))
        await asyncio.sleep(0.2)  # the next attempts start (and end) meanwhile

    @app.job(retry=Retry(retries=2, wait=0))
    def twice(meta: Any) -> int:
        if meta.attempt < 3:
            raise OSError("flaky")
        return int(meta.attempt)

    handle = twice().run_now()
    drain(app)
    assert handle.result(timeout=5) == 3
    assert attempts == [(1, "running"), (2, "running"), (3, "running")]


# -- §11 ASGI mounting and lifespan ------------------------------------------------------------


def test_fastapi_mounts_the_dashboard_with_a_token_under_a_prefix(app: Conveyor) -> None:
    from fastapi import FastAPI

    @app.job("mounted-ü")
    def mounted(payload: Any) -> Any:
        return payload

    web = FastAPI()

    @web.get("/health")
    def health() -> dict[str, bool]:
        return {"ok": True}

    web.mount("/admin/jobs", app.asgi(token="tok-✓".encode().hex(), prefix="/admin/jobs"))
    auth = {"Authorization": "Bearer " + "tok-✓".encode().hex()}
    with TestClient(web) as client:
        assert client.get("/health").json() == {"ok": True}
        assert client.get("/admin/jobs/api/runs").status_code == 401
        assert client.get("/admin/jobs/api/runs", headers=auth).status_code == 200
        assert client.get("/admin/jobs/api/openapi.json", headers=auth).status_code == 200
        page = client.get("/admin/jobs/", headers=auth)
        assert page.status_code in (200, 303, 307), page.status_code
        if page.status_code == 200 and "href=" in page.text:
            links = re.findall(r'href="(/[^"]*)"', page.text)
            assert links and all(link.startswith("/admin/jobs") for link in links), links


def test_the_lifespan_worker_runs_async_jobs_awaited_inside_requests(app: Conveyor) -> None:
    from fastapi import FastAPI

    @app.job
    async def square(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * x

    web = FastAPI(lifespan=app.lifespan(worker=True, concurrency=3))

    @web.post("/square/{x}")
    async def endpoint(x: int) -> dict[str, Any]:
        handle = await square(x).run_now()
        return {"id": handle.id, "result": await handle.wait(timeout=20)}

    with TestClient(web) as client:
        replies = [client.post(f"/square/{x}") for x in (-3, 0, 12)]
    assert [r.json()["result"] for r in replies] == [9, 0, 144]
    assert app.count(state="running") == 0


def test_a_lifespan_without_a_worker_runs_nothing(app: Conveyor) -> None:
    @app.job
    def untouched() -> None: ...

    web = Starlette(lifespan=app.lifespan(worker=False))
    with TestClient(web):
        handle = untouched().run_now()
        time.sleep(0.5)
        assert state(app, handle) == "queued"


def test_the_lifespan_worker_leaves_nothing_running_when_the_app_stops(app: Conveyor) -> None:
    started = threading.Event()

    @app.job
    async def long_running() -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    # grace: a worker option (the lifespan passes it on) that cuts the 30 s default.
    web = Starlette(lifespan=app.lifespan(worker=True, concurrency=1, grace=0.5),
                    routes=[Mount("/jobs", app=app.asgi(prefix="/jobs"))])
    begun = time.monotonic()
    with TestClient(web) as client:
        handle = long_running().run_now()
        assert started.wait(20)
        assert client.get("/jobs/api/runs").status_code == 200
    assert time.monotonic() - begun < 20
    assert state(app, handle) in ("queued", "scheduled")  # released for another worker


# -- §11 metrics, logs and traces ---------------------------------------------------------------


def test_metrics_count_failures_retries_and_histograms_by_job(app: Conveyor) -> None:
    @app.job("flaky-métrique", retry=Retry(retries=1, wait=0))
    def flaky(meta: Any) -> None:
        if meta.attempt == 1:
            raise RuntimeError("first")

    @app.job("doomed-métrique", retry=Retry(retries=0))
    def doomed() -> None:
        raise RuntimeError("always")

    flaky().run_now()
    doomed().run_now()
    drain(app)
    text = TestClient(app.asgi()).get("/metrics").text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]

    def total(words: tuple[str, ...], job: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in samples
                   if f'"{job}"' in line and all(w in line.split("{")[0] for w in words)
                   and not line.split("{")[0].endswith(("_created", "_bucket", "_sum")))

    assert total(("retr",), "flaky-métrique") >= 1, text
    assert total(("fail",), "doomed-métrique") >= 1, text
    assert total(("complet",), "flaky-métrique") >= 1, text
    assert any("_bucket{" in line and "duration" in line for line in samples), text
    assert any("_bucket{" in line and "latency" in line for line in samples), text


def test_log_lines_give_the_duration_and_when_a_retry_runs(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=1, wait="3 minutes"))
    def logged_retry(meta: Any) -> None:
        if meta.attempt == 1:
            raise RuntimeError("wobble")

    @app.job
    def logged_ok() -> None:
        time.sleep(0.01)

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        logged_retry().run_now()
        logged_ok().run_now()
        drain(app)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("conveyor")]
    retrying = [m for m in lines if "logged_retry" in m and "retr" in m.lower()]
    assert retrying, lines
    assert any(re.search(r"\d", m) and ("180" in m or "3 min" in m or re.search(
        r"\d{4}-\d\d-\d\d|\d\d:\d\d", m)) for m in retrying), retrying
    completed = [m for m in lines if "logged_ok" in m and "complet" in m.lower()]
    assert completed and re.search(r"\d+(\.\d+)?\s*(ms|s\b|seconds)", completed[0]), completed


async def test_awaited_triggers_and_user_spans_share_the_trace(app: Conveyor) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import StatusCode

    with memory_spans() as exporter:
        tracer = trace.get_tracer("blind-async")

        @app.job(retry=Retry(retries=0))
        async def traced_async(fail: bool) -> None:
            with tracer.start_as_current_span("inside-the-job"):
                if fail:
                    raise RuntimeError("traced failure")

        @app.job
        def traced_sync() -> None:
            with tracer.start_as_current_span("inside-the-job"):
                pass

        with tracer.start_as_current_span("request") as outer:
            await traced_async(False).run_now()
            await traced_async(True).run_now()
            traced_sync().run_now()
        await app.run_worker_async(burst=True)
        spans = exporter.get_finished_spans()
    trace_id = outer.get_span_context().trace_id
    mine = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    inside = [s for s in mine if s.name == "inside-the-job"]
    assert len(inside) == 3, [s.name for s in spans]
    assert all(s.parent is not None and s.parent.span_id != outer.get_span_context().span_id
               for s in inside), "user spans should nest in the attempt span"
    assert any(s.status.status_code == StatusCode.ERROR for s in mine
               if s.name not in ("inside-the-job", "request"))


# -- §11 async triggers on PostgreSQL never block the event loop --------------------------------


async def test_a_blocked_postgresql_trigger_never_blocks_the_event_loop(pg_store: str) -> None:
    import psycopg

    parts = urlsplit(pg_store)
    schema = parse_qs(parts.query)["schema"][0]
    database = parts._replace(query="").geturl()
    async with Conveyor(pg_store) as app:
        @app.job
        def locked(n: int) -> int:
            return n

        await locked(0).run_now()  # the async pool is open and warm
        with psycopg.connect(database, autocommit=False) as blocker:
            tables = [row[0] for row in blocker.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
            for table in tables:
                blocker.execute(f'LOCK TABLE "{schema}"."{table}" IN ACCESS EXCLUSIVE MODE')
            release = threading.Timer(0.8, blocker.rollback)
            async with Ticker() as ticker:
                began = time.monotonic()
                release.start()
                handles = await asyncio.gather(*(_await(locked(n)) for n in range(1, 6)))
                took = time.monotonic() - began
            release.join()
        assert took >= 0.5, "the lock did not hold the triggers back; the test proves nothing"
        assert ticker.max_gap < 0.3, ticker.max_gap
        assert app.count() == 6 and len({h.id for h in handles}) == 5


# -- §12 testing helpers ------------------------------------------------------------------------


def test_inline_runs_retries_at_once_and_keeps_the_history(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=3, wait=0))
    def shaky(meta: Any) -> int:
        if meta.attempt < 3:
            raise ConnectionError(f"attempt {meta.attempt}")
        return int(meta.attempt)

    with inline(app):
        handle = shaky().run_now()
        assert handle.result(timeout=0) == 3
    found = app.get_job(handle.id)
    assert found is not None and found.state == "completed" and found.attempts == 3
    assert len(found.history) == 3
    assert "attempt 2" in str(found.history[1])


def test_inline_failure_after_retries_raises_on_result_not_on_trigger(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def hopeless() -> None:
        raise ZeroDivisionError("always ÷0")

    with inline(app):
        handle = hopeless().run_now()
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=1)
    assert "÷0" in str(caught.value)
    found = app.get_job(handle.id)
    assert found is not None and found.state == "failed" and found.attempts == 2


def test_inline_skips_durable_waits_and_runs_tasks_once(app: Conveyor) -> None:
    calls: list[str] = []

    def load(name: str) -> dict[str, str]:
        calls.append(name)
        return {"name": name}

    @app.job
    async def durable_flow(name: str, io: Any) -> dict[str, Any]:
        user = await io.task("load", load, name)
        await io.wait("cool-off", 3, "days")
        await io.wait("cool-off-more", 1, "year")
        again = await io.task("load-again", load, name + "²")
        return {"user": user, "again": again}

    began = time.monotonic()
    with inline(app):
        handle = durable_flow("zoë").run_now()
    assert time.monotonic() - began < 10
    assert handle.result(timeout=1) == {"user": {"name": "zoë"}, "again": {"name": "zoë²"}}
    assert calls == ["zoë", "zoë²"]


async def test_inline_runs_async_jobs_from_inside_a_running_loop(app: Conveyor) -> None:
    @app.job
    async def halve(x: float) -> float:
        await asyncio.sleep(0)
        return x / 2

    @app.job
    async def parent(meta: Any) -> Any:
        child = await meta.jobs.halve(-3).run_now()
        return await child.wait(timeout=5)

    with inline(app):
        direct = await halve(5).run_now()
        nested = await parent().run_now()
    assert await direct.wait(timeout=1) == 2.5
    assert await nested.wait(timeout=1) == -1.5


def test_inline_runs_async_hooks(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.on("failed")
    async def alert(record: Any, error: Any = None) -> None:
        await asyncio.sleep(0.01)
        seen.append(record.id)

    @app.job(retry=Retry(retries=0))
    def refuses() -> None:
        raise Fail("no")

    with inline(app):
        handle = refuses().run_now()
    assert seen == [handle.id]


def test_fake_clock_drives_a_worker_in_async_code(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait="1.5 days"))
    async def eventually(meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("not yet")
        return int(meta.attempt)

    async def main(clock: FakeClock) -> Any:
        handle = await eventually().run_in(1, "quarter")
        await app.run_worker_async(burst=True)
        assert state(app, handle) == "scheduled"
        clock.advance(1, "quarter")
        await app.run_worker_async(burst=True)
        assert state(app, handle) == "scheduled"
        clock.advance(36, "hours")
        await app.run_worker_async(burst=True)
        return await handle.wait(timeout=5)

    began = time.monotonic()
    with FakeClock(app, start=START) as clock:
        assert asyncio.run(main(clock)) == 2
    assert time.monotonic() - began < 20


def test_fake_clock_takes_an_aware_start_in_any_timezone(app: Conveyor) -> None:
    tokyo = START.astimezone(timezone(timedelta(hours=9)))

    @app.job
    def tick() -> None: ...

    with FakeClock(app, start=tokyo) as clock:
        handle = tick().run_in(90, "minutes")
        found = app.get_job(handle.id)
        assert found is not None and found.run_at == START + timedelta(minutes=90)
        clock.advance(89.5, "minutes")
        run_until_idle(app, clock=clock)
        assert state(app, handle) == "scheduled"
        clock.advance(30, "seconds")
        run_until_idle(app, clock=clock)
        assert state(app, handle) == "completed"


def test_run_until_idle_runs_every_retry_that_becomes_due_at_once(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=4, wait=0))
    def stubborn() -> None:
        raise RuntimeError("never")

    handle = stubborn().run_now()
    run_until_idle(app)
    found = app.get_job(handle.id)
    assert found is not None and found.state == "failed" and found.attempts == 5


async def test_run_until_idle_works_inside_an_async_test(app: Conveyor) -> None:
    @app.job
    async def in_loop() -> str:
        return "ran"

    handle = await in_loop().run_now()
    run_until_idle(app)
    assert await handle.wait(timeout=1) == "ran"


def test_enqueued_lists_pending_jobs_with_nested_payload_subsets(app: Conveyor) -> None:
    @app.job
    def notify(payload: Any) -> None: ...

    @app.job
    def other(payload: Any) -> None: ...

    notify({"user": {"id": 7, "tags": ["a"]}, "n": None}).run_in(1, "day")
    notify({"user": {"id": 8}, "n": 0}).run_now()
    other({"user": {"id": 7}}).run_in(1, "hour")
    assert len(enqueued(app)) == 3
    assert len(enqueued(app, job="notify")) == 2
    assert len(enqueued(app, user={"id": 7})) == 2
    assert len(enqueued(app, job="notify", n=None)) == 1
    assert len(enqueued(app, job="notify", n=0)) == 1
    assert enqueued(app, job="notify", n=False) == []
    assert enqueued(app, job="nobody") == []


# -- §11 Django and Flask ----------------------------------------------------------------------

DJANGO_SCRIPT = r'''
import json, os
import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["conveyor.contrib.django", "blindapp"], USE_TZ=True,
                   DATABASES={"default": json.loads(os.environ["BLIND_DB"])})
django.setup()
from django.core.management import call_command
from django.db import transaction
from conveyor.contrib.django import app
from blindapp.jobs import shout


class Boom(Exception):
    pass


try:
    with transaction.atomic():
        shout("rolled back").run_now()
        raise Boom
except Boom:
    pass
with transaction.atomic():
    kept = shout("grüß").run_now()
    with transaction.atomic():  # a savepoint that rolls back alone
        try:
            with transaction.atomic():
                shout("inner").run_now()
                raise Boom
        except Boom:
            pass
print("COUNT", app.count())
call_command("conveyor", "worker", "--burst")
print("RESULT", json.dumps(kept.result(timeout=10), ensure_ascii=False))
call_command("conveyor", "runs")
'''


@pytest.fixture(params=["sqlite", "postgres"])
def django_db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[dict[str, str]]:
    """A Django DATABASES entry on a new SQLite file or a new PostgreSQL database."""
    pytest.importorskip("django")
    if request.param == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.db")}
        return
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_URL
    from tests.support import drop_database_later

    request.getfixturevalue("pg_database")  # skips (or fails in CI) without a server
    name = f"blind_django_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": "postgres",
           "HOST": "127.0.0.1", "PORT": "5432"}
    drop_database_later(PG_ADMIN_URL, name)


def test_django_triggers_share_the_transaction_and_savepoints(
        django_db: dict[str, str], tmp_path: Any) -> None:
    import json
    import os
    import subprocess

    package = tmp_path / "blindapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "jobs.py").write_text(
        "from conveyor.contrib.django import app\n\n\n@app.job\n"
        "def shout(text):\n    return text.upper() + '!'\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env |= {"BLIND_DB": json.dumps(django_db),
            "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
    done = subprocess.run([sys.executable, "-c", DJANGO_SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "COUNT 1" in done.stdout, done.stdout
    assert 'RESULT "GRÜSS!"' in done.stdout, done.stdout
    assert "inner" not in done.stdout and "rolled back" not in done.stdout


def test_flask_cli_runs_a_job_then_a_burst_worker(store_url: str) -> None:
    from flask import Flask

    from conveyor.contrib.flask import init_app

    if store_url.startswith("memory"):
        pytest.skip("the CLI verbs share the store across invocations")
    with Conveyor(store_url) as app:
        @app.job("flask-ß")
        def in_flask(payload: Any) -> Any:
            return {"got": payload}

        web = Flask("blind-async")
        init_app(web, app)
        runner = web.test_cli_runner()
        made = runner.invoke(args=["conveyor", "run", "flask-ß", "--payload", '{"ä": [1]}'])
        assert made.exit_code == 0, made.output
        worked = runner.invoke(args=["conveyor", "worker", "--burst"])
        assert worked.exit_code == 0, worked.output
        (only,) = app.jobs_list(job="flask-ß")
        assert only.state == "completed" and only.result == {"got": {"ä": [1]}}


# -- more async and inline corners --------------------------------------------------------------


def test_inline_stores_a_base_exception_as_a_failure_without_raising_it(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def aborts() -> None:
        raise Abort("inline abort ✗")

    with inline(app):
        handle = aborts().run_now()
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=1)
    assert "inline abort ✗" in str(caught.value)


def test_inline_ends_with_its_block_and_hook_errors_stay_in_the_log(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.on("completed")
    async def broken(record: Any, error: Any = None) -> None:
        raise RuntimeError("inline hook ✗")

    @app.job
    def plain(n: int) -> int:
        return n + 1

    with caplog.at_level(logging.ERROR, logger="conveyor"), inline(app):
        inside = plain(1).run_now()
    assert inside.result(timeout=0) == 2
    assert "inline hook ✗" in caplog.text
    outside = plain(2).run_now()
    assert state(app, outside) == "queued"


async def test_a_blocking_sync_hook_never_blocks_the_async_worker_loop(app: Conveyor) -> None:
    @app.on("completed")
    def slow_sync_hook(record: Any, error: Any = None) -> None:
        time.sleep(0.5)

    @app.job
    async def quick(n: int) -> int:
        return n

    handles = [await quick(n).run_now() for n in range(3)]
    async with Ticker() as ticker:
        await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert ticker.max_gap < 0.3, ticker.max_gap
    assert [await h.wait(timeout=1) for h in handles] == [0, 1, 2]


async def test_cancelling_a_running_async_worker_releases_its_jobs(app: Conveyor) -> None:
    started = asyncio.Event()

    @app.job
    async def endless() -> None:
        started.set()
        await asyncio.sleep(60)

    @app.job
    async def short(n: int) -> int:
        return -n

    handle = await short(4).run_now()
    stuck = await endless().run_now()
    # grace (a worker option): how long a stopping worker lets running jobs finish.
    worker = asyncio.create_task(app.run_worker_async(concurrency=2, grace=0.5))
    assert await handle.wait(timeout=20) == -4
    await asyncio.wait_for(started.wait(), 20)
    worker.cancel()
    with _maybe(asyncio.CancelledError):
        await asyncio.wait_for(worker, 20)
    assert state(app, stuck) in ("queued", "scheduled")  # released for another worker
    app.cancel(stuck.id)
    again = await short(5).run_now()
    await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert await again.wait(timeout=1) == -5


async def test_an_idle_burst_worker_returns_at_once(app: Conveyor) -> None:
    @app.job
    def far_off() -> None: ...

    await far_off().run_in(1, "year")
    began = time.monotonic()
    await asyncio.wait_for(app.run_worker_async(burst=True), 30)
    assert time.monotonic() - began < 3


async def test_async_with_closes_even_when_the_block_raises(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store does not outlive its app")
    with pytest.raises(LookupError):
        async with Conveyor(store_url) as first:
            @first.job
            def kept() -> None: ...

            handle = await kept().run_now()
            raise LookupError("inside")
    async with Conveyor(store_url) as second:
        assert state(second, handle) == "queued"


def test_metrics_show_a_lifespan_worker_alive(app: Conveyor) -> None:
    web = Starlette(lifespan=app.lifespan(worker=True, concurrency=1),
                    routes=[Mount("/ops", app=app.asgi(prefix="/ops"))])
    with TestClient(web) as client:
        deadline = time.monotonic() + 10
        while True:
            text = client.get("/ops/metrics").text
            alive = [line for line in text.splitlines() if not line.startswith("#")
                     and "worker" in line.split("{")[0].split(" ")[0]]
            if any(float(line.rsplit(" ", 1)[1]) >= 1 for line in alive):
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.1)


async def test_one_bad_payload_among_concurrent_awaited_triggers_fails_alone(
        app: Conveyor) -> None:
    from conveyor import PayloadError

    @app.job
    def mixed(x: Any) -> None: ...

    results = await asyncio.gather(*(_await(mixed(n if n != 4 else {"bad": {1, 2}}))
                                     for n in range(10)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], PayloadError), results
    assert "bad" in str(errors[0])
    assert app.count() == 9


async def test_an_awaited_trigger_on_a_closed_app_raises_at_once(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("a memory store holds no connection to release")
    closed = Conveyor(store_url)

    @closed.job
    def late() -> None: ...

    closed.close()
    with pytest.raises(Exception) as caught:
        await asyncio.wait_for(_await(late()), 10)
    assert not isinstance(caught.value, TimeoutError), "the trigger hung on a closed app"


def test_run_until_idle_returns_while_a_durable_run_awaits_an_event(app: Conveyor) -> None:
    @app.job
    async def awaiting(io: Any) -> Any:
        await io.wait("pause", 1, "week")
        return "woke"

    handle = awaiting().run_now()
    began = time.monotonic()
    run_until_idle(app)
    assert time.monotonic() - began < 10
    assert state(app, handle) == "waiting"
