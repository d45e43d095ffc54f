"""Server time of every dashboard page and API call with many runs in the store.

    python bench/dashboard.py [--url sqlite:///bench-dash.db] [--runs 100000] [--repeat 7]

Fills the store once (reused on later calls when it already holds enough runs): 90%
completed, 7% failed, 2% scheduled, 1% queued, spread over several jobs and owners and
finished over the last hour. Then times each request in-process (Starlette's TestClient,
so the numbers are server time plus a few tenths of a millisecond of client overhead) and
prints the median and worst of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from starlette.testclient import TestClient

from conveyor import Conveyor, RetryIn
from conveyor.dashboard import create_app

JOBS = ("resize-image", "send-email", "sync-account", "charge-card")


def build(url: str) -> Conveyor:
    app = Conveyor(url)
    for name in JOBS:
        def fn(payload: Any, meta: Any) -> Any:
            if payload.get("fail"):
                raise ValueError(f"could not process order {payload['order']}")
            if payload.get("later"):
                raise RetryIn(86400)
            return {"ok": payload["order"]}

        app.job(name, retry=None)(fn)
    return app


def fill(app: Conveyor, runs: int) -> None:
    have = app.count()
    if have >= runs:
        print(f"store already holds {have:,} runs")
        return
    print(f"storing {runs - have:,} runs ...", flush=True)
    started = time.perf_counter()
    batch = []
    for i in range(have, runs):
        kind = i % 100
        payload = {"order": i, "customer": f"cust-{i % 997}", "fail": kind < 7,
                   "later": 7 <= kind < 9}
        call = app.jobs[JOBS[i % len(JOBS)]](payload)
        batch.append(call)
        if len(batch) == 5000 or i == runs - 1:
            app.enqueue_many(batch, owner=str(i % 50) if i % 3 else None)
            batch = []
    app.run_worker(concurrency=50, burst=True)  # runs them all (the 'later' ones reschedule)
    for _ in range(runs // 100):  # 1% left queued
        app.jobs[JOBS[0]]({"order": -1}).run_in(1, "week")
    print(f"stored and ran them in {time.perf_counter() - started:.0f} s")


def measure(client: TestClient, path: str, repeat: int) -> tuple[float, float, int]:
    times = []
    status = 0
    for _ in range(repeat):
        started = time.perf_counter()
        status = client.get(path).status_code
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="sqlite:///bench-dash.db")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    app = build(args.url)
    fill(app, args.runs)
    counts = app.counts()
    print("counts:", counts)
    newest = app.jobs_list(limit=1)[0].id
    failed = app.jobs_list(state="failed", limit=1)[0].id
    middle = app.jobs_list(limit=1, before_id=newest // 2)[0].id
    client = TestClient(create_app(app), base_url="http://127.0.0.1")
    paths = [
        "/", "/api/overview", "/jobs", "/runs", "/runs?state=failed", "/runs?state=scheduled",
        f"/runs?job={JOBS[2]}", "/runs?owner=7", "/runs?q=cust-123", "/runs?q=no-such-text",
        f"/runs?before={middle}", f"/runs/{failed}", f"/api/runs/{failed}", "/api/runs",
        "/api/runs?state=completed&limit=500", "/schedules", "/events",
    ]
    print(f"\n{'request':44} {'median ms':>10} {'worst ms':>10}")
    slow = 0
    for path in paths:
        median, worst, status = measure(client, path, args.repeat)
        flag = "  <-- over 200 ms" if median > 200 else ""
        slow += median > 200
        print(f"{path:44} {median:10.1f} {worst:10.1f}  {status}{flag}")
    app.close()
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
