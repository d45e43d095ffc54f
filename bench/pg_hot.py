"""HOT updates by kind, fillfactor 70 vs 100: python bench/pg_hot.py --url postgresql://...

For each fillfactor (twice, alternating) on a truncated ``conveyor_jobs``: stores
``--jobs`` jobs, claims them all, renews their leases three times, completes them (store
calls, no worker, no vacuum in between) and prints how many updates of each kind were
HOT (``pg_stat_user_tables.n_tup_hot_upd``) and the heap's size in pages. The table is
truncated: give it a schema of its own (``?schema=hot``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conveyor import Conveyor
from conveyor.stores.rows import NewJob, Outcome

BATCH = 100


def updates(store: Any) -> tuple[int, int]:
    """(updates, HOT updates) of conveyor_jobs so far (statistics flushed first)."""
    with store.db.connection() as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        row = conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                           "WHERE relid = 'conveyor_jobs'::regclass").fetchone()
    return int(row[0]), int(row[1])


def run(url: str, fillfactor: int, jobs: int) -> str:
    app = Conveyor(url, pool_size=1)  # one backend: its statistics are flushed on demand
    store: Any = app.store
    try:
        with store.db.connection() as conn:
            conn.execute("TRUNCATE conveyor_jobs")
            conn.execute(f"ALTER TABLE conveyor_jobs SET (fillfactor = {fillfactor})")
        store.insert([NewJob(job="noop") for _ in range(jobs)])
        held: dict[int, int] = {}
        marks = [updates(store)]
        while claimed := store.claim("hot", None, BATCH, 30.0):
            held.update({j.id: j.token for j in claimed})
        marks.append(updates(store))
        ids = sorted(held)
        batches = [ids[i:i + BATCH] for i in range(0, len(ids), BATCH)]
        for _ in range(3):
            for batch in batches:
                store.heartbeat("hot", {i: held[i] for i in batch}, 30.0)
        marks.append(updates(store))
        now = time.time()
        for batch in batches:
            store.complete([Outcome(i, held[i], "completed", now, result="null")
                            for i in batch])
        marks.append(updates(store))
        with store.db.connection() as conn:
            (pages,) = conn.execute(
                "SELECT pg_relation_size('conveyor_jobs') / 8192").fetchone()
    finally:
        app.close()
    kinds = ("claims", "heartbeats", "completions")
    parts = [f"{kind} {b[1] - a[1]:,}/{b[0] - a[0]:,} HOT"
             for kind, a, b in zip(kinds, marks, marks[1:], strict=False)]
    return f"fillfactor {fillfactor}: {', '.join(parts)}; heap {pages:,} pages"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://...?schema=hot")
    parser.add_argument("--jobs", type=int, default=20_000)
    args = parser.parse_args()
    for fillfactor in (70, 100, 70, 100):
        print(run(args.url, fillfactor, args.jobs), flush=True)


if __name__ == "__main__":
    main()
