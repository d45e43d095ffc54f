"""Server CPU of the worker cycle, statement by statement: python bench/pg_cycle.py --url URL

On one connection (one backend, whose CPU is read from /proc), after a vacuumed, emptied
``conveyor_jobs``: stores ``--jobs`` no-op jobs, then runs the worker's steady state
with store calls only: ``complete_and_claim`` of the last batch's outcomes with the
claim of the next ``--batch`` jobs, until every job has completed. Prints the backend's
CPU µs per job for that phase, and for a second pass that splits it into claims alone
and completions alone (the statements ``claim`` and ``complete``). No worker, no
polling, no bulk insert in the measured phases: the figures are the store's own.
``--concurrency N`` puts a limit of N on the job: every claim is then a limited claim.
The table is emptied: give it a database or schema of its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor import Conveyor
from conveyor.stores.base_flow import FlowRule
from conveyor.stores.rows import ClaimedJob, NewJob, Outcome


def backend_cpu(store: Any) -> float:
    """CPU seconds of the one pooled backend so far (schedstat: nanoseconds on a CPU)."""
    with store.db.connection() as conn:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def reset(store: Any, jobs: int) -> None:
    conn = store.db.connect()  # autocommit, outside the pool: VACUUM
    try:
        conn.execute("TRUNCATE conveyor_jobs")
        conn.execute("VACUUM ANALYZE conveyor_jobs")
    finally:
        conn.close()
    store.insert([NewJob(job="noop_sync") for _ in range(jobs)])
    conn = store.db.connect()
    try:
        conn.execute("VACUUM ANALYZE conveyor_jobs")
    finally:
        conn.close()


def outcomes(claimed: list[ClaimedJob]) -> list[Outcome]:
    now = time.time()
    return [Outcome(j.id, j.token, "completed", now, result="null") for j in claimed]


def cycle(store: Any, batch: int) -> int:
    """complete_and_claim until nothing is left; returns the jobs completed."""
    done = 0
    held = store.claim("w", None, batch, 30.0)
    while held:
        got = store.complete_and_claim(outcomes(held), "w", None, batch, 30.0)
        done += got.stored
        held = list(got)
    return done


def split(store: Any, batch: int) -> tuple[int, float, float]:
    """Claims alone, then completions alone: (jobs, claim CPU s, complete CPU s)."""
    claim_cpu = complete_cpu = 0.0
    done = 0
    while True:
        t = backend_cpu(store)
        held = store.claim("w", None, batch, 30.0)
        claim_cpu += backend_cpu(store) - t
        if not held:
            return done, claim_cpu, complete_cpu
        t = backend_cpu(store)
        done += store.complete(outcomes(held))
        complete_cpu += backend_cpu(store) - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, help="a limit on the job (flow rule)")
    args = parser.parse_args()
    app = Conveyor(args.url, pool_size=1)  # one backend: its CPU is the statements'
    store: Any = app.store
    assert store.schema  # read once, outside the claims (its lookup needs a connection)
    store.sync_limits([FlowRule("job", "noop_sync", concurrency=args.concurrency)])
    both, claims, completes, rates = [], [], [], []
    try:
        for _ in range(args.rounds):
            reset(store, args.jobs)
            cpu, t = backend_cpu(store), time.perf_counter()
            n = cycle(store, args.batch)
            rates.append(n / (time.perf_counter() - t))
            both.append((backend_cpu(store) - cpu) / n * 1e6)
            reset(store, args.jobs)
            n, claim_cpu, complete_cpu = split(store, args.batch)
            claims.append(claim_cpu / n * 1e6)
            completes.append(complete_cpu / n * 1e6)
    finally:
        app.close()
    med = statistics.median
    print(f"complete_and_claim cycle: {med(both):.1f} us/job server CPU "
          f"({' / '.join(f'{x:.1f}' for x in both)}), {med(rates):,.0f} jobs/s one client")
    print(f"claim alone: {med(claims):.1f} us/job, complete alone: {med(completes):.1f} us/job "
          f"(batch {args.batch})")


if __name__ == "__main__":
    main()
