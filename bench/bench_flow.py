"""What flow control costs: python bench/bench_flow.py [--url URL] [--jobs N].

No-op jobs processed end to end (W workers started idle, then N jobs stored in bulk, time
until the last is completed) for a job without limits, with ``concurrency=50`` and with
``rate="1000000/second"`` (far above what is achieved). Each kind runs ``--rounds`` times,
alternating, and the best round is reported (the machine is shared).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import stop
from bench.fleet import fleet_parser, fleet_url, spawn_workers

KINDS = ("unlimited", "limited", "rated")


def main() -> None:
    parser = fleet_parser(__doc__, jobs=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = fleet_url(args, "flow.db")
    from bench.flow_app import app

    app.purge(state=["completed", "failed", "cancelled"])
    best: dict[str, float] = {}
    run(app, args, args.concurrency, KINDS, best, "")
    # The same 50 attempts in flight, capped by the workers' own concurrency instead: what
    # a cap of 50 costs a no-op job whatever enforces it (the claim -> complete round trip).
    run(app, args, 50 // args.workers, ("unlimited",), best, " (50 in flight)")
    base = best["unlimited"]
    print(f"store={url.split('://', 1)[0]} jobs={args.jobs} workers={args.workers} "
          f"concurrency={args.concurrency} rounds={args.rounds} (best of)")
    for key, label in (("unlimited", "no limit"), ("limited", "concurrency=50"),
                       ("rated", "rate=1000000/second"),
                       ("unlimited (50 in flight)", f"no limit, worker concurrency "
                                                    f"{50 // args.workers} each")):
        print(f"{label:34} {best[key]:>9,.0f} jobs/s  {best[key] / base:6.1%}")


def run(app: Any, args: argparse.Namespace, concurrency: int, kinds: tuple[str, ...],
        best: dict[str, float], suffix: str) -> None:
    workers = spawn_workers("flow_app.py", args.workers, concurrency)
    try:
        time.sleep(3.0)  # started, limits stored, idle
        for _ in range(args.rounds):
            for kind in kinds:
                job = app.jobs[kind]
                t = time.perf_counter()
                app.enqueue_many([job() for _ in range(args.jobs)])
                while app.count(state="completed", job=kind) < args.jobs:
                    time.sleep(0.02)
                rate = args.jobs / (time.perf_counter() - t)
                best[kind + suffix] = max(best.get(kind + suffix, 0.0), rate)
                app.purge(state=["completed"])
    finally:
        stop(workers)


if __name__ == "__main__":
    main()
