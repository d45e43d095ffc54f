"""Single enqueue from many producers: python bench/bench_enqueue.py [--url URL].

Each producer calls ``noop().run_now()`` in a loop (one durable trigger per call; a call
returns only once its job is committed). Reports enqueue/s for 1, 4 and 16 producer
threads in one process, and for 4 producer processes (one thread each), with the
producers' CPU per trigger (user+sys of their processes, the database server's not
counted: the figure to compare on a busy machine) and each call's latency (p50/p95). On
PostgreSQL also the server's CPU per trigger (this database's backends, from /proc), its
commits per trigger (``pg_stat_database``) and WAL flushes per trigger (``pg_stat_wal``:
the whole cluster's, so other databases' writes count too). Every measurement starts
from an emptied, vacuumed table.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _app(url: str) -> Any:
    os.environ["CONVEYOR_URL"] = url
    sys.path.insert(0, str(HERE.parent))
    from bench.app import app

    return app


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def flush_stats(app: Any) -> None:
    """PostgreSQL: every pooled backend sends its pending statistics now (a busy backend
    sends them at most once a second: its last commits would not be counted yet)."""
    db = getattr(app.store, "db", None)
    if db is None or not hasattr(db, "pool"):
        return
    pool = db.pool()
    conns = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]  # every one
    for conn in conns:
        conn.execute("SELECT pg_stat_force_next_flush()")
        pool.putconn(conn)


class Server:
    """PostgreSQL's side of a measurement: (backend CPU s, commits, WAL flushes) since the
    last sample; None elsewhere."""

    def __init__(self, app: Any) -> None:
        self.db = getattr(app.store, "db", None)
        self.cpu: dict[int, float] = {}
        self.counts = (0, 0)

    def sample(self) -> tuple[float, int, int] | None:
        if self.db is None or not hasattr(self.db, "connection"):
            return None
        with self.db.connection() as conn:
            conn.execute("SELECT pg_stat_force_next_flush()")
            commits, flushes = conn.execute(
                "SELECT xact_commit, (SELECT wal_sync FROM pg_stat_wal) FROM pg_stat_database"
                " WHERE datname = current_database()").fetchone()
            pids = [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
        used = 0.0
        for pid in pids:
            with contextlib.suppress(OSError), open(f"/proc/{pid}/schedstat") as f:
                now = int(f.read().split()[0]) / 1e9  # ns on a CPU
                used += now - self.cpu.get(pid, 0.0)
                self.cpu[pid] = now
        (c0, f0), self.counts = self.counts, (int(commits), int(flushes))
        return used, int(commits) - c0, int(flushes) - f0


def _produce(job: Any, per: int, latencies: list[float]) -> None:
    clock = time.perf_counter
    for _ in range(per):
        t = clock()
        job().run_now()
        latencies.append(clock() - t)


def threads(url: str, count: int, per: int) -> tuple[float, float, list[float]]:
    app = _app(url)
    job = app.jobs["noop"]
    job().run_now()  # warm the pool
    start = threading.Barrier(count + 1)
    latencies: list[list[float]] = [[] for _ in range(count)]

    def produce(mine: list[float]) -> None:
        start.wait()
        _produce(job, per, mine)

    workers = [threading.Thread(target=produce, args=(mine,)) for mine in latencies]
    for w in workers:
        w.start()
    start.wait()
    t, cpu = time.perf_counter(), _cpu()
    for w in workers:
        w.join()
    elapsed, cpu = time.perf_counter() - t, _cpu() - cpu
    flush_stats(app)
    return count * per / elapsed, cpu / (count * per), [x for mine in latencies for x in mine]


def _process(url: str, per: int, ready: Any, go: Any, out: Any, finish: Any) -> None:
    app = _app(url)
    job = app.jobs["noop"]
    job().run_now()
    ready.release()
    go.wait()
    cpu = _cpu()
    latencies: list[float] = []
    _produce(job, per, latencies)
    end, cpu = time.perf_counter(), _cpu() - cpu
    flush_stats(app)
    out.put((end, cpu, latencies))
    finish.wait()  # (its backend stays, for the server's CPU to be read)


def processes(url: str, count: int, per: int, server: Server
              ) -> tuple[float, float, list[float], Any]:
    ctx = multiprocessing.get_context("spawn")
    ready, go, out, finish = ctx.Semaphore(0), ctx.Event(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_process, args=(url, per, ready, go, out, finish))
             for _ in range(count)]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=120):
            for p in procs:
                p.kill()
            sys.exit("a producer process did not start (its error is above)")
    server.sample()
    t = time.perf_counter()
    go.set()
    ends, cpus, latencies = zip(*(out.get() for _ in procs), strict=True)
    measured = server.sample()
    finish.set()
    for p in procs:
        p.join()
    return (count * per / (max(ends) - t), sum(cpus) / (count * per),
            [x for mine in latencies for x in mine], measured)


def report(label: str, jobs: int, rate: float, cpu: float, latencies: list[float],
           measured: tuple[float, int, int] | None) -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1e3
    p95 = latencies[int(len(latencies) * 0.95) - 1] * 1e3
    line = (f"{label}: {rate:,.0f} enqueue/s  {cpu * 1e6:.0f} µs CPU/trigger  "
            f"p50 {p50:.2f} ms p95 {p95:.2f} ms")
    if measured is not None:
        used, commits, flushes = measured
        line += (f"  server {used / jobs * 1e6:.0f} µs/trigger  {commits / jobs:.2f} commits"
                 f"  {flushes / jobs:.2f} WAL flushes/trigger")
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per measurement")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/bench.db"
    app = _app(url)
    from bench.bench import fresh

    server = Server(app)
    print(f"store={url.split('://', 1)[0]} jobs={args.jobs} per measurement")
    for n in (1, 4, 16):
        per = max(1, args.jobs // n)
        fresh(app)
        server.sample()
        rate, cpu, latencies = threads(url, n, per)
        report(f"{n:>2} producer threads  ", n * per, rate, cpu, latencies, server.sample())
    fresh(app)
    per = args.jobs // 4
    rate, cpu, latencies, measured = processes(url, 4, per, server)
    report(" 4 producer processes", 4 * per, rate, cpu, latencies, measured)
    fresh(app)


if __name__ == "__main__":
    main()
