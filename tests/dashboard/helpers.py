"""Shared by the dashboard and browser tests: the demo jobs, a burst worker, and
``conveyor dashboard`` in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from conveyor import Conveyor

BASE = "http://127.0.0.1"


def define_demo_jobs(app: Conveyor) -> None:
    """Jobs the dashboard tests trigger: one that echoes, one that always fails."""

    @app.job("echo", name="Echo", version="1.2.0")
    def echo(payload: Any) -> Any:
        return {"echo": payload}

    @app.job("explode", retry=None)
    def explode(payload: Any) -> None:
        raise ValueError(f"cannot handle {payload!r}")


def finish(app: Conveyor) -> None:
    """Run every due job to the end (a burst worker)."""
    app.run_worker(concurrency=2, burst=True)


def start_dashboard(app_file: Path, *args: str, token: str | None = None,
                    worker: bool = True) -> subprocess.Popen[str]:
    """``conveyor dashboard APP *args`` (with ``--with-worker`` unless ``worker`` is
    false), with ``CONVEYOR_TOKEN`` only if given; stderr piped."""
    env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_TOKEN"}
    if token is not None:
        env["CONVEYOR_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "dashboard",
         str(app_file), *(["--with-worker"] if worker else []), *args],
        env=env, stderr=subprocess.PIPE, text=True,
    )


def first_answer(proc: subprocess.Popen[str], url: str, deadline: float) -> httpx.Response:
    """GET ``url`` as soon as the dashboard serves (fails if it exits or by ``deadline``)."""
    while True:
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "never served"
            time.sleep(0.1)
