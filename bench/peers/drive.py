"""One run of one system (run by run.py on the peers' interpreter; prints one JSON line).

1. bulk enqueue of N jobs, timed, then the queue is emptied (systems that have one);
2. N jobs enqueued one at a time from this process, timed, and left queued;
3. two worker processes started (default flags, concurrency 10): processed/s is N over
   the span from the first job's run to the last's (the time each job recorded in
   Redis), and worker CPU per job is the CPU of their process trees over that span;
4. with the workers idle, L jobs enqueued one every 4 ms: latency is each job's run time
   minus the time just before its enqueue call (p50, p95).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.peers import systems  # noqa: E402
from bench.peers import work as body  # noqa: E402


def tree_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their descendants (alive now)."""
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    wanted, total = set(pids), 0.0
    for pid in times:
        p = pid
        while p > 1 and p not in wanted:
            p = parent.get(p, 0)
        if p in wanted:
            total += times[pid]
    return total


def wait_for(n: int, timeout: float) -> None:
    r, deadline = body.client(), time.time() + timeout
    while r.llen(body.DONE) < n:
        if time.time() > deadline:
            raise SystemExit(f"timed out: {r.llen(body.DONE)}/{n} jobs ran")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system", choices=systems.NAMES)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-jobs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sqlite-url", required=True)
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--procrastinate-url", required=True)
    parser.add_argument("--log", default=os.devnull, help="the workers' output goes here")
    args = parser.parse_args()
    n = args.jobs
    system = systems.make(args.system, args.sqlite_url, args.pg_url, args.procrastinate_url)
    r = body.client()
    system.reset()
    r.delete(body.DONE)

    bulk = None
    if system.bulk is not None:
        t = time.perf_counter()
        system.bulk(n)
        bulk = n / (time.perf_counter() - t)
        system.reset()
    t = time.perf_counter()
    for _ in range(n):
        system.enqueue(0.0)
    single = n / (time.perf_counter() - t)

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(args.log, "ab") as log:
        workers = [subprocess.Popen(system.worker(), env=env, cwd=ROOT, stdout=log,
                                    stderr=log, start_new_session=True)
                   for _ in range(args.workers)]
    pids = [w.pid for w in workers]
    try:
        wait_for(1, 120)
        cpu0, k0 = tree_cpu(pids), r.llen(body.DONE)
        wait_for(n, 600)
        cpu_us = (tree_cpu(pids) - cpu0) / max(1, n - k0) * 1e6
        ran = [float(x.split()[1]) for x in r.lrange(body.DONE, 0, -1)]
        processed = (n - 1) / (max(ran) - min(ran))

        r.delete(body.DONE)
        time.sleep(1.0)  # idle workers
        for _ in range(args.latency_jobs):
            system.enqueue(time.time())
            time.sleep(0.004)
        wait_for(args.latency_jobs, 120)
        pairs = [x.split() for x in r.lrange(body.DONE, 0, -1)]
        lat = sorted((float(b) - float(a)) * 1000 for a, b in pairs)
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
        system.close()
    print(json.dumps({
        "system": system.name, "enqueue": single, "bulk": bulk, "processed": processed,
        "p50": statistics.median(lat), "p95": lat[int(len(lat) * 0.95) - 1],
        "cpu_us": cpu_us,
    }))


if __name__ == "__main__":
    main()
