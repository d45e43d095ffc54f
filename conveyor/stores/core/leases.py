"""Held leases: heartbeats, release, rescue of expired leases, and progress/log writes
fenced by the lease token (the algorithm once; SQL from the store's dialect)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from conveyor.stores.base import POISON_RESCUES, SHARED_RESCUES, LogLine, Progress
from conveyor.stores.core.dialect import Dialect, retried
from conveyor.stores.matching import POISON_ERROR, RESCUED_ERROR


class LeasesCore:
    d: Dialect

    @retried
    def heartbeat(self, worker_id: str, held: dict[int, int], lease: float) -> set[int]:
        """Renew the leases; returns the held jobs whose lease is gone."""
        d, ids = self.d, sorted(held)
        params = d.params(worker=worker_id, lease=lease, ids=d.array(ids),
                          tokens=d.array([held[i] for i in ids]))
        with d.writing() as conn:
            live = dict(d.run(conn, "heartbeat", params).fetchall())
            d.run(conn, "worker_heartbeat", params)
            d.run(conn, "outlived_rescues", params)
        return {i for i, token in held.items() if live.get(i) != token}

    @retried
    def release(self, held: dict[int, int]) -> int:
        d = self.d
        with d.writing() as conn:
            changed = d.many(conn, "release", [
                d.params(id=i, token=held[i]) for i in sorted(held)])
            if changed:
                d.notify(conn)
        return changed

    def wake(self) -> None:
        """Ask every worker to look for due work now (a test clock moved)."""
        with self.d.writing() as conn:
            self.d.notify(conn)

    @retried
    def rescue(self, only: Collection[int] | None = None) -> int:
        """Requeue the jobs whose lease expired (with ``only``, of these ids). Toward
        poison (``rescues`` reaching SHARED_RESCUES), a job its dead worker held alone
        counts SHARED_RESCUES // POISON_RESCUES, one it held with others 1 (not its
        fault, most likely)."""
        d = self.d
        params = d.params(max=SHARED_RESCUES, error=RESCUED_ERROR, poison=POISON_ERROR)
        with d.writing() as conn:
            d.run(conn, "rescue_progressed", params)
            held: dict[Any, list[int]] = {}
            holding: dict[Any, int] = {}  # running jobs of each worker, expired or not
            for job_id, worker, count in d.run(conn, "expired_leases", params).fetchall():
                if only is not None and int(job_id) not in only:
                    continue
                held.setdefault(worker, []).append(int(job_id))
                holding[worker] = int(count)
            alone = [ids[0] for w, ids in held.items() if max(len(ids), holding[w]) == 1]
            shared = [i for w, ids in held.items() if max(len(ids), holding[w]) > 1
                      for i in ids]
            changed = 0
            for ids, step in ((alone, SHARED_RESCUES // POISON_RESCUES), (shared, 1)):
                if ids:
                    changed += int(d.run(conn, "rescue", {
                        **params, "ids": d.array(sorted(ids)), "step": step}).rowcount)
            if changed:
                d.notify(conn)
        return changed

    @retried
    def write_progress(self, items: Sequence[Progress], logs: Sequence[LogLine]) -> None:
        d = self.d
        with d.writing() as conn:
            if items:
                d.many(conn, "progress", [
                    {"id": p.job_id, "token": p.token, "fraction": p.fraction,
                     "message": p.message} for p in items])
            if logs:
                d.many(conn, "add_logs", [
                    {"id": g.job_id, "attempt": g.attempt, "at": g.at, "level": g.level,
                     "message": g.message} for g in logs])
