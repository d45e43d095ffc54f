"""Recurring schedules: what storing and running occurrences costs.

    python bench/bench_schedules.py [--url URL] [--schedules 1000]

* ``save``: ``app.schedule_job(..., schedule=...)`` per schedule (upsert + first occurrence);
* ``gaps``: one maintenance pass of the leader when every schedule has its next
  occurrence stored (the steady state, once a second);
* ``hook``: the claim hook storing the successor of each claimed occurrence, per
  occurrence (batches of 100, as a worker claims them);
* ``list``: ``app.schedules()`` for every schedule.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

from conveyor import Conveyor
from conveyor.stores.base import ClaimedJob, JobFilter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--schedules", type=int, default=1000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    url = args.url or f"sqlite:///{folder}/bench.db"
    if url.startswith("postgresql") and "schema=" not in url:
        url += ("&" if "?" in url else "?") + f"schema=bench_{uuid.uuid4().hex[:8]}"
    app = Conveyor(url)

    @app.job
    def sync(shop: int) -> None: ...

    n = args.schedules
    started = time.perf_counter()
    for i in range(n):
        app.schedule_job("sync", i, schedule="every minute", key=f"shop-{i}")
    save = (time.perf_counter() - started) / n

    started = time.perf_counter()
    app.maintain(app.store, True)
    gaps = time.perf_counter() - started

    store = app.store
    pending = store.list_jobs(JobFilter(jobs=["sync"]), limit=n)
    now = time.time()
    as_claimed = [
        ClaimedJob(id=r.id, job=r.job, args=r.args, kwargs=r.kwargs, attempt=1, token=0,
                   max_attempts=1, retry=None, timeout=None, run_at=r.run_at, started_at=now,
                   schedule_id=r.schedule_id)
        for r in pending
    ]
    started = time.perf_counter()
    for offset in range(0, len(as_claimed), 100):
        app.periodic.claimed(app, store, as_claimed[offset:offset + 100])
    hook = (time.perf_counter() - started) / max(len(as_claimed), 1)

    started = time.perf_counter()
    listed = app.schedules()
    listing = time.perf_counter() - started
    print(f"{url.split('?')[0]}: {n} schedules")
    print(f"  save   {save * 1e3:.2f} ms per schedule")
    print(f"  gaps   {gaps * 1e3:.1f} ms per leader pass (none missing)")
    print(f"  hook   {hook * 1e3:.3f} ms per claimed occurrence (batches of 100)")
    print(f"  list   {listing * 1e3:.0f} ms for app.schedules() ({len(listed)} schedules)")
    app.close()
    if os.path.isdir(folder):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
