"""Workflow overhead: python bench/bench_workflows.py [--url URL] [--jobs 10000].

With W idle worker processes, the time until each of these is done:
  plain   N no-op jobs stored in bulk (app.enqueue_many), until all completed
  group   group(noop(i) for i in range(N)).run_now().result()
  chord   chain(group(N no-ops), total()).run_now().result()  (total gets N results)
  fan-out a durable run doing io.run_jobs over N no-op children, until it completed
and, for each workflow, the overhead per child against the plain jobs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import stop  # noqa: E402


def start_workers(url: str, count: int, concurrency: int) -> list:  # type: ignore[type-arg]
    import subprocess

    env = dict(os.environ, CONVEYOR_URL=url, BENCH_CONCURRENCY=str(concurrency),
               PYTHONPATH=str(HERE.parent))
    return [subprocess.Popen([sys.executable, str(HERE / "workflows_app.py")], env=env)
            for _ in range(count)]


def timed(action: Callable[[], object]) -> float:
    t = time.perf_counter()
    action()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/wf.db"
    os.environ["CONVEYOR_URL"] = url
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

    workers = start_workers(url, args.workers, args.concurrency)
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
