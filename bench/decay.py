"""Does throughput hold as history grows? python bench/decay.py [--url URL] [--total N]

W worker processes (default worker flags unless --concurrency) run no-op jobs while this
script keeps a backlog of ``--chunk`` jobs stored (bulk) until ``--total`` jobs have
completed; finished rows stay in the table, so the last chunks run with ``--total`` rows
in it. It starts from an empty table (PostgreSQL: vacuumed too) and prints, every 10% of
the run, processed/s, the workers' CPU µs per job and their resident memory (VmRSS);
then chunks 2-6 (the first includes the warm-up) against the last five.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import cpu_seconds, fresh, start_workers, stop, wait_ready  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of one process (VmRSS from /proc), MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker concurrency (default: the worker's own default)")
    parser.add_argument("--job", default="noop", choices=["noop", "noop_sync"])
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-decay-')}/decay.db"
    os.environ["CONVEYOR_URL"] = url
    from bench.app import app

    fresh(app)
    job = app.jobs[args.job]
    workers = start_workers(url, args.workers, args.concurrency, args.job)
    # (jobs done, rows in the table, jobs/s, CPU µs/job, RSS MiB per worker) per chunk
    chunks: list[tuple[int, int, float, float, list[float]]] = []
    load_start = loadavg()
    try:
        wait_ready(app, workers)
        stored = done = 0
        mark, mark_done, mark_cpu = time.perf_counter(), 0, cpu_seconds(workers)
        while done < args.total:
            if stored - done < args.chunk and stored < args.total:
                app.enqueue_many([job() for _ in range(args.chunk)])
                stored += args.chunk
            time.sleep(0.05)
            done = stored - app.count(state=["queued", "running"])
            if done - mark_done >= args.chunk:
                now, cpu = time.perf_counter(), cpu_seconds(workers)
                jobs = done - mark_done
                chunks.append((done, stored, jobs / (now - mark),
                               (cpu - mark_cpu) / jobs * 1e6, [rss_mib(w.pid) for w in workers]))
                mark, mark_done, mark_cpu = now, done, cpu
    finally:
        stop(workers)
    store = url.split("://", 1)[0]
    print(f"store={store} total={args.total:,} chunk={args.chunk:,} workers={args.workers} "
          f"concurrency={args.concurrency or 'default'} job={args.job}")
    step = max(1, len(chunks) // 10)
    shown = sorted({*range(0, len(chunks), step), len(chunks) - 1})
    for done, rows, rate, cpu_us, rss in (chunks[i] for i in shown):
        print(f"after {done:>9,} jobs ({rows:>9,} rows): {rate:>7,.0f} jobs/s, "
              f"{cpu_us:>4.0f} us CPU/job, RSS {' '.join(f'{r:.1f}' for r in rss)} MiB")
    head, tail = chunks[1:6] or chunks[:1], chunks[-5:]
    first, last = mean([c[2] for c in head]), mean([c[2] for c in tail])
    cpu_first, cpu_last = mean([c[3] for c in head]), mean([c[3] for c in tail])
    rss_first, rss_last = sum(head[0][4]), sum(tail[-1][4])
    print(f"processed/s: early {first:,.0f}, late {last:,.0f} -> late is {last / first:.0%}")
    print(f"CPU us/job:  early {cpu_first:.0f}, late {cpu_last:.0f} -> late is "
          f"{cpu_last / cpu_first:.0%}")
    print(f"worker RSS (sum): {rss_first:.1f} MiB after chunk {1 + chunks.index(head[0])}, "
          f"{rss_last:.1f} MiB at the end")
    print(f"load average: {load_start} at start, {loadavg()} at the end")


if __name__ == "__main__":
    main()
