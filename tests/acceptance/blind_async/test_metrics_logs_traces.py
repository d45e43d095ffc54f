"""Blind acceptance tests of SPEC §11: metrics, logs and traces, and async triggers on
PostgreSQL that never block the event loop."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor, Retry
from tests.acceptance.blind_async.support import (
    Ticker,
    _await,
)
from tests.conformance.helpers import drain
from tests.support import memory_spans


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
