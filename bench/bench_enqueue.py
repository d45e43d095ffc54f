"""Single enqueue from many producers: python bench/bench_enqueue.py [--url URL].

Each producer calls ``noop().run_now()`` in a loop (one durable trigger per call; a call
returns only once its job is committed). Reports enqueue/s for 1, 4 and 16 producer
threads in one process, and for 4 producer processes (one thread each), with the
producers' CPU per trigger (user+sys of their processes, the database server's not
counted): the figure to compare on a busy machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _app(url: str) -> object:
    os.environ["CONVEYOR_URL"] = url
    sys.path.insert(0, str(HERE.parent))
    from bench.app import app

    return app


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def threads(url: str, count: int, per: int) -> tuple[float, float]:
    app: object = _app(url)
    job = app.jobs["noop"]  # type: ignore[attr-defined]
    job().run_now()  # warm the pool
    start = threading.Barrier(count + 1)

    def produce() -> None:
        start.wait()
        for _ in range(per):
            job().run_now()

    workers = [threading.Thread(target=produce) for _ in range(count)]
    for w in workers:
        w.start()
    start.wait()
    t, cpu = time.perf_counter(), _cpu()
    for w in workers:
        w.join()
    return count * per / (time.perf_counter() - t), (_cpu() - cpu) / (count * per)


def _process(url: str, per: int, ready: object, go: object, out: object) -> None:
    app: object = _app(url)
    job = app.jobs["noop"]  # type: ignore[attr-defined]
    job().run_now()
    ready.release()  # type: ignore[attr-defined]
    go.wait()  # type: ignore[attr-defined]
    cpu = _cpu()
    for _ in range(per):
        job().run_now()
    out.put((time.perf_counter(), _cpu() - cpu))  # type: ignore[attr-defined]


def processes(url: str, count: int, per: int) -> tuple[float, float]:
    ctx = multiprocessing.get_context("spawn")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process, args=(url, per, ready, go, out)) for _ in range(count)]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=120):  # type: ignore[attr-defined]
            for p in procs:
                p.kill()
            sys.exit("a producer process did not start (its error is above)")
    t = time.perf_counter()
    go.set()
    ends, cpus = zip(*(out.get() for _ in procs), strict=True)
    for p in procs:
        p.join()
    return count * per / (max(ends) - t), sum(cpus) / (count * per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=4000, help="jobs per measurement")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/bench.db"
    app: object = _app(url)
    app.cancel_jobs()  # type: ignore[attr-defined]
    print(f"store={url.split('://', 1)[0]} jobs={args.jobs} per measurement")
    for n in (1, 4, 16):
        rate, cpu = threads(url, n, max(1, args.jobs // n))
        print(f"{n:>2} producer threads:   {rate:,.0f} enqueue/s  {cpu * 1e6:.0f} µs CPU/trigger")
    rate, cpu = processes(url, 4, args.jobs // 4)
    print(f" 4 producer processes: {rate:,.0f} enqueue/s  {cpu * 1e6:.0f} µs CPU/trigger")
    app.cancel_jobs()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
