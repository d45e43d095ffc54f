"""The app the workflow benchmark's worker processes run (bench/bench_workflows.py)."""

from __future__ import annotations

import os
from typing import Any

from conveyor import Conveyor

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///bench.db"))


@app.job
async def noop(x: Any = None) -> None:
    """Does nothing: measures conveyor's own overhead."""


@app.job
async def total(results: list[Any]) -> int:
    return len(results)


@app.job
async def fan(n: int, io: Any) -> int:
    """A durable run that starts n no-op children at once and waits for them."""
    results = await io.run_jobs("children", [noop(i) for i in range(n)])
    return len(results)


if __name__ == "__main__":
    app.run_worker(concurrency=int(os.environ.get("BENCH_CONCURRENCY", "200")))
