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
from typing import Any

HERE = Path(__file__).resolve().parent


def start_workers(
    url: str, count: int, concurrency: int | None, job: str
) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ, CONVEYOR_URL=url, PYTHONPATH=str(HERE.parent))
    env.pop("BENCH_CONCURRENCY", None)
    if concurrency:
        env["BENCH_CONCURRENCY"] = str(concurrency)
    return [
        subprocess.Popen([sys.executable, str(HERE / "app.py")], env=env)
        for _ in range(count)
    ]


def cpu_seconds(workers: list[subprocess.Popen[bytes]]) -> float:
    """User + system CPU of the worker processes so far (all their threads), from /proc."""
    total = 0
    for w in workers:
        with open(f"/proc/{w.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def transactions(app: object) -> int | None:
    """PostgreSQL: transactions committed in this database so far (None on SQLite)."""
    store: Any = app.store  # type: ignore[attr-defined]
    db = getattr(store, "db", None)
    if db is None or not hasattr(db, "connection"):
        return None
    with db.connection() as conn:
        row = conn.execute("SELECT pg_stat_force_next_flush()").fetchone()
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else None


def vacuum(app: object) -> None:
    """PostgreSQL: VACUUM ANALYZE the jobs table, so that a run starts without the dead
    row versions earlier runs left (autovacuum may be off, or not have caught up yet).
    Nothing to do on SQLite (a purge frees its pages at once)."""
    store: Any = app.store  # type: ignore[attr-defined]
    db = getattr(store, "db", None)
    if db is None or not hasattr(db, "connect"):
        return
    conn = db.connect()  # autocommit: VACUUM cannot run in a transaction
    try:
        conn.execute("VACUUM ANALYZE conveyor_jobs")
    finally:
        conn.close()


def fresh(app: Any) -> None:
    """Empty the jobs table of earlier runs' rows (and, on PostgreSQL, of their dead
    versions)."""
    app.purge(state=["completed", "failed", "cancelled"])
    app.cancel_jobs()
    app.purge(state=["cancelled"])
    vacuum(app)


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(30)


def wait_ready(app: Any, workers: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    """Until every worker process has registered (imports done, store open), then a
    moment for them to go idle: CPU counted from then on is the jobs' alone."""
    deadline = time.time() + timeout
    pids = {w.pid for w in workers}
    while not pids <= {info.pid for info in app.store.workers(60.0)}:
        if time.time() > deadline:
            raise SystemExit("timed out waiting for the workers to start")
        time.sleep(0.05)
    time.sleep(0.5)


# Whether any job is still due or running: two probes of the partial indexes (forced:
# a young table's statistics may favour a scan of every row).
_BUSY = ("SELECT EXISTS (SELECT 1 FROM conveyor_jobs WHERE state IN ('pending', 'waiting')) "
         "OR EXISTS (SELECT 1 FROM conveyor_jobs WHERE state = 'running')")


def busy(app: Any) -> bool:
    """PostgreSQL: whether any job is unfinished (False elsewhere: the count decides)."""
    db = getattr(app.store, "db", None)
    if db is None or not hasattr(db, "connection"):
        return False
    with db.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        (unfinished,) = conn.execute(_BUSY).fetchone()
    return bool(unfinished)


def wait_done(app: Any, total: int, timeout: float = 300) -> None:
    """Until ``total`` jobs have completed. PostgreSQL is polled with ``busy`` and counted
    once it says done: a count of the completed rows at every poll read them all, a fifth
    of the server CPU the processed phase measured (the workers' cost is the figure)."""
    deadline = time.time() + timeout
    while busy(app) or app.count(state="completed") < total:
        if time.time() > deadline:
            raise SystemExit(f"timed out: {app.count(state='completed')}/{total} completed")
        time.sleep(0.05)


def store_of(url: str) -> str:
    scheme = url.split("://", 1)[0]
    return "postgresql" if scheme.startswith("postgres") else scheme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="worker concurrency (default: the worker's own default)")
    parser.add_argument("--job", default="noop", choices=["noop", "noop_sync", "redis_sync"])
    parser.add_argument("--latency-jobs", type=int, default=500)
    parser.add_argument("--profile", metavar="SVG",
                        help="py-spy flame graph of the first worker during the processed phase")
    parser.add_argument("--processed-only", action="store_true",
                        help="skip the enqueue and latency phases (for profiling the worker)")
    parser.add_argument("--syscalls", action="store_true",
                        help="count the workers' system calls in the processed phase (perf)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="conveyor-bench-")
    url = args.url or f"sqlite:///{tmp}/bench.db"
    os.environ["CONVEYOR_URL"] = url
    sys.path.insert(0, str(HERE.parent))
    from bench import threadstats
    from bench.app import app

    job = app.jobs[args.job]
    n = args.jobs
    fresh(app)

    single = bulk = 0.0
    if not args.processed_only:
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
        vacuum(app)  # the processed phase starts without the enqueue phases' dead rows

    workers = start_workers(url, args.workers, args.concurrency, args.job)
    try:
        wait_ready(app, workers)  # started and idle
        spy = None
        if args.profile:
            raw = ["-f", "raw"] if args.profile.endswith(".txt") else []  # collapsed stacks
            spy = subprocess.Popen(["py-spy", "record", "--nonblocking", "-r", "200", *raw,
                                    "-o", args.profile, "--pid", str(workers[0].pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        server = None
        if store_of(url) == "postgresql":
            from bench.decay import Server  # (decay imports this module)

            server = Server(app)
            server.sample()
        cpu0, tx0 = cpu_seconds(workers), transactions(app)
        threads0 = threadstats.sample([w.pid for w in workers])
        perf = threadstats.count_syscalls([w.pid for w in workers]) if args.syscalls else None
        t = time.perf_counter()
        app.enqueue_many([job() for _ in range(n)])
        wait_done(app, n)
        processed = n / (time.perf_counter() - t)
        cpu_us = (cpu_seconds(workers) - cpu0) / n * 1e6
        by_thread = threadstats.report(threads0, threadstats.sample([w.pid for w in workers]), n)
        syscalls = threadstats.syscalls_per_job(perf, n) if args.syscalls else None
        server_us = server.sample()[1] / n * 1e6 if server is not None else None
        tx1 = transactions(app)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        tx_per_job = (tx1 - tx0) / n if tx0 is not None and tx1 is not None else None
        app.purge(state=["completed"])

        # latency: steady trickle while workers are idle
        handles = []
        for _ in range(0 if args.processed_only else args.latency_jobs):
            handles.append(job().run_now())
            time.sleep(0.004)
        wait_done(app, len(handles))
        lat = [0.0] if not handles else sorted(
            (r.started_at - r.run_at).total_seconds() * 1000  # type: ignore[operator]
            for r in (app.get_job(h.id) for h in handles) if r is not None
        )
    finally:
        stop(workers)
    p50 = statistics.median(lat)
    p95 = lat[int(len(lat) * 0.95) - 1]
    print(f"store={store_of(url)} jobs={n} workers={args.workers} "
          f"concurrency={args.concurrency or 'default'} "
          f"job={args.job}")
    print(f"enqueue one at a time: {single:,.0f} jobs/s")
    print(f"enqueue bulk:          {bulk:,.0f} jobs/s")
    print(f"processed end to end:  {processed:,.0f} jobs/s")
    print(f"latency due->start:    p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(f"worker CPU per job:    {cpu_us:.0f} us (user+sys of the workers / jobs)")
    print(f"worker threads per job (CPU, context switches):\n{by_thread}")
    if syscalls is not None:
        print(f"worker system calls per job (perf):\n{syscalls}")
    if server_us is not None:
        print(f"server CPU per job:    {server_us:.0f} us (the database's backends, bench's too)")
    if tx_per_job is not None:
        print(f"transactions per job:  {tx_per_job:.3f} (whole database, bench process too)")


if __name__ == "__main__":
    main()
