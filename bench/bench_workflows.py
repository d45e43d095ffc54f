"""Workflow overhead: python bench/bench_workflows.py [--url URL] [--jobs 10000].

With W idle worker processes, the time until each of these is done:
  plain   N no-op jobs stored in bulk (app.enqueue_many), until all completed
  group   group(noop(i) for i in range(N)).run_now().result()
  chord   chain(group(N no-ops), total()).run_now().result()  (total gets N results)
  fan-out a durable run doing io.run_jobs over N no-op children, until it completed
and, for each workflow, the overhead per child against the plain jobs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import stop
from bench.fleet import fleet_parser, fleet_url, spawn_workers


def timed(action: Callable[[], object]) -> float:
    t = time.perf_counter()
    action()
    return time.perf_counter() - t


def main() -> None:
    args = fleet_parser(__doc__, jobs=10_000).parse_args()
    url = fleet_url(args, "wf.db")
    from bench.workflows_app import app, fan, noop, total
    from conveyor import chain, group

    n = args.jobs
    app.purge(state=["completed", "failed", "cancelled"])

    def plain() -> None:
        handles = app.enqueue_many([noop(i) for i in range(n)])
        handles[-1].result(timeout=600)
        while app.count(state=["queued", "running"]):
            time.sleep(0.01)

    def fan_out() -> None:
        fan(n).run_now().result(timeout=600)

    workers = spawn_workers("workflows_app.py", args.workers, args.concurrency)
    try:
        time.sleep(2.0)  # workers started and idle
        results = {
            "plain": timed(plain),
            "group": timed(lambda: group(noop(i) for i in range(n)).run_now().result(600)),
            "chord": timed(lambda: chain(group(noop(i) for i in range(n)), total())
                           .run_now().result(600)),
            "fan-out": timed(fan_out),
        }
    finally:
        stop(workers)
    print(f"store={url.split('://', 1)[0]} children={n} workers={args.workers} "
          f"concurrency={args.concurrency}")
    base = results["plain"]
    for name, seconds in results.items():
        extra = "" if name == "plain" else (
            f"  {seconds / base:.2f}x plain, overhead {(seconds - base) / n * 1e6:+.0f} µs/child")
        print(f"{name:8} {seconds:7.2f} s  {n / seconds:8,.0f} jobs/s{extra}")


if __name__ == "__main__":
    main()
