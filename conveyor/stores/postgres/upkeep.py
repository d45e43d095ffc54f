"""Keeping the hot table lean: VACUUM conveyor_jobs when dead row versions pile up.

Every job leaves dead row versions behind (claim and completion are updates). Until a
vacuum removes them, their entries stay at the head of the claim index and every claim
walks past them, so throughput sinks as history grows. Autovacuum does this when it is
on, but it wakes once a minute at best (and some servers run without it), so workers'
maintenance passes also vacuum the table when enough dead versions have gathered (one
process at a time, in a thread of its own so that no claim waits for it).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import psycopg

from conveyor.errors import StoreError

if TYPE_CHECKING:
    from conveyor.stores.postgres.connection import Database

log = logging.getLogger("conveyor.postgres")

DEAD_ROWS = 200_000  # vacuum once this many dead row versions have gathered
CHECK_EVERY = 5.0  # seconds between looks at the table's statistics
_LOCK = b"SELECT pg_try_advisory_lock(hashtextextended('conveyor-vacuum:' || current_schema(), 0))"
_DEAD = (
    b"SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'conveyor_jobs'::regclass"
)


class Upkeep:
    """Per store: decides when the hot table needs a vacuum and runs it in the background."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.checked = 0.0
        self.running: threading.Thread | None = None

    def tick(self) -> None:
        """Called on every maintenance pass; cheap when there is nothing to do."""
        now = time.monotonic()
        if now - self.checked < CHECK_EVERY or (self.running and self.running.is_alive()):
            return
        self.checked = now
        with self.db.connection() as conn:
            row = conn.execute(_DEAD).fetchone()
        if row and row[0] is not None and row[0] >= DEAD_ROWS:
            self.running = threading.Thread(
                target=self._vacuum, args=(int(row[0]),), name="conveyor-vacuum", daemon=True
            )
            self.running.start()

    def _vacuum(self, dead: int) -> None:
        started = time.monotonic()
        try:
            conn = self.db.connect()
            try:
                # One at a time across processes: another one's VACUUM does the job.
                row = conn.execute(_LOCK).fetchone()
                if not row or not row[0]:
                    return
                conn.execute(b"VACUUM (ANALYZE) conveyor_jobs")
            finally:
                conn.close()
        except (psycopg.Error, StoreError) as exc:  # it only makes things faster
            log.info("VACUUM conveyor_jobs skipped: %s", str(exc).strip())
            return
        log.debug("VACUUM conveyor_jobs: %d dead rows, %.2f s", dead, time.monotonic() - started)
