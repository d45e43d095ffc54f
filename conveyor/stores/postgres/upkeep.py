"""Keeping the hot table lean: VACUUM conveyor_jobs when dead row versions pile up.

Every job leaves dead row versions behind (claim and completion are updates). Until a
vacuum removes them, their entries stay at the head of the claim index and every claim
walks past them, so claims cost more and more until the next vacuum. Autovacuum does
this when it is on, but it wakes once a minute at best (and some servers run without
it), so workers' maintenance passes also vacuum the table when enough dead versions have
gathered (one process at a time, in a thread of its own so that no claim waits for it):
fewer on a small table, whose vacuum is cheap, more on a big one (``threshold``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING

import psycopg

from conveyor.errors import StoreError

if TYPE_CHECKING:
    from conveyor.stores.postgres.connection import Database

log = logging.getLogger("conveyor.postgres")

DEAD_ROWS = 200_000  # at most this many dead row versions before a vacuum
MIN_DEAD_ROWS = 10_000  # and at least this many
CHECK_EVERY = 5.0  # seconds between looks at the table's statistics
_LOCK = b"SELECT pg_try_advisory_lock(hashtextextended('conveyor-vacuum:' || current_schema(), 0))"
_FORGET = b"SELECT conveyor_forget_listeners()"
_DEAD = (
    b"SELECT n_dead_tup, n_live_tup FROM pg_stat_user_tables "
    b"WHERE relid = 'conveyor_jobs'::regclass"
)


def threshold(live: int) -> int:
    """Dead row versions to let gather before a vacuum. A vacuum costs about the size of
    the table, while each claim walks the dead entries at the head of the claim index
    (cost ~ dead): their sum per job is least near 100 x sqrt(live rows) (measured: a
    vacuum ~0.9 us per row, a claim ~0.35 us per job per 1,000 dead versions)."""
    return min(DEAD_ROWS, max(MIN_DEAD_ROWS, int(100 * math.sqrt(max(live, 0)))))


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
            conn.execute(_FORGET)  # idle workers' registrations of sessions gone (records.py)
        if row and row[0] is not None and row[0] >= threshold(row[1] or 0):
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
