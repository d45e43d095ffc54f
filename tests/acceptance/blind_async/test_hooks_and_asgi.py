"""Blind acceptance tests of SPEC §11: hooks (slow, failing, blocking, async), ASGI
mounting and the lifespan worker; every store."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from conveyor import Conveyor, Retry
from tests.acceptance.blind_async.support import (
    Abort,
    _maybe,
    state,
)
from tests.conformance.helpers import drain


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
    assert handle.result(timeout=30) == 5
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
    assert later.result(timeout=30) == "second"


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
    assert handle.result(timeout=30) == 3
    assert attempts == [(1, "running"), (2, "running"), (3, "running")]


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
