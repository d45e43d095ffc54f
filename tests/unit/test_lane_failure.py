"""A lane thread (sync jobs without a timeout) survives a failure of conveyor's own while
running a job: that job fails, logged, and the lane runs the next."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.worker.execute import JobRunner


def test_a_lane_that_fails_to_run_a_job_fails_it_and_runs_the_next(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = Conveyor("memory://")

    @app.job
    def work(n: int) -> int:
        return n

    run_in_thread = JobRunner.run_in_thread

    def failing_once(runner: JobRunner, claimed: Any) -> Any:
        if claimed.args == "[0]":
            raise RuntimeError("lane bug")
        return run_in_thread(runner, claimed)

    monkeypatch.setattr(JobRunner, "run_in_thread", failing_once)
    handles = [work(n).run_now() for n in range(4)]
    worker = threading.Thread(target=app.run_worker,
                              kwargs={"burst": True, "concurrency": 1}, daemon=True)
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        worker.start()
        worker.join(20)
    assert not worker.is_alive(), "the lane stopped running jobs"
    record = app.get_job(handles[0].id)
    assert record is not None and record.state == "failed" and record.error is not None
    assert "lane bug" in record.error["message"] and "not retried" in record.error["message"]
    assert [h.result(timeout=30) for h in handles[1:]] == [1, 2, 3]
    assert "its lane thread failed" in caplog.text
    app.close()
