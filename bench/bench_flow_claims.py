"""The store-side cost of flow control: python bench/bench_flow_claims.py [--url URL].

In one process, N due no-op jobs are claimed in batches of 50 and completed right away
(no worker, no execution): the claim -> complete cycle of a job without limits, with
``concurrency=50`` and with ``rate="1000000/second"``. This isolates the bookkeeping of a
limited claim (rules, group locks, counting running attempts, rate buckets) from the
pipeline effects an end-to-end run also measures.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from conveyor import Conveyor
from conveyor.stores.base import Outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-bench-')}/claims.db"
    app = Conveyor(url)

    @app.job
    async def unlimited() -> None: ...

    @app.job(concurrency=50)
    async def limited() -> None: ...

    @app.job(rate="1000000/second")
    async def rated() -> None: ...

    app.store.sync_limits(app.declared_limits())
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name in ("unlimited", "limited", "rated"):
            app.enqueue_many([app.jobs[name]() for _ in range(args.jobs)])
            done, t = 0, time.perf_counter()
            while done < args.jobs:
                got = app.store.claim("bench", None, 50, 30)
                now = time.time()
                app.store.complete([Outcome(c.id, c.token, "completed", now, result="null")
                                    for c in got])
                done += len(got)
            best[name] = max(best.get(name, 0.0), args.jobs / (time.perf_counter() - t))
            app.purge(state=["completed"])
    app.close()
    print(f"store={url.split('://', 1)[0]} jobs={args.jobs} batches of 50, best of "
          f"{args.rounds}")
    for name, label in (("unlimited", "no limit"), ("limited", "concurrency=50"),
                        ("rated", "rate=1000000/second")):
        print(f"{label:22} {best[name]:>9,.0f} jobs/s  {best[name] / best['unlimited']:6.1%}")


if __name__ == "__main__":
    main()
