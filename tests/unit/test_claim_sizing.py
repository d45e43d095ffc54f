"""How much a worker claims (conveyor.worker.claims.Sizing): slots, jobs held ahead
while jobs finish quickly, and when a completion flush claims along."""

from __future__ import annotations

from conveyor.worker.claims import GATHER, QUICK, Sizing


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
