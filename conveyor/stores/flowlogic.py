"""Global concurrency and rate limits at claim time: the algorithm both SQL stores share.

A claim with flow rules in force (``conveyor_flow``) goes like this, in one transaction:

1. *peek*: the due jobs in claim order that no pause holds, skipping limit groups already
   known to be full;
2. *lock* the limit groups those jobs belong to (SQLite: its write transaction already
   serialises claims; PostgreSQL: one advisory transaction lock per group, so unrelated
   jobs never wait on each other);
3. count, under those locks, what each group holds: attempts ``running`` now (a dead
   worker's attempt stops counting when its lease is rescued) and starts inside the rate
   window;
4. *take* the jobs that fit, in claim order, and record their starts.

A limit group is a job (per ``concurrency_key`` value, when the job has one) or a queue.
Rate windows are kept as counts per bucket of ``period / BUCKETS`` seconds; a bucket counts
whole until its latest start leaves the window (it expires ``period`` after that start), so
the count never under-estimates the starts in any window of ``period``, and starts made at
one moment free their room exactly one ``period`` later (a saturated limit runs at least
``BUCKETS / (BUCKETS + 1)`` of its rate — the price of O(BUCKETS) work per claim instead of
one row per start).

Looks past the first peek (rounds 2..ROUNDS) walk the due index past every job of the
groups found full, so their cost grows with those groups' backlog. A look that found
nothing else to claim is remembered (:class:`Lookout`, one per store object) and not
repeated for ``DEEP_EVERY`` seconds while the same groups (or more) are full: a job queued
behind a full group's backlog of more than ``PEEK`` jobs may start up to that much later,
and a worker claiming under a saturated limit no longer walks the backlog on every claim.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from conveyor.stores.base_flow import FlowRule

# 1/10 of the window per bucket: a saturated limit runs at 10/11 of its rate, and a start
# may come up to a tenth of the window late (a busy worker) without two windows' starts
# crowding into one as the jobs' own clocks see them.
BUCKETS = 10
SEP = "\x1f"
ROUNDS = 4  # peeks per claim (each skips the groups the previous ones found full)
PEEK = 100  # due jobs a peek looks at
DEEP_EVERY = 1.0  # seconds a look past full groups that found nothing is trusted


def job_group(job: str, key: str | None) -> str:
    return f"j{SEP}{job}{SEP}{key or ''}"


def queue_group(queue: str) -> str:
    return f"q{SEP}{queue}"


def parse_group(group: str) -> tuple[str, str, str | None]:
    """(kind, name, concurrency key) of a group name (names never hold SEP; a key may)."""
    kind, name, *rest = group.split(SEP, 2)
    return ("job" if kind == "j" else "queue"), name, (rest[0] if rest else None) or None


def bucket_of(now: float, period: float) -> tuple[float, float]:
    """(bucket start, expiry) of a start at ``now`` under a window of ``period``: the
    bucket expires when this start leaves the window (stores keep a bucket's latest)."""
    width = period / BUCKETS
    return math.floor(now / width) * width, now + period


@dataclass(slots=True)
class Candidate:
    id: int
    job: str
    queue: str
    key: str | None


@dataclass
class Rules:
    """The rules in force, indexed for the claim."""

    jobs: dict[str, FlowRule] = field(default_factory=dict)
    queues: dict[str, FlowRule] = field(default_factory=dict)
    paused_jobs: list[str] = field(default_factory=list)
    paused_queues: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rules: Iterable[FlowRule]) -> Rules:
        found = cls()
        for r in rules:
            if r.paused:
                (found.paused_jobs if r.kind == "job" else found.paused_queues).append(r.name)
            elif r.limited:
                (found.jobs if r.kind == "job" else found.queues)[r.name] = r
        return found

    def __bool__(self) -> bool:
        return bool(self.jobs or self.queues or self.paused_jobs or self.paused_queues)

    def groups(self, c: Candidate) -> list[tuple[str, FlowRule]]:
        found = []
        if (rule := self.jobs.get(c.job)) is not None:
            found.append((job_group(c.job, c.key), rule))
        if (rule := self.queues.get(c.queue)) is not None:
            found.append((queue_group(c.queue), rule))
        return found


@dataclass
class Exclusions:
    """What a peek skips: paused names and full groups."""

    jobs: list[str]
    queues: list[str]
    job_keys: list[str] = field(default_factory=list)  # job + SEP + key of full job groups


class Lookout:
    """When looks past full groups last found nothing else due (per queue selection), and
    when a plain take last broke a limit."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.empty: dict[tuple[str, ...] | None, tuple[float, frozenset[str]]] = {}
        self.missed = -math.inf  # when a plain take last broke a limit (monotonic)

    def optimistic(self) -> bool:
        """Is a plain take worth trying first? Not for ``DEEP_EVERY`` s after one broke a
        limit, unless a pick since left room for as many jobs again (and at least a peek)
        in every limit it met."""
        return time.monotonic() - self.missed >= DEEP_EVERY

    def miss(self) -> None:
        self.missed = time.monotonic()

    def unmiss(self) -> None:
        self.missed = -math.inf

    def needless(self, queues: Sequence[str] | None, skip: Exclusions) -> bool:
        """Did a recent look, skipping no more than ``skip`` does now, find nothing?"""
        trusted = self.trusted(queues)
        return trusted is not None and set(trusted) <= _skipped(skip)

    def trusted(self, queues: Sequence[str] | None) -> list[str] | None:
        """What the last look that found nothing skipped, if it is recent (None: none)."""
        with self.lock:
            seen = self.empty.get(_selection(queues))
        if seen is None or time.monotonic() - seen[0] >= DEEP_EVERY:
            return None
        return sorted(seen[1])

    def forget(self) -> None:
        """Trust no earlier look (a burst worker's last claim before it returns)."""
        with self.lock:
            self.empty.clear()

    def found(self, queues: Sequence[str] | None, skip: Exclusions, anything: bool) -> None:
        self.record(queues, anything, _skipped(skip))

    def record(self, queues: Sequence[str] | None, anything: bool, skipped: Iterable[str]
               ) -> None:
        """What a look past full groups, skipping ``skipped`` (see :func:`_skipped`), found."""
        with self.lock:
            if anything:
                self.empty.pop(_selection(queues), None)
            else:
                self.empty[_selection(queues)] = (time.monotonic(), frozenset(skipped))


def _selection(queues: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(sorted(queues)) if queues else None


def _skipped(skip: Exclusions) -> frozenset[str]:
    return frozenset([*(f"j{SEP}{n}" for n in skip.jobs), *(f"q{SEP}{n}" for n in skip.queues),
                      *(f"k{SEP}{n}" for n in skip.job_keys)])


class FlowConnection(Protocol):
    """What a store provides inside one claim transaction."""

    def peek(self, queues: Sequence[str] | None, skip: Exclusions, limit: int
             ) -> list[Candidate]: ...

    def lock(self, groups: Sequence[str], wait: bool) -> set[str]:
        """Lock these groups until the transaction ends; returns those locked."""
        ...

    def now(self) -> float: ...

    def running(self, jobs: Sequence[str], queues: Sequence[str]
                ) -> list[tuple[str, str, str | None]]:
        """(job, queue, key) of every running attempt of these jobs or queues."""
        ...

    def rate_used(self, groups: Sequence[str], now: float) -> dict[str, int]: ...

    def record_starts(self, rows: Sequence[tuple[str, float, int, float]]) -> None:
        """Add (group, bucket, count, expires_at) to the rate buckets."""
        ...


def pick(conn: FlowConnection, rules: Rules, queues: Sequence[str] | None, want: int,
         lookout: Lookout | None = None) -> tuple[list[int], float]:
    """The ids to claim (in claim order) and the clock they start at."""
    skip = Exclusions(list(rules.paused_jobs), list(rules.paused_queues))
    left: dict[str, float] = {}  # group -> what it may still start in this claim
    rule_of: dict[str, FlowRule] = {}
    groups_of: dict[tuple[str, str, str | None], list[str]] = {}  # by (job, queue, key)
    chosen: list[int] = []
    seen: set[int] = set()
    now: float | None = None
    size, deep = min(PEEK, want), False  # deep: this peek skips groups found full
    for round_no in range(ROUNDS):
        if deep and lookout is not None and lookout.needless(queues, skip):
            break
        found = conn.peek(queues, skip, size)
        peeked = [c for c in found if c.id not in seen]
        if deep and lookout is not None:
            lookout.found(queues, skip, bool(peeked))
        if not peeked:
            break
        known = len(rule_of)
        for c in peeked:
            if (c.job, c.queue, c.key) not in groups_of:
                pairs = rules.groups(c)
                groups_of[(c.job, c.queue, c.key)] = [g for g, _ in pairs]
                rule_of.update(pairs)
        new = sorted(g for g in rule_of if g not in left) if len(rule_of) > known else []
        locked = conn.lock(new, wait=round_no == 0)  # later rounds never wait: no deadlock
        if now is None:
            now = conn.now()
        left.update({g: 0.0 for g in new if g not in locked})  # busy elsewhere: skip
        _measure(conn, [g for g in new if g in locked], rule_of, left, now)
        for c in peeked:
            seen.add(c.id)
            groups = groups_of[(c.job, c.queue, c.key)]
            if all(left[g] >= 1 for g in groups):
                chosen.append(c.id)
                for g in groups:
                    left[g] -= 1
                if len(chosen) == want:
                    break
        if len(chosen) == want or len(found) < size:
            break
        skipped = len(skip.queues) + len(skip.job_keys)
        _exclude(skip, {g for g, n in left.items() if n <= 0})
        deep = len(skip.queues) + len(skip.job_keys) > skipped
        # Nothing new to skip (every job looked at fits): look further down the same
        # order instead, for as many more as are still wanted.
        size = PEEK if deep else len(seen) + want - len(chosen)
    if lookout is not None and all(n >= max(want, PEEK) for n in left.values()):
        lookout.unmiss()  # every limit met has room for another claim and a peek more
    return chosen, now if now is not None else conn.now()


def _measure(conn: FlowConnection, groups: list[str], rule_of: dict[str, FlowRule],
             left: dict[str, float], now: float) -> None:
    """Fill ``left`` for newly locked groups: limit minus what they hold now."""
    if not groups:
        return
    running = _running(conn, groups, rule_of)
    rated = [g for g in groups if rule_of[g].rate_limit is not None]
    used = conn.rate_used(rated, now) if rated else {}
    for g in groups:
        rule = rule_of[g]
        room = math.inf
        if rule.concurrency is not None:
            room = rule.concurrency - running[g]
        if rule.rate_limit is not None:
            room = min(room, rule.rate_limit - used.get(g, 0))
        left[g] = room


def _running(conn: FlowConnection, groups: list[str], rule_of: dict[str, FlowRule]
             ) -> Counter[str]:
    """Running attempts per group (read only if one of ``groups`` caps concurrency)."""
    running = Counter[str]()
    if any(rule_of[g].concurrency is not None for g in groups):
        jobs = sorted({parse_group(g)[1] for g in groups if g.startswith("j")})
        queues = sorted({parse_group(g)[1] for g in groups if g.startswith("q")})
        for job, queue, key in conn.running(jobs, queues):
            running[job_group(job, key)] += 1
            running[queue_group(queue)] += 1
    return running


def fits(conn: FlowConnection, rules: Rules, taken: Iterable[tuple[str, str, str | None]],
         now: float) -> bool:
    """Do jobs taken in this transaction as a plain claim would (the first due, in claim
    order) keep every limit? Then they are exactly what :func:`pick` would have chosen.
    They count as running already; their starts are not recorded yet."""
    starts = Counter[str]()
    rule_of: dict[str, FlowRule] = {}
    groups_of: dict[tuple[str, str, str | None], list[str]] = {}
    for job, queue, key in taken:
        groups = groups_of.get((job, queue, key))
        if groups is None:
            pairs = rules.groups(Candidate(0, job, queue, key))
            rule_of.update(pairs)
            groups = groups_of[(job, queue, key)] = [g for g, _ in pairs]
        starts.update(groups)
    if not rule_of:
        return True
    groups = sorted(rule_of)
    running = _running(conn, groups, rule_of)
    rated = [g for g in groups if rule_of[g].rate_limit is not None]
    used = conn.rate_used(rated, now) if rated else {}
    return all(
        (rule.concurrency is None or running[g] <= rule.concurrency)
        and (rule.rate_limit is None or used.get(g, 0) + starts[g] <= rule.rate_limit)
        for g, rule in rule_of.items()
    )


def _exclude(skip: Exclusions, full: set[str]) -> None:
    for g in full:
        kind, name, key = parse_group(g)
        if kind == "queue":
            if name not in skip.queues:
                skip.queues.append(name)
        elif (entry := f"{name}{SEP}{key or ''}") not in skip.job_keys:
            skip.job_keys.append(entry)


def starts_of(rules: Rules, taken: Iterable[tuple[str, str, str | None]], now: float
              ) -> list[tuple[str, float, int, float]]:
    """Rate bucket rows for the jobs taken: (group, bucket, count, expires_at)."""
    counts = Counter[tuple[str, float]]()
    for job, queue, key in taken:
        rule = rules.jobs.get(job)
        if rule is not None and rule.rate_period:
            counts[(job_group(job, key), rule.rate_period)] += 1
        rule = rules.queues.get(queue)
        if rule is not None and rule.rate_period:
            counts[(queue_group(queue), rule.rate_period)] += 1
    rows = []
    for (group, period), n in sorted(counts.items()):
        bucket, expires = bucket_of(now, period)
        rows.append((group, bucket, n, expires))
    return rows


def placeholders(values: Sequence[Any], mark: str = "?") -> str:
    return ", ".join(mark for _ in values) or "NULL"
