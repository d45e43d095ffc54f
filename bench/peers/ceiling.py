"""The side-by-side workload's own ceiling on this machine, no job system at all:

    bench/.venv-peers/bin/python bench/peers/ceiling.py \
        [--jobs 10000] [--processes 2] [--threads 10] [--ping]

``--processes`` processes of ``--threads`` threads each call the job function of the
harness (bench/peers/work.py: one Redis RPUSH; ``--ping``: bench/app.py's ``redis_sync``,
one PING) as fast as they can, ``--jobs`` calls in all; prints calls/s, the CPU µs per
call of the processes and their threads' context switches per call (voluntary /
involuntary: compare with bench.py's per-thread lines). A job system running this job
with the same workers cannot go faster than this; on 2 cores it shares them with its own
work and its store.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peers.work import DONE, client, work
from bench.threadstats import sample


def _ping(_: float) -> None:
    client().ping()


def _calls(count: int, threads: int, ping: bool, start: multiprocessing.synchronize.Event,
           out: multiprocessing.Queue[Counter[str]]) -> None:
    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    call = _ping if ping else work
    ready, done = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    leave = threading.Event()

    def run(n: int) -> None:
        client()  # connect before the clock starts
        ready.wait()
        start.wait()
        for _ in range(n):
            call(time.time())
        done.wait()  # counted while every thread is alive (an ended one's counts go)
        leave.wait()

    pool = [threading.Thread(target=run, args=(n,)) for n in per]
    for thread in pool:
        thread.start()
    ready.wait()
    before = sample([os.getpid()])
    done.wait()
    after = sample([os.getpid()])
    leave.set()
    for thread in pool:
        thread.join()
    used = Counter[str]()
    for group, counts in after.items():
        used.update(counts)
        used.subtract(before.get(group, Counter()))
    out.put(used)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--ping", action="store_true", help="PING instead of the RPUSH")
    args = parser.parse_args()
    client().delete(DONE)
    start = multiprocessing.Event()
    out: multiprocessing.Queue[Counter[str]] = multiprocessing.Queue()
    share = [args.jobs // args.processes] * args.processes
    share[0] += args.jobs - sum(share)
    procs = [multiprocessing.Process(target=_calls, args=(n, args.threads, args.ping,
                                                          start, out))
             for n in share]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # every thread connected and waiting
    began = time.monotonic()
    start.set()
    used = Counter[str]()
    for _ in procs:
        used.update(out.get())
    took = time.monotonic() - began
    for proc in procs:
        proc.join()
    n = args.jobs
    print(f"{args.processes} processes x {args.threads} threads, {n:,} calls: "
          f"{n / took:,.0f} calls/s, {used['ns'] / n / 1e3:,.0f} µs CPU per call, "
          f"switches per call vol {used['vol'] / n:.2f} invol {used['invol'] / n:.2f}")
    client().delete(DONE)


if __name__ == "__main__":
    main()
