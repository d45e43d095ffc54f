"""Shared by the dashboard and browser tests: the demo jobs and a burst worker."""

from __future__ import annotations

from typing import Any

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
