"""SQLite store methods on held leases: heartbeats, release, rescue of expired leases,
and progress/log writes fenced by the lease token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.clock import Clock, epoch
from conveyor.stores.base import POISON_RESCUES, LogLine, Progress
from conveyor.stores.matching import POISON_ERROR, RESCUED_ERROR

if TYPE_CHECKING:
    from conveyor.stores.sqlite.connection import Locked

# A write only while the caller still holds the job's lease.
FENCE = "WHERE id = ? AND lease_token = ? AND state = 'running'"
CLEAR_LEASE = "lease_token = NULL, lease_expires_at = NULL, worker_id = NULL"


class LeasesMixin:
    """Lease keeping of :class:`SQLiteStore` (heartbeat, release, rescue, progress)."""

    db: Locked
    clock: Clock | None

    def heartbeat(self, worker_id: str, held: dict[int, int], lease: float) -> set[int]:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            rows = conn.execute(
                "UPDATE conveyor_jobs SET lease_expires_at = ? "
                "WHERE worker_id = ? AND state = 'running' RETURNING id, lease_token",
                (now + lease, worker_id),
            ).fetchall()
            conn.execute(
                "UPDATE conveyor_workers SET heartbeat_at = ? WHERE id = ?", (now, worker_id)
            )
        live = dict(rows)
        return {i for i, token in held.items() if live.get(i) != token}

    def release(self, held: dict[int, int]) -> int:
        now = epoch(self.clock)
        with self.db.transaction() as conn:
            return conn.executemany(
                "UPDATE conveyor_jobs SET state = 'pending', run_at = ?, attempts = attempts - 1, "
                f"started_at = NULL, {CLEAR_LEASE} " + FENCE,
                [(now, i, t) for i, t in held.items()],
            ).rowcount

    def rescue(self) -> int:
        now = epoch(self.clock)
        error, poison = RESCUED_ERROR, POISON_ERROR
        with self.db.transaction() as conn:
            return conn.execute(
                "UPDATE conveyor_jobs SET rescues = rescues + 1, "
                "state = CASE WHEN rescues + 1 >= :max THEN 'failed' ELSE 'pending' END, "
                "error = CASE WHEN rescues + 1 >= :max THEN :poison ELSE :error END, "
                "history = json_insert(coalesce(history, '[]'), '$[#]', json_object("
                "'number', attempts, 'started_at', started_at, 'finished_at', :now, "
                "'error', json(:error))), "
                "finished_at = CASE WHEN rescues + 1 >= :max THEN :now END, "
                "purge_at = CASE WHEN rescues + 1 >= :max THEN :now + retention END, "
                "run_at = :now, " + CLEAR_LEASE + " "
                "WHERE state = 'running' AND lease_expires_at < :now",
                {"now": now, "max": POISON_RESCUES, "error": error, "poison": poison},
            ).rowcount

    def write_progress(self, items: Sequence[Progress], logs: Sequence[LogLine]) -> None:
        with self.db.transaction() as conn:
            if items:
                conn.executemany(
                    "UPDATE conveyor_jobs SET progress = ?, progress_message = ? " + FENCE,
                    [(p.fraction, p.message, p.job_id, p.token) for p in items],
                )
            if logs:
                conn.executemany(
                    "INSERT INTO conveyor_logs (job_id, attempt, at, level, message) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(g.job_id, g.attempt, g.at, g.level, g.message) for g in logs],
                )
