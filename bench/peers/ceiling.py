"""The side-by-side workload's own ceiling on this machine, no job system at all:

    bench/.venv-peers/bin/python bench/peers/ceiling.py \
        [--jobs 10000] [--processes 2] [--threads 10]

``--processes`` processes of ``--threads`` threads each call the job function of the
harness (bench/peers/work.py: one Redis RPUSH) as fast as they can, ``--jobs`` calls in
all; prints calls/s and the CPU µs per call of the processes. A job system running
this job with the same workers cannot go faster than this; on 2 cores it shares them
with its own work and its store.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.peers.work import DONE, client, work


def _calls(count: int, threads: int, start: multiprocessing.synchronize.Event) -> None:
    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def run(n: int) -> None:
        client()  # connect before the clock starts
        start.wait()
        for _ in range(n):
            work(time.time())

    pool = [threading.Thread(target=run, args=(n,)) for n in per]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args()
    client().delete(DONE)
    start = multiprocessing.Event()
    share = [args.jobs // args.processes] * args.processes
    share[0] += args.jobs - sum(share)
    procs = [multiprocessing.Process(target=_calls, args=(n, args.threads, start))
             for n in share]
    for proc in procs:
        proc.start()
    time.sleep(1.0)  # every thread connected and waiting
    began = time.monotonic()
    cpu_before = sum(_cpu(p.pid) for p in procs if p.pid)
    start.set()
    cpu_after = 0.0
    while any(p.is_alive() for p in procs):
        cpu_after = max(cpu_after, sum(_cpu(p.pid) for p in procs if p.pid))
        time.sleep(0.005)
    took = time.monotonic() - began
    print(f"{args.processes} processes x {args.threads} threads, {args.jobs:,} calls: "
          f"{args.jobs / took:,.0f} calls/s, "
          f"{(cpu_after - cpu_before) / args.jobs * 1e6:,.0f} µs CPU per call")
    client().delete(DONE)


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
