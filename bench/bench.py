"""Throughput and latency benchmark: python bench/bench.py [--url URL] [--jobs N].

Measures, with N no-op jobs and W worker processes:
  enqueue/s one at a time, bulk enqueue/s (app.enqueue_many), processed/s end to end
  (W workers started idle, then N jobs stored in bulk), and latency from due to start
  (jobs stored one at a time at a steady rate while workers are idle).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start_workers(
    url: str, count: int, concurrency: int, job: str
) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ, CONVEYOR_URL=url, BENCH_CONCURRENCY=str(concurrency),
               PYTHONPATH=str(HERE.parent))
    return [
        subprocess.Popen([sys.executable, str(HERE / "app.py")], env=env)
        for _ in range(count)
    ]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(30)


def wait_done(app: object, total: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while app.count(state="completed") < total:  # type: ignore[attr-defined]
        if time.time() > deadline:
            raise SystemExit(f"timed out: {app.count(state='completed')}/{total} completed")  # type: ignore[attr-defined]
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--job", default="noop", choices=["noop", "noop_sync"])
    parser.add_argument("--latency-jobs", type=int, default=500)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="conveyor-bench-")
    url = args.url or f"sqlite:///{tmp}/bench.db"
    os.environ["CONVEYOR_URL"] = url
    sys.path.insert(0, str(HERE.parent))
    from bench.app import app

    job = app.jobs[args.job]
    n = args.jobs
    app.purge(state=["completed", "failed", "cancelled"])
    app.cancel_jobs()
    app.purge(state=["cancelled"])

    t = time.perf_counter()
    for _ in range(n):
        job().run_now()
    single = n / (time.perf_counter() - t)
    app.cancel_jobs()

    calls = [job() for _ in range(n)]
    t = time.perf_counter()
    app.enqueue_many(calls)
    bulk = n / (time.perf_counter() - t)
    app.cancel_jobs()
    app.purge(state=["cancelled"])

    workers = start_workers(url, args.workers, args.concurrency, args.job)
    try:
        time.sleep(2.0)  # let workers start and go idle
        t = time.perf_counter()
        app.enqueue_many([job() for _ in range(n)])
        wait_done(app, n)
        processed = n / (time.perf_counter() - t)
        app.purge(state=["completed"])

        # latency: steady trickle while workers are idle
        handles = []
        for _ in range(args.latency_jobs):
            handles.append(job().run_now())
            time.sleep(0.004)
        wait_done(app, args.latency_jobs)
        lat = sorted(
            (r.started_at - r.run_at).total_seconds() * 1000  # type: ignore[operator]
            for r in (app.get_job(h.id) for h in handles) if r is not None
        )
    finally:
        stop(workers)
    p50 = statistics.median(lat)
    p95 = lat[int(len(lat) * 0.95) - 1]
    store = url.split("://", 1)[0]
    print(f"store={store} jobs={n} workers={args.workers} concurrency={args.concurrency} "
          f"job={args.job}")
    print(f"enqueue one at a time: {single:,.0f} jobs/s")
    print(f"enqueue bulk:          {bulk:,.0f} jobs/s")
    print(f"processed end to end:  {processed:,.0f} jobs/s")
    print(f"latency due->start:    p50 {p50:.2f} ms, p95 {p95:.2f} ms")


if __name__ == "__main__":
    main()
