"""The app the PostgreSQL process tests run in worker subprocesses.

Each job records its execution in ``executions`` (in the test's schema) with the
database clock, so a test can check that every job ran exactly once and that no two
executions of one job overlapped.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from psycopg_pool import ConnectionPool

from conveyor import Conveyor
from conveyor.stores.postgres.connection import Settings

EXECUTIONS = (
    "CREATE TABLE IF NOT EXISTS executions (job_id bigint NOT NULL, pid int NOT NULL, "
    "started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz)"
)


def make_app(url: str, lease: float = 1.0) -> Conveyor:
    import os

    app = Conveyor(url, lease=lease)
    settings = Settings.parse(url, {})
    # check=: a connection the server terminated is replaced before a job uses it.
    pool = ConnectionPool(settings.conninfo, kwargs=settings.connect_kwargs(), min_size=1,
                          max_size=8, open=True, check=ConnectionPool.check_connection)

    @app.job
    def record(n: int, pause: float, meta: Any) -> int:
        with pool.connection() as conn:
            conn.execute("INSERT INTO executions (job_id, pid) VALUES (%s, %s)",
                         (meta.id, os.getpid()))
        if pause:
            time.sleep(pause)
        with pool.connection() as conn:
            conn.execute("UPDATE executions SET finished_at = clock_timestamp() "
                         "WHERE job_id = %s AND pid = %s", (meta.id, os.getpid()))
        return n

    @app.job
    def noop() -> None:
        return None

    @app.job
    def whoami(pause: float) -> int:
        """Sleeps, then returns the pid of the process that ran it (fencing tests)."""
        time.sleep(pause)
        return os.getpid()

    return app


if __name__ == "__main__":  # python workerapp.py URL CONCURRENCY [LEASE]
    lease = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    # Upkeep every 0.2 s: a dead worker's jobs are rescued soon after their leases expire.
    make_app(sys.argv[1], lease).run_worker(concurrency=int(sys.argv[2]),
                                            maintenance_interval=0.2)
