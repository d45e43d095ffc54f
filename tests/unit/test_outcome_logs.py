"""The worker logs every attempt's outcome under the logger ``conveyor``: completed with
its duration, failed with its error, retrying with when, cancelled/lost, started at debug;
``conveyor worker --log-format json`` writes one JSON object per line."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobHandle, Retry
from conveyor.logs import TEXT_FORMAT, JsonFormatter, TextFormatter
from tests.conformance.helpers import drain, wait_for, worker_thread
from tests.support import free_port


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "outcome", None)]


def test_each_attempt_outcome_is_one_log_line(
    app: Conveyor, caplog: pytest.LogCaptureFixture,
) -> None:
    @app.job
    def fine() -> int:
        return 1

    @app.job(retry=Retry(retries=1, wait=0))
    def flaky(meta: Any) -> None:
        raise ValueError(f"boom {meta.attempt}")

    @app.job
    def hopeless() -> None:
        raise Fail("nope")

    ok, retried, failed = fine().run_now(), flaky().run_now(), hopeless().run_now()
    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        drain(app)
    by_job: dict[int, list[tuple[str, int, str]]] = {}
    for r in _lines(caplog):
        by_job.setdefault(r.job_id, []).append((r.outcome, r.levelno, r.getMessage()))
    assert [o for o, _, _ in by_job[ok.id]] == ["started", "completed"]
    assert by_job[ok.id][1][1] == logging.INFO
    assert f"job {ok.id} (fine) attempt 1/1 completed in " in by_job[ok.id][1][2]
    assert [o for o, _, _ in by_job[retried.id]] == ["started", "retrying", "started", "failed"]
    retry_line = by_job[retried.id][1]
    assert retry_line[1] == logging.WARNING
    assert "attempt 1/2 failed: ValueError: boom 1; retrying in 0 ms (at 20" in retry_line[2]
    assert by_job[retried.id][3][1:] == (
        logging.ERROR, f"job {retried.id} (flaky) attempt 2/2 failed: ValueError: boom 2")
    assert by_job[failed.id][-1][2].endswith("failed: Fail: nope")
    assert all(r.name.startswith("conveyor") for r in _lines(caplog))


def test_a_long_error_is_shortened_in_its_log_line_and_kept_whole_in_the_attempt(
    app: Conveyor, caplog: pytest.LogCaptureFixture,
) -> None:
    @app.job
    def verbose() -> None:
        raise Fail("é" * 10_000)

    handle = verbose().run_now()
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app)
    [line] = [r for r in _lines(caplog) if r.job_id == handle.id]
    assert line.getMessage().endswith("é... (8006 more characters)")  # "Fail: " + 10,000
    assert len(line.getMessage()) < 2_100 and len(line.error) < 2_100
    assert app.get_job(handle.id).history[0].error.message == "é" * 10_000


def test_started_lines_are_debug_only(app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    app.job("quiet")(lambda: None)
    app.jobs["quiet"]().run_now()
    with caplog.at_level(logging.INFO, logger="conveyor"):
        drain(app)
    assert [r.outcome for r in _lines(caplog)] == ["completed"]


def test_the_json_formatter_writes_one_object_with_the_fields() -> None:
    record = logging.LogRecord("conveyor.worker", logging.WARNING, __file__, 1,
                               "job %s failed", (7,), None)
    record.job_id, record.outcome = 7, "retrying"
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "job 7 failed" and data["level"] == "warning"
    assert data["logger"] == "conveyor.worker" and data["job_id"] == 7
    assert data["outcome"] == "retrying" and data["time"].endswith("Z")


def test_a_completed_line_names_its_caller_and_reads_as_the_plain_text_format(
    app: Conveyor, caplog: pytest.LogCaptureFixture,
) -> None:
    app.job("fine")(lambda: None)
    handle = app.jobs["fine"]().run_now()
    with caplog.at_level(logging.INFO, logger="conveyor"):
        drain(app)
    [line] = [r for r in _lines(caplog) if r.job_id == handle.id]
    assert (line.funcName, Path(line.pathname).name) == ("finished", "report.py")
    text, plain = TextFormatter(), logging.Formatter(TEXT_FORMAT)
    for created in (line.created, line.created + 0.5, line.created + 1.25):  # one a second
        line.created, line.msecs = created, (created % 1) * 1000
        assert text.format(line) == plain.format(line)


APP = textwrap.dedent(
    """
    from conveyor import Conveyor

    app = Conveyor()

    @app.job
    def explode():
        raise RuntimeError("kaboom")
    """
)


def _exploding(tmp_path: Path) -> tuple[str, JobHandle]:
    """The app file ``boomapp.py`` and a store URL holding one run of its failing job."""
    (tmp_path / "boomapp.py").write_text(APP)
    url = f"sqlite:///{tmp_path}/logs.db"
    with Conveyor(url) as app:
        app.job("explode")(lambda: None)
        return url, app.jobs["explode"]().run_now()


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_worker_command_logs_outcomes_by_default(tmp_path: Path, fmt: str) -> None:
    url, handle = _exploding(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "worker",
         "boomapp.py", "--burst", "--url", url, "--log-format", fmt],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    expected = f"job {handle.id} (explode) attempt 1/1 failed: RuntimeError: kaboom"
    if fmt == "json":
        objects = [json.loads(line) for line in result.stderr.splitlines()]
        [failed] = [o for o in objects if o.get("outcome") == "failed"]
        assert failed["message"] == expected and failed["error"] == "RuntimeError: kaboom"
        assert failed["level"] == "error" and failed["job_id"] == handle.id
    else:
        assert expected in result.stderr


@pytest.mark.parametrize("processes", ["1", "2"])
def test_json_logs_have_no_plain_text_lines(tmp_path: Path, processes: str) -> None:
    """The banners (metrics address, supervisor) are JSON objects too under json."""
    url, _ = _exploding(tmp_path)
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "worker",
         "boomapp.py", "--burst", "--url", url, "--log-format", "json",
         "--metrics-port", str(port), "--processes", processes],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(f":{port}/metrics" in o["message"] for o in objects)


def _endless(app: Conveyor) -> tuple[JobHandle, threading.Event]:
    """An async job that runs until cancelled, triggered; and the event it sets as it starts."""
    started = threading.Event()

    @app.job
    async def endless() -> None:
        started.set()
        await asyncio.sleep(30)

    return endless().run_now(), started


def _line_of(caplog: pytest.LogCaptureFixture, handle: JobHandle) -> logging.LogRecord:
    [line] = [r for r in _lines(caplog) if r.__dict__["job_id"] == handle.id]
    return line


def test_an_attempt_released_at_shutdown_is_logged_as_released(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the grace period the worker gives the job back: not 'cancelled, or rescued'."""
    caplog.set_level(logging.INFO, logger="conveyor")
    handle, started = _endless(app)
    with worker_thread(app, grace=0):
        assert started.wait(10)
    line = _line_of(caplog, handle)
    assert line.__dict__["outcome"] == "released" and "released" in line.getMessage()
    assert "rescued" not in line.getMessage()
    wait_for(lambda: handle.state == "queued")


def test_a_running_attempt_cancelled_is_logged_as_cancelled(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker learns of the cancel from its heartbeat: the line says cancelled."""
    caplog.set_level(logging.INFO, logger="conveyor")
    handle, started = _endless(app)
    with worker_thread(app):
        assert started.wait(10)
        assert app.cancel(handle.id)
        wait_for(lambda: [r for r in _lines(caplog) if r.__dict__["job_id"] == handle.id])
    line = _line_of(caplog, handle)
    assert line.__dict__["outcome"] == "cancelled", line.getMessage()
    assert line.getMessage().endswith("cancelled as it ran")


def test_json_lines_are_strict_json_whatever_the_extra_fields() -> None:
    """NaN/Infinity are not JSON (strict parsers such as jq's refuse them); datetimes are
    ISO 8601."""
    from datetime import UTC, datetime

    record = logging.LogRecord("conveyor.test", logging.INFO, __file__, 1, "m", (), None)
    record.ratio, record.nested = float("nan"), {"x": [float("-inf")]}
    record.when = datetime(2027, 1, 5, 9, 30, tzinfo=UTC)
    line = JsonFormatter().format(record)

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    data = json.loads(line, parse_constant=refuse)
    assert data["ratio"] == "nan" and data["nested"] == {"x": ["-inf"]}
    assert data["when"] == "2027-01-05T09:30:00+00:00"
