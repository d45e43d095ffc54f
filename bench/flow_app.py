"""The app of bench/bench_flow.py's worker processes: one no-op job per kind of limit.

With ``BENCH_FLOW_PLAIN`` set, only the job without limits is declared: a store where no
flow rule is in force at all (every claim is the plain claim), the true baseline."""

from __future__ import annotations

import os

from conveyor import Conveyor

app = Conveyor(os.environ.get("CONVEYOR_URL", "sqlite:///bench.db"))


@app.job
async def unlimited() -> None:
    """No limit: the baseline."""


if not os.environ.get("BENCH_FLOW_PLAIN"):

    @app.job(concurrency=50)
    async def limited() -> None:
        """At most 50 attempts running at once across all workers."""

    @app.job(rate="1000000/second")
    async def rated() -> None:
        """A rate limit far above what the machine achieves (the cost of the bookkeeping)."""


if __name__ == "__main__":
    ahead = os.environ.get("BENCH_PREFETCH")  # jobs claimed ahead (default: 2 x concurrency)
    app.run_worker(concurrency=int(os.environ.get("BENCH_CONCURRENCY", "200")),
                   **({"prefetch": int(ahead)} if ahead else {}))
