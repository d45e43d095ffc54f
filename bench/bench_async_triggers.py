"""Async triggers from one event loop: throughput and how long the loop is blocked.

    python bench/bench_async_triggers.py [--url postgresql://...|sqlite:///...] [--n 1000]
        [--hold 2]

Runs N concurrent ``await job(i).run_now()`` (``asyncio.gather``) on one loop while a
ticker task sleeps 1 ms in a loop and records how late each wake-up is: its worst delay
is how long the loop could not serve anything else (a web app's other requests); the
loop thread's CPU time within the worst wait is the part that is conveyor's own work on
the loop (the rest is the machine's load and the GIL). With
``--hold S`` another process holds the store's write lock for S seconds first (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: ``LOCK TABLE conveyor_jobs IN SHARE MODE``, which every
insert waits for), so the triggers wait for it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

from conveyor import Conveyor


async def measure(app: Conveyor, n: int, lock: Callable[[], object]) -> dict[str, float]:
    job = app.jobs["noop"]
    await asyncio.gather(*(_trigger(job, i) for i in range(10)))  # warm: connections, threads
    holder = lock()  # another process holds the write lock from now on (--hold)
    delays: list[float] = []
    busy: list[float] = []  # the loop thread's own CPU time in each wait: load-independent
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(0.001)
            delays.append(time.perf_counter() - start - 0.001)
            busy.append(time.thread_time() - cpu)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    began, cpu = time.perf_counter(), time.process_time()
    handles = await asyncio.gather(*(_trigger(job, i) for i in range(n)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    stop.set()
    await tick
    if isinstance(holder, subprocess.Popen):
        holder.wait()
    assert len({h.id for h in handles}) == n
    return {"per_s": n / elapsed, "elapsed": elapsed, "cpu_us": cpu / n * 1e6,
            "max_delay_ms": max(delays) * 1000, "max_busy_ms": max(busy) * 1000,
            "p99_delay_ms": statistics.quantiles(delays, n=100, method="inclusive")[98] * 1000}


async def idle(seconds: float) -> float:
    """The ticker's worst delay with nothing else on the loop (what the machine adds)."""
    worst = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - start - 0.001)
    return worst * 1000


async def _trigger(job: object, i: int) -> object:
    return await job(i).run_now()  # type: ignore[operator]


def hold_lock(url: str, schema: str, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the store's write lock for ``seconds`` (see the docstring)."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[1].split("?", 1)[0]
        code = f"""
            import sqlite3, time
            conn = sqlite3.connect({path!r}, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            print("held", flush=True)
            time.sleep({seconds})
            conn.execute("COMMIT")
        """
    else:
        code = f"""
            import psycopg, time
            conn = psycopg.connect({url.split("?", 1)[0]!r})
            conn.execute("LOCK TABLE {schema}.conveyor_jobs IN SHARE MODE")
            print("held", flush=True)
            time.sleep({seconds})
            conn.commit()
        """
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get(
        "CONVEYOR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres?schema=bench_async"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hold", type=float, default=0.0,
                        help="seconds another process holds the write lock in each round")
    args = parser.parse_args()
    app = Conveyor(args.url)

    @app.job
    async def noop(i: int) -> None: ...

    print(f"ticker alone for 2 s: max delay {asyncio.run(idle(2.0)):.1f} ms (machine noise)")
    schema = getattr(app.store, "schema", "")

    def lock() -> object:
        return hold_lock(args.url, schema, args.hold) if args.hold else None

    worst, busiest = [], []
    for _ in range(args.rounds):
        app.purge()
        app.cancel_jobs()
        result = asyncio.run(measure(app, args.n, lock))
        worst.append(result["max_delay_ms"])
        busiest.append(result["max_busy_ms"])
        print(f"{args.n} concurrent awaits: {result['per_s']:,.0f} triggers/s "
              f"({result['elapsed']:.2f} s, {result['cpu_us']:.0f} CPU µs each), "
              f"ticker max delay {result['max_delay_ms']:.1f} ms "
              f"(p99 {result['p99_delay_ms']:.1f} ms; loop thread's CPU in the worst "
              f"wait {result['max_busy_ms']:.1f} ms)")
    print(f"median ticker max delay: {statistics.median(worst):.1f} ms; median loop CPU "
          f"in the worst wait: {statistics.median(busiest):.1f} ms")
    app.close()


if __name__ == "__main__":
    main()
