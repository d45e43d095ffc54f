"""SPEC §11: hooks (every event, sync and async, failing hooks), Prometheus metrics
(text format, counters by job, histograms) and one log line per attempt outcome."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from conveyor import Conveyor, Fail, Retry
from conveyor.testing import run_until_idle
from tests.acceptance.support import record_of


def test_every_hook_fires_once_with_the_stored_state(app: Conveyor) -> None:
    calls: list[tuple[str, str, Any, str]] = []

    def recorder(event: str) -> Any:
        def hook(record, error=None):
            calls.append((event, record.job, record.state, type(error).__name__))
        return hook

    for event in ("started", "completed", "failed", "retrying", "cancelled"):
        app.on(event)(recorder(event))

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky(meta):
        if meta.attempt == 1:
            raise RuntimeError("first")
        raise Fail("second")

    @app.job
    def fine():
        return 1

    flaky().run_now()
    fine().run_now()
    run_until_idle(app)
    by_event: dict[str, list[tuple[str, str, Any, str]]] = {}
    for call in calls:
        by_event.setdefault(call[0], []).append(call)
    assert sorted(c[1] for c in by_event["started"]) == ["fine", "flaky", "flaky"]
    assert by_event["completed"] == [("completed", "fine", "completed", "NoneType")]
    assert [c[1:3] for c in by_event["retrying"]] == [("flaky", "scheduled")] or \
        [c[1:3] for c in by_event["retrying"]] == [("flaky", "queued")]
    assert by_event["retrying"][0][3] != "NoneType"
    assert [c[1:3] for c in by_event["failed"]] == [("flaky", "failed")]
    assert by_event["failed"][0][3] != "NoneType"
    assert "cancelled" not in by_event


def test_async_and_failing_hooks_never_fail_the_job(app: Conveyor,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    @app.on("completed")
    async def async_hook(record, error=None):
        seen.append(f"async {record.result}")

    @app.on("completed")
    def broken_hook(record, error=None):
        raise RuntimeError("hook exploded")

    @app.on("started")
    async def broken_async_hook(record, error=None):
        raise ValueError("async hook exploded")

    @app.job
    def fine():
        return 5

    handle = fine().run_now()
    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        run_until_idle(app)
    assert record_of(app, handle.id).state == "completed"
    assert seen == ["async 5"]
    text = caplog.text
    assert "hook exploded" in text and "async hook exploded" in text


def test_unknown_hook_events_are_refused(app: Conveyor) -> None:
    for event in ("finished", "", "COMPLETED"):
        with pytest.raises(ValueError):
            app.on(event)(lambda record, error=None: None)


def test_metrics_parse_as_prometheus_text_and_count_by_job(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def sometimes(meta):
        if meta.attempt == 1:
            raise RuntimeError("again")
        return "ok"

    @app.job(queue="reports")
    def later():
        return None

    sometimes().run_now()
    later().run_in(1, "hour")
    app.run_worker(burst=True)
    response = TestClient(app.asgi()).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    kinds = {family.type for family in families}
    assert {"counter", "histogram", "gauge"} <= kinds
    samples = [sample for family in families for sample in family.samples]
    by_job = [s for s in samples if s.labels.get("job") == "sometimes" and s.value >= 1]
    assert len({s.name for s in by_job}) >= 3  # started, completed, failed or retried...
    assert any(s.labels.get("queue") == "reports" and s.labels.get("state") == "scheduled"
               and s.value == 1 for s in samples)
    assert any("second" in family.name or "duration" in family.name for family in families
               if family.type == "histogram")


def test_one_log_line_per_outcome(app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def twice(meta):
        if meta.attempt == 1:
            raise RuntimeError("first-failure-text")
        raise Fail("final-failure-text")

    @app.job
    def quick():
        return 1

    twice().run_now()
    quick().run_now()
    cancelled = quick().run_in(1, "hour")
    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        run_until_idle(app)
        app.cancel(cancelled.id)
    records = [r for r in caplog.records if r.name.startswith("conveyor")]
    messages = [r.getMessage() for r in records]
    assert any("first-failure-text" in m for m in messages)   # retrying, with its error
    assert any("final-failure-text" in m and r.levelno >= logging.WARNING
               for r, m in zip(records, messages, strict=True))
    completed = [m for m in messages if "quick" in m and "complet" in m.lower()]
    assert len(completed) == 1
    started = [r for r, m in zip(records, messages, strict=True)
               if "start" in m.lower() and "quick" in m]
    assert started and all(r.levelno == logging.DEBUG for r in started)
