"""cProfile of one worker, every thread: python bench/profile_worker.py [--url URL]
[--jobs 10000] [--job noop_sync] [--out stats.prof] [--top 40].

Stores N jobs, then runs a burst worker (default flags) in this process with a profiler on
each of its threads (event loop, database thread, lane threads); prints the merged
functions by own time and the worker's CPU µs per job without the profiler (a second run).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--job", default="noop_sync", choices=["noop", "noop_sync", "redis_sync"])
    parser.add_argument("--out", help="write the merged stats here (pstats format)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-prof-')}/bench.db"
    os.environ["CONVEYOR_URL"] = url
    sys.path.insert(0, str(HERE.parent))
    from bench.app import app

    job = app.jobs[args.job]

    def fill() -> None:
        app.purge(state=["completed", "failed", "cancelled"])
        app.enqueue_many([job() for _ in range(args.jobs)])

    # CPU without the profiler first (a burst worker; claims are full batches)
    fill()
    t0, c0 = time.perf_counter(), time.process_time()
    app.run_worker(burst=True)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(f"unprofiled: {args.jobs / wall:,.0f} jobs/s, CPU {cpu / args.jobs * 1e6:.0f} us/job "
          f"(this process, every thread)")

    fill()
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_profiling(*_: Any) -> None:
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()  # replaces this hook for the thread

    threading.setprofile(start_profiling)
    main_prof = cProfile.Profile()
    profiles.append(main_prof)
    main_prof.enable()
    app.run_worker(burst=True)
    main_prof.disable()
    threading.setprofile(None)  # type: ignore[arg-type]
    stats = pstats.Stats(main_prof)
    for prof in profiles[1:]:
        prof.disable()  # a no-op for other threads' profilers, but flushes stats
        stats.add(prof)
    if args.out:
        stats.dump_stats(args.out)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
