"""Query plans of the hot path at depth: python bench/plans.py [--url URL]

Fills the jobs table up to ``--finished`` completed rows and ``--pending`` due ones (reused
when already there), then runs claim, heartbeat, complete (with the next claim and
alone), next_due, rescue, the dashboard's counts by state and the queue counts once each
and prints the plan of every statement they send: ``EXPLAIN (ANALYZE, BUFFERS)`` on
PostgreSQL (in a transaction rolled back, before the real statement runs), ``EXPLAIN QUERY
PLAN`` on SQLite.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.bench import vacuum  # noqa: E402

WORKER = "plans:1"


def fill(app: Any, finished: int, pending: int, execute: Callable[[str], None]) -> None:
    """Up to ``finished`` completed rows (claimed and completed by SQL, like a worker's
    updates) and ``pending`` due ones."""
    noop = app.jobs["noop"]
    done = app.count(state="completed")
    while done < finished:
        n = min(50_000, finished - done)
        ids = app.enqueue_many([noop() for _ in range(n)])
        execute(f"UPDATE conveyor_jobs SET state = 'completed', attempts = 1, "
                f"started_at = run_at, finished_at = run_at + 0.001, result = 'null', "
                f"progress = 1.0 WHERE id BETWEEN {ids[0].id} AND {ids[-1].id}")
        done += n
    queued = app.count(state="queued")
    while queued < pending:
        n = min(50_000, pending - queued)
        app.enqueue_many([noop() for _ in range(n)])
        queued += n
    vacuum(app)


class Postgres:
    """Each statement the store sends is first run under EXPLAIN ANALYZE, rolled back."""

    def __init__(self, store: Any) -> None:
        import psycopg

        self.store, self.cls = store, psycopg.Connection
        self.original = psycopg.Connection.execute

    def raw(self, sql: str) -> None:
        with self.store.db.connection() as conn:
            conn.execute(sql)

    def explain(self, conn: Any, sql: str, params: Any = None) -> None:
        with conn.transaction(force_rollback=True):
            plan = self.original(conn, f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
        print("\n".join("    " + r[0] for r in plan))

    def start(self) -> None:
        with self.store.db.connection() as conn, conn.transaction(force_rollback=True):
            for setting in ("enable_sort", "enable_bitmapscan", "enable_seqscan"):
                conn.execute(f"SET LOCAL {setting} = off")  # as conveyor_due runs
            print("\n== conveyor_due(30, NULL), the claim's function: its body")
            self.explain(conn, DUE)

        def execute(conn: Any, query: Any, params: Any = None, **kw: Any) -> Any:
            text = query.decode() if isinstance(query, bytes) else str(query)
            if text.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH", "DELETE")):
                print("  " + " ".join(text.split())[:140])
                self.explain(conn, text, params)
            return self.original(conn, query, params, **kw)

        self.cls.execute = execute  # type: ignore[method-assign]

    def around(self, call: Callable[[], Any]) -> Any:
        return call()


class SQLite:
    """The statements a call sent (traced, bound values inlined), then their plans."""

    def __init__(self, store: Any) -> None:
        self.store, self.conn = store, store.db.conn
        self.traced: list[str] = []

    def raw(self, sql: str) -> None:
        with self.store.db.transaction() as conn:
            conn.execute(sql)

    def start(self) -> None:
        self.conn.set_trace_callback(self.traced.append)

    def around(self, call: Callable[[], Any]) -> Any:
        self.traced.clear()
        value = call()
        seen = set()
        for sql in self.traced:
            key = " ".join(sql.split())
            # (an executemany's rows differ by their values only: the first one)
            if key.upper().startswith(("BEGIN", "COMMIT", "PRAGMA")) or key[:80] in seen:
                continue
            seen.add(key[:80])
            print("  " + key[:140])
            for row in self.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
                print(f"    {row[3]}")
        return value


DUE = ("SELECT id FROM conveyor_jobs WHERE state IN ('pending', 'waiting') "
       "AND run_at <= extract(epoch from now())::float8 "
       "ORDER BY priority DESC, run_at, id LIMIT 30 FOR UPDATE SKIP LOCKED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='conveyor-plans-')}/plans.db"
    os.environ["CONVEYOR_URL"] = url
    from bench.app import app

    store: Any = app.store
    db = Postgres(store) if url.startswith("postgres") else SQLite(store)
    t = time.perf_counter()
    fill(app, args.finished, args.pending, db.raw)
    print(f"{app.counts()} ({time.perf_counter() - t:.0f} s to fill)")
    db.start()

    def show(name: str, call: Callable[[], Any]) -> Any:
        print(f"\n== {name}")
        t = time.perf_counter()
        value = db.around(call)
        print(f"  -> {(time.perf_counter() - t) * 1000:.1f} ms (with the plans)")
        return value

    from conveyor.stores.rows import Outcome

    jobs = show("claim 30", lambda: store.claim(WORKER, None, 30, 30.0))
    held = {j.id: j.token for j in jobs}
    show("heartbeat", lambda: store.heartbeat(WORKER, held, 30.0))
    now = time.time()
    jobs = show("complete 30 and claim 30 (the worker's usual call)",
                lambda: store.complete_and_claim(
                    [Outcome(j.id, j.token, "completed", now, result="null") for j in jobs],
                    WORKER, None, 30, 30.0))
    show("complete 30", lambda: store.complete(
        [Outcome(j.id, j.token, "completed", now, result="null") for j in jobs]))
    show("next_due", lambda: store.next_due(None))
    show("next_due (one queue)", lambda: store.next_due(["default"]))
    show("rescue", store.rescue)
    show("counts by state (dashboard)", store.counts_by_state)
    show("queue counts (dashboard queues, Prometheus)", store.queue_counts)


if __name__ == "__main__":
    main()
