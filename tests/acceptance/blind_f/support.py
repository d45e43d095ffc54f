"""Helpers of the second blind pass over SPEC §6, §7 and §9 (the first pass's helpers are
reused from tests/acceptance/blind_surface/support.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from conveyor import Conveyor

WORKTREE = Path(__file__).resolve().parents[3]


def conveyor_process(*args: str, cwd: Path, env: dict[str, str] | None = None,
                     entry_point: bool = False) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m conveyor ARGS`` (or the installed ``conveyor`` script) as a real
    process from ``cwd`` (which is NOT on PYTHONPATH: only this checkout is)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(WORKTREE)
    command = ([str(Path(sys.executable).parent / "conveyor")] if entry_point
               else [sys.executable, "-m", "conveyor"])
    return subprocess.run([*command, *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=60)


def assert_one_line_error(process: subprocess.CompletedProcess[str], *words: str) -> None:
    """A user error: non-zero exit, one line on stderr naming ``words``, no traceback."""
    assert process.returncode != 0, process
    assert "Traceback" not in process.stderr + process.stdout
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    for word in words:
        assert word in lines[0], lines[0]


def states(app: Conveyor, job: str) -> list[tuple[str, datetime | None]]:
    """(state, run_at) of every stored run of ``job``, oldest run first."""
    return sorted(((r.state, r.run_at) for r in app.jobs_list(job=job)),
                  key=lambda pair: (pair[1] is None, pair[1]))


def pending(app: Conveyor, job: str) -> list[datetime | None]:
    """run_at of the job's stored runs that wait for their time (``scheduled``)."""
    return sorted(r.run_at for r in app.jobs_list(job=job, state="scheduled")
                  if r.run_at is not None)


def recorder(app: Conveyor, job_id: str, **options: Any) -> tuple[list[Any],
                                                                   Callable[..., Any]]:
    """Defines ``job_id`` on ``app`` as a job that records each payload it gets."""
    seen: list[Any] = []

    def record(payload: Any = None) -> None:
        seen.append(payload)

    return seen, app.job(job_id, **options)(record)
