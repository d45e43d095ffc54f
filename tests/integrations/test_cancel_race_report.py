"""A cancel that wins the race against an attempt's end: the worker's log line and metrics
tell what was stored (cancelled), not the attempt's own end."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from conveyor import Conveyor, Fail
from conveyor.observe import metrics
from tests.conformance.helpers import wait_for, worker_thread


def _sample(name: str, job: str) -> float:
    value = metrics.instruments().registry.get_sample_value(name, {"job": job})
    return value or 0.0


@pytest.mark.parametrize(("end", "limit"), [("returns", None), ("fails", None),
                                            ("returns", 5)])
def test_an_attempt_ending_after_its_cancel_is_logged_and_counted_as_cancelled(
    app: Conveyor, end: str, limit: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    """``limit``: a concurrency limit in force (the store claims the limited way)."""
    name = f"racing-{end}-{uuid.uuid4().hex[:8]}"
    started, cancelled = threading.Event(), threading.Event()

    @app.job(name, concurrency=limit)
    def busy() -> None:
        started.set()
        cancelled.wait(10)
        if end == "fails":
            raise Fail("too late")

    caplog.set_level(logging.DEBUG, logger="conveyor")
    with worker_thread(app):
        h = busy().run_now()
        assert started.wait(10)
        assert app.cancel(h.id)
        cancelled.set()
        wait_for(lambda: any(r.__dict__.get("job_id") == h.id and
                             r.__dict__.get("outcome") not in (None, "started")
                             for r in caplog.records))
    assert h.state == "cancelled"
    outcomes = [r.__dict__["outcome"] for r in caplog.records
                if r.__dict__.get("job_id") == h.id and r.name == "conveyor.worker"]
    assert outcomes == ["started", "cancelled"]
    assert _sample("conveyor_attempts_completed_total", name) == 0
    assert _sample("conveyor_attempts_failed_total", name) == 0
    assert _sample("conveyor_attempts_started_total", name) == 1
