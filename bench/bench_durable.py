"""Durable runs: how many steps per second a worker completes.

    python bench/bench_durable.py [--url URL] [--runs 300] [--steps 10] [--concurrency 1,20]

Each run is a durable job taking ``--steps`` ``io.task`` steps (an async no-op each), so
every step is one fenced write of its result before the run goes on. For each
concurrency, the runs are stored in bulk, then one in-process burst worker runs them all;
steps/s = runs x steps / elapsed. Concurrency 1 is one run at a time (per-step latency);
higher concurrency is many runs in flight at once.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from typing import Any

from conveyor import Conveyor


async def noop(i: int) -> int:
    return i


def build(url: str, steps: int) -> Conveyor:
    app = Conveyor(url)

    @app.job("ten-steps")
    async def ten_steps(payload: Any, io: Any) -> int:
        total = 0
        for i in range(steps):
            total += await io.task(f"step-{i}", noop, i)
        return total

    return app


def measure(url: str, runs: int, steps: int, concurrency: int) -> float:
    app = build(url, steps)
    try:
        job = app.jobs["ten-steps"]
        handles = app.enqueue_many(job(None) for _ in range(runs))
        started = time.perf_counter()
        app.run_worker(concurrency=concurrency, burst=True)
        elapsed = time.perf_counter() - started
        done = app.count(state="completed", job="ten-steps")
        assert done == len(handles), f"only {done} of {len(handles)} runs completed"
        return runs * steps / elapsed
    finally:
        app.close()


def fresh(url: str) -> str:
    """An empty store for one measurement: a new SQLite file or PostgreSQL schema."""
    if url.startswith("postgres"):
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}schema=bench_{uuid.uuid4().hex[:8]}"
    if url == "sqlite:///":
        return f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    return url


def drop(url: str) -> None:
    """Remove a PostgreSQL schema made by :func:`fresh`."""
    if "schema=bench_" not in url:
        return
    import psycopg

    base, schema = url.split("schema=", 1)
    with psycopg.connect(base.rstrip("?&"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", action="append", help="store URL (repeatable; 'sqlite:///' = "
                        "temporary files); default: SQLite and $CONVEYOR_BENCH_PG if set")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--concurrency", default="1,20")
    args = parser.parse_args()
    urls = args.url or ["sqlite:///"]
    if not args.url and os.environ.get("CONVEYOR_BENCH_PG"):
        urls.append(os.environ["CONVEYOR_BENCH_PG"])
    for url in urls:
        for c in (int(x) for x in args.concurrency.split(",")):
            target = fresh(url)
            try:
                rate = measure(target, args.runs, args.steps, c)
            finally:
                drop(target)
            print(f"{url.split('://')[0]:<10} concurrency {c:>3}: {rate:>8,.0f} steps/s "
                  f"({args.runs} runs x {args.steps} steps)")


if __name__ == "__main__":
    main()
