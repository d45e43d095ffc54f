"""The SQLite hot path alone: PYTHONPATH=. python bench/sqlite_hot.py [--jobs 30000]
[--batch 10,15,30] [--procs 1]

For each batch size: a fresh SQLite file with ``--jobs`` stored ``noop_sync`` jobs, then
``--procs`` processes loop ``complete_and_claim(outcomes of the last batch, ..., batch)``
as a worker does, until nothing is left. Prints wall and CPU µs per job of those loops:
with one process and no job code, about the time a job holds the write lock; with two,
what the hand-off of the lock between processes adds.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import tempfile
import time
from typing import Any

WORKER = "hot"


def loop(url: str, batch: int, start: float) -> tuple[int, float, float]:
    """(jobs completed, wall s, CPU s) of one process's complete_and_claim calls."""
    from conveyor import Conveyor
    from conveyor.stores.rows import Outcome

    store: Any = Conveyor(url).store
    worker = f"{WORKER}:{os.getpid()}"
    time.sleep(max(0.0, start - time.time()))
    held: list[Any] = []
    done = 0
    wall, cpu = time.perf_counter(), time.process_time()
    while True:
        now = time.time()
        outcomes = [Outcome(j.id, j.token, "completed", now, result="null") for j in held]
        held = store.complete_and_claim(outcomes, worker, None, batch, 30.0)
        done += len(outcomes)
        if not held:
            break
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return done, wall, cpu


def run(jobs: int, batch: int, procs: int) -> tuple[float, float]:
    """(wall µs, CPU µs of all processes) per job."""
    from conveyor import Conveyor

    folder = tempfile.mkdtemp(prefix="conveyor-hot-")
    url = f"sqlite:///{folder}/hot.db"
    app = Conveyor(url)

    @app.job
    def noop_sync() -> None:
        """Never run: the loop completes it as a worker would."""

    app.enqueue_many([noop_sync() for _ in range(jobs)])
    start = time.time() + 0.5
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        results = pool.starmap(loop, [(url, batch, start)] * procs)
    assert sum(r[0] for r in results) == jobs == app.count(state="completed")
    app.store.close()
    shutil.rmtree(folder)
    wall = max(r[1] for r in results)
    return wall / jobs * 1e6, sum(r[2] for r in results) / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--batch", default="10,15,30")
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for batch in (int(b) for b in args.batch.split(",")):
        results = sorted(run(args.jobs, batch, args.procs) for _ in range(args.repeat))
        wall, cpu = results[len(results) // 2]
        print(f"batch {batch:>3}, {args.procs} process(es): {wall:6.1f} µs/job wall, "
              f"{cpu:6.1f} µs/job CPU (median of {args.repeat}; "
              f"load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
