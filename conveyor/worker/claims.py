"""How much a worker claims at a time: its slots, the jobs it holds ahead of them while
jobs finish quickly, the size of a claim, and when a completion flush claims along."""

from __future__ import annotations

import time
from collections.abc import Iterable

from conveyor.stores.base import ClaimedJob

QUICK = 0.05  # seconds from claim to outcome under which jobs are claimed ahead
GATHER = 0.005  # at most this many seconds an outcome waits for others of its batch
# A job claimed ahead that has not started this many seconds after its claim goes back to
# the queue: the jobs it waits behind were not quick, and another worker may be idle.
AHEAD_PATIENCE = 0.5


class Sizing:
    """Claim sizes for a worker of ``concurrency`` slots.

    Jobs claimed ahead wait for a slot (leases held and heartbeated) and are refilled when
    fewer than half are left, so a claim is rarely of one job. A worker of concurrency 1
    holds only the job it runs (a job that kills its worker then takes no other job down
    with it). Claiming ahead only pays (and is only fair to other workers) while jobs
    finish quickly: it is on while the average time from claim to outcome is under QUICK.
    """

    def __init__(self, concurrency: int, prefetch: int | None, batch: int | None) -> None:
        if prefetch is None:
            prefetch = 2 * concurrency if concurrency > 1 else 0
        self.concurrency = concurrency
        self.prefetch = max(0, prefetch)
        self.low_water = self.prefetch // 2  # claim again once this few wait
        self.batch = batch or concurrency + self.prefetch
        self.turnaround: float | None = None  # average seconds from claim to outcome
        self.since: dict[int, float] = {}  # when each job held was claimed (monotonic)

    def ahead(self) -> int:
        """How many jobs to hold beyond the running ones now."""
        quick = self.turnaround is not None and self.turnaround < QUICK
        return self.prefetch if quick else 0

    def wanted(self, holding: int, waiting: int) -> int:
        """How many jobs to claim while ``holding`` jobs (``waiting`` of them for a
        slot): 0 while enough wait."""
        free = self.concurrency + self.ahead() - holding
        if free <= 0 or waiting > self.low_water:
            return 0
        return min(free, self.batch)

    def flush_least(self, held: bool, more_likely: bool) -> int:
        """The fewest jobs a completion flush must be able to claim to claim along (0:
        none). Outcomes free slots: fill them in the same transaction while work is
        ``held`` back by a limit (its slots are what the outcomes free), or, while work
        flows or may be left (``more_likely``), once the claim would be of half a batch
        at least: a small one would make a commit that need not wait for the disk
        (outcomes alone) one that must."""
        if held:
            return 1
        return max(1, self.batch // 2) if more_likely else 0

    def gather(self) -> float:
        """Seconds an outcome may wait for the other jobs held to finish, to be stored
        with theirs while a limit holds work back: only while jobs finish quickly (the
        wait is a slot left idle), and no longer than half the average turnaround."""
        took = self.turnaround
        return min(GATHER, took / 2) if took is not None and took < QUICK else 0.0

    def slow(self) -> None:
        """Jobs claimed ahead waited too long: claim none ahead until jobs are quick again."""
        self.turnaround = max(self.turnaround or 0.0, QUICK)

    def claimed(self, jobs: Iterable[ClaimedJob]) -> None:
        now = time.monotonic()
        for job in jobs:
            self.since[job.id] = now

    def finished(self, job_id: int) -> None:
        """An attempt of a held job ended: its time from claim to outcome counts."""
        since = self.since.pop(job_id, None)
        if since is not None:
            took = time.monotonic() - since
            self.turnaround = took if self.turnaround is None else (
                0.9 * self.turnaround + 0.1 * took)
