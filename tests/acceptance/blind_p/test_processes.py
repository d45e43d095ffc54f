"""SPEC §7 in real processes: a worker interrupted by SIGINT lets its running job finish
within the grace period; the dashboard's pages never write (no store, no schema, no
schedule occurrence)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_m.support import run_id_of
from tests.acceptance.blind_p.support import run_cli

FLAGGED_JOB = '''

@app.job
def waits_for_flag():
    import os, time
    while not os.path.exists(os.environ["BLINDP_FLAG"]):
        time.sleep(0.05)
    return "finished"
'''


def _until(condition: Any, what: str, process: subprocess.Popen[bytes],
           timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert process.poll() is None, f"{what}: the process exited {process.returncode}"
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return value


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "conveyor", *args], env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigint_lets_the_running_job_finish_within_the_grace(
        cli_app: str, url: str, tmp_path: Path) -> None:
    module = Path(cli_app.split(":")[0] + ".py")
    module.write_text(module.read_text() + FLAGGED_JOB)
    flag = tmp_path / "flag"
    os.environ["BLINDP_FLAG"] = str(flag)
    try:
        run_id = run_id_of(run_cli("run", "waits_for_flag"))
        worker = _spawn("worker", cli_app, "--grace", "60")
        with Conveyor(url) as reader:
            def state() -> str:
                record = reader.get_job(run_id)
                return record.state if record else ""

            _until(lambda: state() == "running", "the job starts", worker)
            worker.send_signal(signal.SIGINT)
            flag.touch()
            assert worker.wait(timeout=60) == 0, worker.stderr.read() if worker.stderr else ""
            record = reader.get_job(run_id)
        assert record is not None and record.state == "completed"
        assert record.result == "finished"
    finally:
        os.environ.pop("BLINDP_FLAG", None)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()
    except OSError:
        return None  # not listening yet


def _browse(args: list[str], paths: list[str]) -> dict[str, tuple[int, str]]:
    port = _port()
    server = _spawn("dashboard", *args, "--port", str(port))
    try:
        _until(lambda: _get(port, "/api/openapi.json"), "the dashboard answers", server)
        return {path: _get(port, path) or (0, "") for path in paths}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


PAGES = ["/", "/jobs", "/runs", "/schedules", "/queues", "/events", "/api/runs",
         "/api/jobs", "/api/schedules", "/api/overview", "/metrics"]


@pytest.fixture
def missing_url(url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store of the test's kind that does not exist yet."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/absent/none.db"
    return str(request.getfixturevalue("pg_url"))


def _exists(store: str, tmp_path: Path) -> bool:
    if store.startswith("sqlite"):
        return any((tmp_path / "absent").glob("*"))
    import psycopg

    base, schema = store.split("?schema=")
    with psycopg.connect(base) as conn:
        found = conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                             (schema,)).fetchone()
    return found is not None


def test_the_dashboard_on_a_missing_store_creates_nothing_and_says_so(
        cli_app: str, missing_url: str, tmp_path: Path) -> None:
    (tmp_path / "absent").mkdir()
    answers = _browse([cli_app, "--url", missing_url], PAGES)
    assert not _exists(missing_url, tmp_path)
    for path, (status, text) in answers.items():
        assert status != 500 and "Traceback" not in text, (path, status)
    status, text = answers["/"]
    assert any(word in text.lower() for word in ("not exist", "no store", "migrate")), text[:500]


def test_browsing_the_dashboard_stores_no_schedule(cli_app: str, url: str) -> None:
    answers = _browse([cli_app], PAGES)
    assert {path: status for path, (status, _) in answers.items() if status >= 400} == {}
    with Conveyor(url) as reader:
        assert reader.count() == 0
