"""The SQLite hot path alone: PYTHONPATH=. python bench/sqlite_hot.py [--jobs 30000] [--batch 10,15,30]

For each batch size: a fresh SQLite file with ``--jobs`` stored ``noop_sync`` jobs, then
one process loops ``complete_and_claim(outcomes of the last batch, ..., batch)`` as a
worker does, until nothing is left. Prints wall and CPU µs per job spent in those calls:
with one process and no job code this is the time a job holds the write lock.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

WORKER = "hot:1"


def run(jobs: int, batch: int) -> tuple[float, float]:
    """(wall µs, CPU µs) per job of the complete_and_claim calls."""
    from conveyor import Conveyor
    from conveyor.stores.rows import Outcome

    folder = tempfile.mkdtemp(prefix="conveyor-hot-")
    app = Conveyor(f"sqlite:///{folder}/hot.db")

    @app.job
    def noop_sync() -> None:
        """Never run: the loop completes it as a worker would."""

    app.enqueue_many([noop_sync() for _ in range(jobs)])
    store: Any = app.store
    held: list[Any] = []
    done = wall = cpu = 0.0
    while True:
        now = time.time()
        outcomes = [Outcome(j.id, j.token, "completed", now, result="null") for j in held]
        w, c = time.perf_counter(), time.thread_time()
        held = store.complete_and_claim(outcomes, WORKER, None, batch, 30.0)
        wall += time.perf_counter() - w
        cpu += time.thread_time() - c
        done += len(outcomes)
        if not held:
            break
    assert done == jobs, (done, jobs)
    assert app.count(state="completed") == jobs
    store.close()
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)
    return wall / jobs * 1e6, cpu / jobs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--batch", default="10,15,30")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for batch in (int(b) for b in args.batch.split(",")):
        results = sorted(run(args.jobs, batch) for _ in range(args.repeat))
        wall, cpu = results[len(results) // 2]
        print(f"batch {batch:>3}: {wall:6.1f} µs/job wall, {cpu:6.1f} µs/job CPU "
              f"(median of {args.repeat}; load {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main()
