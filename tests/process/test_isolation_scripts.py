"""``isolation="process"`` with a worker started by a script: a spawned child runs the
script again, and must never start a worker there (it failed each attempt with
multiprocessing's bootstrapping error, claimed jobs of its own, or hung its attempt)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, JobRecord, Retry
from tests.support import ROOT

SCRIPT = '''\
import os
from conveyor import Conveyor, JobRecord, Retry

app = Conveyor(os.environ["CONVEYOR_URL"])


@app.job(isolation="process", retry=Retry(retries=2, wait=0))
def add(a, b):
    return a + b


{start}
'''
# One job at a time: the worker a child started would claim the other one.
UNGUARDED = "app.run_worker(burst=True, concurrency=1)"
GUARDED = 'if __name__ == "__main__":\n    app.run_worker(burst=True, concurrency=1)'


def _run(url: str, tmp_path: Path, start: str, *cli: str) -> list[JobRecord]:
    """Queue ``add(2, 3)`` twice, write the script (``start`` ending it), run it (or, with
    ``cli``, ``conveyor worker`` on it) to its end and return the jobs' records."""
    script = tmp_path / "myapp.py"
    script.write_text(SCRIPT.format(start=start))
    app = Conveyor(url)
    try:
        app.job("add", isolation="process", retry=Retry(retries=2, wait=0))(_add)
        handles = [app.jobs["add"](2, 3).run_now() for _ in range(2)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        env.update(PYTHONPATH=str(ROOT), CONVEYOR_URL=url)
        command = ["-m", "conveyor", "worker", str(script), *cli] if cli else [str(script)]
        done = subprocess.run([sys.executable, *command], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        records = [app.get_job(handle.id) for handle in handles]
    finally:
        app.close()
    return [record for record in records if record is not None]


def _add(a: int, b: int) -> int:
    return a + b


def _refused(records: list[JobRecord]) -> list[dict[str, Any]]:
    """The errors of jobs failed at once (no retry) because their child started a worker
    (not with multiprocessing's bootstrapping error: that child's worker claimed one)."""
    assert len(records) == 2
    for record in records:
        assert record.state == "failed" and record.attempts == 1, record
        assert record.error is not None and record.error["type"] == "ConfigurationError"
        message = str(record.error["message"])
        assert "tried to start a worker" in message
        assert 'if __name__ == "__main__":' in message and "conveyor worker" in message
    return [record.error for record in records if record.error is not None]


def test_an_unguarded_script_fails_its_isolated_attempts_with_what_to_do(
        url: str, tmp_path: Path) -> None:
    for error in _refused(_run(url, tmp_path, UNGUARDED)):
        assert str(tmp_path / "myapp.py") in error["message"]  # the script run again


def test_a_module_the_child_imports_cannot_start_a_worker_there(
        url: str, tmp_path: Path) -> None:
    # `conveyor worker myapp.py` on the same script: the job's child imports myapp.py.
    for error in _refused(_run(url, tmp_path, UNGUARDED, "--burst")):
        assert "myapp.py" in str(error["traceback"])


@pytest.mark.parametrize("cli", [(), ("--burst",)], ids=["script", "cli"])
def test_a_guarded_script_runs_its_isolated_jobs(url: str, tmp_path: Path,
                                                  cli: tuple[str, ...]) -> None:
    for record in _run(url, tmp_path, GUARDED, *cli):
        assert record.state == "completed" and record.result == 5, record
