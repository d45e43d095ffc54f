"""Idle workers' cost on PostgreSQL: transactions and row changes per minute.

Usage: python bench/bench_idle.py [ADMIN_URL] — for 1, 4 and 8 idle worker processes on a
fresh database, counts pg_stat_database.xact_commit and tup_inserted/updated/deleted over
SECONDS after a warm-up (nothing but the workers uses that database).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import psycopg

ADMIN = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/postgres"
SECONDS = float(os.environ.get("IDLE_SECONDS", "20"))
WARMUP = 6.0
WORKER = """
import sys
from conveyor import Conveyor
app = Conveyor(sys.argv[1])
@app.job
def noop() -> None: ...
app.run_worker(concurrency=4)
"""


def stats(conn: psycopg.Connection, db: str) -> tuple[int, int]:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted "
        "FROM pg_stat_database WHERE datname = %s", (db,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def measure(workers: int) -> tuple[float, float]:
    db = f"conveyor_idle_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{db}"
    subprocess.run([sys.executable, "-c", "import sys; from conveyor import Conveyor; "
                    "Conveyor(sys.argv[1]).close()", url], check=True)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        time.sleep(WARMUP)
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            x0, t0 = stats(admin, db)
            time.sleep(SECONDS)
            x1, t1 = stats(admin, db)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    per_minute = 60.0 / SECONDS
    return (x1 - x0) * per_minute, (t1 - t0) * per_minute


if __name__ == "__main__":
    for n in (1, 4, 8):
        xacts, rows = measure(n)
        print(f"{n} idle workers: {xacts:.0f} transactions/min ({xacts / 60 / n:.2f}/s per "
              f"worker), {rows:.0f} row changes/min")
