"""flowlogic.pick: how many peeks a limited claim makes, and when a look past full groups
(whose cost grows with their backlog) is skipped because a recent one found nothing;
flowlogic.fits: when jobs taken as a plain claim would take them keep every limit."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from conveyor.stores import flowlogic
from conveyor.stores.base_flow import FlowRule
from conveyor.stores.flowlogic import (
    PEEK,
    Candidate,
    Exclusions,
    Lookout,
    Rules,
    fits,
    job_group,
    parse_group,
    pick,
    queue_group,
)


class Jobs:
    """A FlowConnection over due jobs in memory, counting peeks."""

    def __init__(self, jobs: list[Candidate]) -> None:
        self.jobs = jobs
        self.peeks: list[int] = []  # the size of each peek
        self.busy: list[tuple[str, str, str | None]] = []  # attempts running
        self.used: dict[str, int] = {}  # starts in the rate window, per group

    def peek(self, queues: Sequence[str] | None, skip: Exclusions, limit: int
             ) -> list[Candidate]:
        self.peeks.append(limit)
        keys = set(skip.job_keys)
        return [c for c in self.jobs
                if c.job not in skip.jobs and c.queue not in skip.queues
                and f"{c.job}{flowlogic.SEP}{c.key or ''}" not in keys][:limit]

    def claim(self, rules: Rules, want: int, lookout: Lookout) -> list[int]:
        ids, _ = pick(self, rules, None, want, lookout)
        self.jobs = [c for c in self.jobs if c.id not in ids]
        return ids

    def lock(self, groups: Sequence[str], wait: bool) -> set[str]:
        return set(groups)

    def now(self) -> float:
        return 1000.0

    def running(self, jobs: Sequence[str], queues: Sequence[str]
                ) -> list[tuple[str, str, str | None]]:
        return [r for r in self.busy if r[0] in jobs or r[1] in queues]

    def rate_used(self, groups: Sequence[str], now: float) -> dict[str, int]:
        return {g: n for g, n in self.used.items() if g in groups}

    def record_starts(self, rows: Sequence[tuple[str, float, int, float]]) -> None: ...


def _backlog(n: int, job: str = "capped", start: int = 1) -> list[Candidate]:
    return [Candidate(i, job, "default", None) for i in range(start, start + n)]


RULES = Rules.of([FlowRule("job", "capped", 1, None, None, False)])


def test_a_full_group_is_looked_past_once_then_trusted_for_a_while() -> None:
    conn = Jobs(_backlog(3 * PEEK))
    lookout = Lookout()
    assert conn.claim(RULES, 10, lookout) == [1]
    assert len(conn.peeks) == 2  # the first peek, then one past the full group: nothing
    conn.busy = [("capped", "default", None)]
    conn.peeks.clear()
    assert conn.claim(RULES, 10, lookout) == []
    assert len(conn.peeks) == 1  # the look past it is not repeated


def test_the_look_past_is_repeated_when_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = Jobs(_backlog(3 * PEEK))
    lookout = Lookout()
    monkeypatch.setattr(flowlogic, "DEEP_EVERY", 0.0)
    pick(conn, RULES, None, 10, lookout)
    conn.jobs.append(Candidate(10_000, "other", "default", None))
    conn.busy = [("capped", "default", None)]
    assert conn.claim(RULES, 10, lookout) == [10_000]


def test_a_look_that_found_work_is_not_trusted_to_find_none() -> None:
    conn = Jobs([*_backlog(2 * PEEK), Candidate(10_000, "other", "default", None)])
    lookout = Lookout()
    assert conn.claim(RULES, 10, lookout) == [1, 10_000]
    conn.jobs.append(Candidate(10_001, "other", "default", None))
    conn.busy = [("capped", "default", None)]
    assert conn.claim(RULES, 10, lookout) == [10_001]


def test_fewer_full_groups_than_the_empty_look_skipped_means_looking_again() -> None:
    rules = Rules.of([FlowRule("job", "capped", 1, None, None, False),
                      FlowRule("job", "narrow", 1, None, None, False)])
    conn = Jobs([*_backlog(1, "narrow"), *_backlog(2 * PEEK, start=2)])
    lookout = Lookout()
    assert conn.claim(rules, 10, lookout) == [1, 2]  # then nothing past both groups
    conn.busy = [("capped", "default", None)]  # "narrow" has room, "capped" is full
    conn.jobs.append(Candidate(10_000, "other", "default", None))
    assert conn.claim(rules, 10, lookout) == [10_000]


def test_without_full_groups_a_claim_looks_further_for_its_whole_batch() -> None:
    rules = Rules.of([FlowRule("job", "capped", None, 1_000_000, 1.0, False)])
    conn = Jobs(_backlog(3 * PEEK))
    ids, _ = pick(conn, rules, None, 250, Lookout())
    assert ids == list(range(1, 251))
    assert conn.peeks == [PEEK, 250]  # the second from the top again: no keyset here


def test_taken_jobs_fit_while_every_limit_holds_with_them_counted() -> None:
    rules = Rules.of([FlowRule("job", "capped", 3, None, None, False),
                      FlowRule("queue", "slow", None, 5, 60.0, False)])
    conn = Jobs([])
    taken = [("capped", "default", None)] * 3
    conn.busy = list(taken)  # taken in this transaction: running already
    assert fits(conn, rules, taken, 1000.0)
    conn.busy.append(("capped", "default", None))  # one more ran before
    assert not fits(conn, rules, taken, 1000.0)
    starts = [("other", "slow", None)] * 2
    conn.used = {flowlogic.queue_group("slow"): 3}
    assert fits(conn, rules, starts, 1000.0)
    conn.used = {flowlogic.queue_group("slow"): 4}
    assert not fits(conn, rules, starts, 1000.0)
    assert fits(conn, rules, [("free", "default", None)] * 100, 1000.0)  # no limit met


def test_a_plain_take_that_broke_a_limit_is_not_tried_again_for_a_while(
        monkeypatch: pytest.MonkeyPatch) -> None:
    lookout = Lookout()
    assert lookout.optimistic()
    lookout.miss()
    assert not lookout.optimistic()
    monkeypatch.setattr(flowlogic, "DEEP_EVERY", 0.0)
    assert lookout.optimistic()


def test_room_for_a_peek_more_makes_a_plain_take_worth_trying() -> None:
    lookout = Lookout()
    lookout.miss()
    conn = Jobs(_backlog(5))
    conn.busy = [("capped", "default", None)]
    pick(conn, RULES, None, 10, lookout)  # "capped" (1 at a time) is full
    assert not lookout.optimistic()
    rules = Rules.of([FlowRule("job", "capped", 1 + PEEK, None, None, False)])
    pick(conn, rules, None, 3, lookout)  # PEEK - 3 free slots left
    assert not lookout.optimistic()
    rules = Rules.of([FlowRule("job", "capped", 4 + PEEK, None, None, False)])
    pick(conn, rules, None, 3, lookout)  # PEEK free slots left
    assert lookout.optimistic()


@pytest.mark.parametrize("key", [None, "shop-7", "a\x1fb", "\x1f", "x\x1fy\x1fz"])
def test_a_group_name_gives_back_its_job_and_whole_key(key: str | None) -> None:
    assert parse_group(job_group("sync", key)) == ("job", "sync", key)
    assert parse_group(queue_group("exports")) == ("queue", "exports", None)
