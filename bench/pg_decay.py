"""Does PostgreSQL throughput hold as history grows? python bench/pg_decay.py --url URL

W worker processes run no-op jobs while this script keeps a backlog of ``--chunk`` jobs
stored (bulk) until ``--total`` jobs have completed; finished rows stay in the table.
Prints processed/s every 10% of the run and compares chunks 2-6 with the last five (the
bar: within 20% after 1,000,000 jobs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import start_workers, stop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://... (add ?schema=x)")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    os.environ["CONVEYOR_URL"] = args.url
    from bench.app import app

    app.purge(state=["completed", "failed", "cancelled"])
    app.cancel_jobs()
    app.purge(state=["cancelled"])
    noop = app.jobs["noop"]
    workers = start_workers(args.url, args.workers, args.concurrency, "noop")
    rates: list[tuple[int, float]] = []
    try:
        time.sleep(2.0)
        stored = done = 0
        mark, mark_done = time.perf_counter(), 0
        while done < args.total:
            if stored - done < args.chunk and stored < args.total:
                app.enqueue_many([noop() for _ in range(args.chunk)])
                stored += args.chunk
            time.sleep(0.05)
            done = stored - app.count(state=["queued", "running"])
            if done - mark_done >= args.chunk:
                now = time.perf_counter()
                rates.append((done, (done - mark_done) / (now - mark)))
                mark, mark_done = now, done
    finally:
        stop(workers)
    step = max(1, len(rates) // 10)
    for done, rate in rates[::step]:
        print(f"after {done:>9,} jobs: {rate:>8,.0f} jobs/s")
    # Chunks 2-6 (the first one includes the workers' warm-up) against the last five.
    head = [r for _, r in rates[1:6]] or [rates[0][1]]
    tail = [r for _, r in rates[-5:]]
    first, last = sum(head) / len(head), sum(tail) / len(tail)
    print(f"early {first:,.0f}/s, late {last:,.0f}/s -> late is {last / first:.0%} of early")


if __name__ == "__main__":
    main()
