"""The app the benchmark's worker processes run: no-op jobs."""

from __future__ import annotations

import os

from conveyor import Conveyor

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///bench.db"))


@app.job
async def noop() -> None:
    """Does nothing: measures conveyor's own overhead."""


@app.job
def noop_sync() -> None:
    """Does nothing in the thread pool."""


if __name__ == "__main__":
    app.run_worker(concurrency=int(os.environ.get("BENCH_CONCURRENCY", "200")))
