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
# A job claimed ahead starts only within this share of its lease from its claim (sent):
# later, too little is left for a heartbeat to renew it in time, and with heartbeats
# failing it may have ended (another worker may run the job). It goes back unstarted.
START_WITHIN = 0.5
# The adaptive claim size (neither prefetch nor batch given): while claimed jobs start on
# average within AHEAD_WAIT seconds of their claim and claims come back full, each claim
# holds `concurrency` more ahead, up to MOST_AHEAD x concurrency (AHEAD_CAP jobs at most);
# past twice AHEAD_WAIT, one `concurrency` fewer. A job held ahead waits about as long as
# the worker takes to run the jobs before it, so AHEAD_WAIT is also about how long one
# worker may hold jobs another idle one could run when a busy queue runs dry. Twice it,
# plus a quick job's run, stays under QUICK (measured from the claim too).
AHEAD_WAIT = 0.015
MOST_AHEAD = 10
AHEAD_CAP = 250


class Sizing:
    """Claim sizes for a worker of ``concurrency`` slots.

    Jobs claimed ahead wait for a slot (leases held and heartbeated) and are refilled when
    fewer than half are left, so a claim is rarely of one job. A worker of concurrency 1
    holds only the job it runs (a job that kills its worker then takes no other job down
    with it). Claiming ahead only pays (and is only fair to other workers) while jobs
    finish quickly: it is on while the average time from claim to outcome is under QUICK.

    Each statement costs the worker and the database far more than a no-op job, so while
    jobs are very quick the claims grow (:meth:`took`): the jobs held ahead go from twice
    the concurrency up to MOST_AHEAD times it, as long as a claimed job waits on average
    under AHEAD_WAIT for its slot, and one concurrency fewer while it is over twice
    AHEAD_WAIT (:meth:`started`): the jobs held ahead settle where they wait between the
    two (a fall back to twice each time made a sawtooth of mostly small claims). Back to
    twice at once when a claim comes back short (the queue runs dry: other workers get
    their share) or jobs are not quick. An explicit ``prefetch`` or ``batch``
    fixes the sizes.
    """

    def __init__(self, concurrency: int, prefetch: int | None, batch: int | None) -> None:
        self.adaptive = prefetch is None and not batch and concurrency > 1
        if prefetch is None:
            prefetch = 2 * concurrency if concurrency > 1 else 0
        self.concurrency = concurrency
        self.least = max(0, prefetch)  # jobs held ahead while quick (adaptive: at first)
        self.most = (max(self.least, min(MOST_AHEAD * concurrency, AHEAD_CAP))
                     if self.adaptive else self.least)
        self.fixed_batch = batch
        self.reach(self.least)
        self.turnaround: float | None = None  # average seconds from claim to outcome
        self.wait = 0.0  # average seconds from claim to start
        self.since: dict[int, float] = {}  # when each job held was claimed (monotonic)

    def reach(self, prefetch: int) -> None:
        """Hold up to ``prefetch`` jobs ahead while quick (claims of as many and the slots)."""
        self.prefetch = prefetch
        self.low_water = prefetch // 2  # claim again once this few wait
        self.batch = self.fixed_batch or self.concurrency + prefetch

    def quick(self) -> bool:
        return self.turnaround is not None and self.turnaround < QUICK

    def ahead(self) -> int:
        """How many jobs to hold beyond the running ones now."""
        return self.prefetch if self.quick() else 0

    def wanted(self, holding: int, waiting: int) -> int:
        """How many jobs to claim while ``holding`` jobs (``waiting`` of them for a
        slot): 0 while enough wait."""
        free = self.concurrency + self.ahead() - holding
        if free <= 0 or waiting > self.low_water:
            return 0
        return min(free, self.batch)

    def took(self, full: bool) -> None:
        """A claim came back (``full``: with all it asked for). Adaptive: a full one while
        jobs are quick and start within AHEAD_WAIT on average holds more ahead next
        time; a short one (little is due: leave it to other workers), or slow jobs, the
        least."""
        if not self.adaptive:
            return
        if not full or not self.quick():
            self.reach(self.least)
        elif self.wait < AHEAD_WAIT and self.prefetch < self.most:
            self.reach(min(self.most, self.prefetch + self.concurrency))

    def started(self, jobs: Iterable[ClaimedJob]) -> None:
        """Jobs took a slot (each ``waited`` since its claim): their wait counts; an
        average past twice AHEAD_WAIT holds one concurrency fewer ahead (not under the
        least)."""
        wait = self.wait
        for job in jobs:
            wait += 0.1 * (job.waited - wait)
        self.wait = wait
        if wait > 2 * AHEAD_WAIT and self.prefetch > self.least:
            self.reach(max(self.least, self.prefetch - self.concurrency))

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
        self.reach(self.least)

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
