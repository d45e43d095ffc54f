"""How much a worker claims (conveyor.worker.claims.Sizing): slots, jobs held ahead
while jobs finish quickly, and when a completion flush claims along."""

from __future__ import annotations

from conveyor.stores.base import ClaimedJob
from conveyor.worker.claims import AHEAD_CAP, AHEAD_WAIT, GATHER, MOST_AHEAD, QUICK, Sizing


def test_defaults_hold_twice_the_slots_ahead_except_for_one_slot() -> None:
    assert (Sizing(10, None, None).prefetch, Sizing(10, None, None).batch) == (20, 30)
    one = Sizing(1, None, None)
    assert (one.prefetch, one.low_water, one.batch) == (0, 0, 1)
    assert Sizing(4, 3, 5).batch == 5 and Sizing(4, -2, None).prefetch == 0


def test_jobs_are_claimed_ahead_only_while_they_finish_quickly() -> None:
    sizing = Sizing(2, None, None)
    assert sizing.wanted(holding=0, waiting=0) == 2  # no turnaround yet: slots only
    sizing.turnaround = QUICK / 2
    assert sizing.wanted(holding=0, waiting=0) == 6
    assert sizing.wanted(holding=3, waiting=1) == 3
    assert sizing.wanted(holding=6, waiting=2) == 0
    assert sizing.wanted(holding=4, waiting=3) == 0  # more than low_water wait
    sizing.turnaround = QUICK * 2
    assert sizing.wanted(holding=1, waiting=0) == 1


def test_turnaround_is_a_moving_average_of_claim_to_outcome() -> None:
    sizing = Sizing(2, None, None)
    sizing.finished(7)  # never claimed here: nothing counts
    assert sizing.turnaround is None
    sizing.since[7] = 0.0  # claimed long ago (monotonic 0)
    sizing.finished(7)
    assert sizing.turnaround is not None and sizing.turnaround > QUICK and not sizing.since


def test_a_flush_claims_along_when_held_or_for_half_a_batch() -> None:
    sizing = Sizing(10, None, None)
    assert sizing.flush_least(held=True, more_likely=False) == 1
    assert sizing.flush_least(held=False, more_likely=True) == 15
    assert sizing.flush_least(held=False, more_likely=False) == 0


def test_outcomes_wait_for_their_batch_only_while_jobs_finish_quickly() -> None:
    sizing = Sizing(10, None, None)
    assert sizing.gather() == 0.0  # no turnaround yet
    sizing.turnaround = 0.002
    assert sizing.gather() == 0.001  # half the turnaround
    sizing.turnaround = QUICK / 2
    assert sizing.gather() == GATHER
    sizing.turnaround = QUICK * 2  # slow jobs: a slot is not left idle for a batch
    assert sizing.gather() == 0.0


def _waited(*seconds: float) -> list[ClaimedJob]:
    return [ClaimedJob(i, "noop", "[]", "{}", 1, 1, 1, None, None, 0.0, 0.0, waited=s)
            for i, s in enumerate(seconds)]


def _quick(sizing: Sizing) -> Sizing:
    sizing.turnaround = QUICK / 10
    return sizing


def test_the_claim_size_adapts_only_without_explicit_sizes() -> None:
    assert Sizing(10, None, None).adaptive and Sizing(10, None, 0).adaptive
    assert not Sizing(10, 20, None).adaptive and not Sizing(10, None, 30).adaptive
    assert not Sizing(1, None, None).adaptive  # one slot: never claims ahead
    for fixed in (Sizing(10, 20, None), Sizing(10, None, 30)):
        _quick(fixed).took(full=True)
        assert (fixed.prefetch, fixed.batch) == (20, 30)


def test_full_claims_of_quick_jobs_that_start_at_once_grow_to_the_cap() -> None:
    sizing = _quick(Sizing(10, None, None))
    sizing.started(_waited(*[0.001] * 30))
    grown = []
    for _ in range(MOST_AHEAD):
        sizing.took(full=True)
        grown.append(sizing.prefetch)
    assert grown == [min(20 + 10 * i, MOST_AHEAD * 10) for i in range(1, MOST_AHEAD + 1)]
    assert (sizing.batch, sizing.low_water) == (10 + MOST_AHEAD * 10, MOST_AHEAD * 5)
    assert sizing.wanted(holding=0, waiting=0) == 10 + MOST_AHEAD * 10
    assert Sizing(100, None, None).most == AHEAD_CAP  # and never past AHEAD_CAP jobs ahead
    assert Sizing(200, None, None).most == 400  # (nor under the least)


def test_the_claim_size_falls_back_at_once() -> None:
    def grown() -> Sizing:
        sizing = _quick(Sizing(10, None, None))
        for _ in range(3):
            sizing.took(full=True)
        assert sizing.prefetch == 50
        return sizing

    short = grown()
    short.took(full=False)  # the queue runs dry: the rest is left to other workers
    assert (short.prefetch, short.batch, short.low_water) == (20, 30, 10)
    slowed = grown()
    slowed.turnaround = QUICK * 2  # jobs are not quick any more
    slowed.took(full=True)
    assert slowed.prefetch == 20 and slowed.ahead() == 0
    stale = grown()
    stale.slow()  # jobs claimed ahead went back unstarted
    assert stale.prefetch == 20 and stale.ahead() == 0


def test_waits_between_the_marks_hold_the_claim_size() -> None:
    sizing = _quick(Sizing(10, None, None))
    sizing.took(full=True)
    sizing.started(_waited(*[1.5 * AHEAD_WAIT] * 40))  # average near 1.5 x AHEAD_WAIT
    assert AHEAD_WAIT < sizing.wait < 2 * AHEAD_WAIT
    sizing.took(full=True)
    assert sizing.prefetch == 30  # neither grows nor falls back
    sizing.started(_waited(*[0.0] * 40))
    sizing.took(full=True)
    assert sizing.prefetch == 40


def test_long_waits_for_a_slot_hold_one_concurrency_fewer_ahead_each_time() -> None:
    # Quick I/O-bound jobs that wait long for a slot settle between the marks instead of
    # falling back to the least at once (which made mostly small claims); the least and
    # the lease guarantee (START_WITHIN, AHEAD_PATIENCE) still bound what is held.
    sizing = _quick(Sizing(10, None, None))
    for _ in range(4):
        sizing.took(full=True)
    assert sizing.prefetch == 60
    shrunk = []
    for _ in range(6):
        sizing.started(_waited(*[2 * AHEAD_WAIT + 0.01] * 20))  # claimed jobs wait long
        shrunk.append(sizing.prefetch)
    assert shrunk == [50, 40, 30, 20, 20, 20]  # never under the least
    assert (sizing.batch, sizing.low_water) == (30, 10)
    sizing.took(full=True)  # still waiting long: no growth
    assert sizing.prefetch == 20
