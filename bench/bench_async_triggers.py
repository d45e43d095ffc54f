"""Async triggers from one event loop: throughput and how long the loop is blocked.

    python bench/bench_async_triggers.py [--url postgresql://...] [--n 1000]

Runs N concurrent ``await job(i).run_now()`` (``asyncio.gather``) on one loop while a
ticker task sleeps 1 ms in a loop and records how late each wake-up is: its worst delay
is how long the loop could not serve anything else (a web app's other requests).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from conveyor import Conveyor


async def measure(app: Conveyor, n: int) -> dict[str, float]:
    job = app.jobs["noop"]
    delays: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            delays.append(time.perf_counter() - start - 0.001)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    began = time.perf_counter()
    handles = await asyncio.gather(*(_trigger(job, i) for i in range(n)))
    elapsed = time.perf_counter() - began
    stop.set()
    await tick
    assert len({h.id for h in handles}) == n
    return {"per_s": n / elapsed, "max_delay_ms": max(delays) * 1000,
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=os.environ.get(
        "CONVEYOR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres?schema=bench_async"))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    app = Conveyor(args.url)

    @app.job
    async def noop(i: int) -> None: ...

    print(f"ticker alone for 2 s: max delay {asyncio.run(idle(2.0)):.1f} ms (machine noise)")
    for _ in range(args.rounds):
        app.purge()
        app.cancel_jobs()
        result = asyncio.run(measure(app, args.n))
        print(f"{args.n} concurrent awaits: {result['per_s']:,.0f} triggers/s, "
              f"ticker max delay {result['max_delay_ms']:.1f} ms "
              f"(p99 {result['p99_delay_ms']:.1f} ms)")
    app.close()


if __name__ == "__main__":
    main()
