"""Cleanup policies (``app.include`` a plugin's ``cleanup``): how long finished jobs of a
type are kept. Stored, so a policy applies to every finished job of that type in the
store, whoever triggered it; ``purge(None, expired_only=True)`` applies them.

The SQL is shared by both SQL stores through the schedule hooks of
:class:`~conveyor.stores.sqlite.schedules.ScheduleSQL` (placeholders and transactions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.clock import epoch
from conveyor.stores.sqlite.schedules import ScheduleSQL


class CleanupMixin(ScheduleSQL):
    """``save_cleanup`` / ``cleanup_policies`` and the purge condition they add."""

    def save_cleanup(self, policies: Mapping[str, float]) -> None:
        """Store ``{job id: seconds to keep a finished job}`` (upsert per job)."""
        with self._sched_write() as conn:
            for job, seconds in sorted(policies.items()):
                self._q(conn, "INSERT INTO conveyor_cleanup (job, purge_after, updated_at) "
                        "VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE SET "
                        "purge_after = excluded.purge_after, updated_at = excluded.updated_at",
                        (job, float(seconds), epoch(self.clock)))

    def cleanup_policies(self) -> dict[str, float]:
        """The stored policies: ``{job id: seconds}``."""
        with self._sched_read() as conn:
            rows = self._q(conn, "SELECT job, purge_after FROM conveyor_cleanup").fetchall()
        return {str(job): float(seconds) for job, seconds in rows}

    def _cleanup_condition(self, conn: Any, now: float, params: dict[str, Any],
                           mark: str) -> str:
        """SQL OR-ed to the expired-purge condition: finished jobs past their type's policy.
        ``mark`` formats a named placeholder (``:{}`` or ``%({})s``)."""
        rows = self._q(conn, "SELECT job, purge_after FROM conveyor_cleanup").fetchall()
        parts = []
        for i, (job, seconds) in enumerate(rows):
            params[f"cj{i}"], params[f"cb{i}"] = job, now - float(seconds)
            parts.append(f"(job = {mark.format(f'cj{i}')} AND finished_at IS NOT NULL "
                         f"AND finished_at <= {mark.format(f'cb{i}')})")
        return "".join(f" OR {p}" for p in parts)
