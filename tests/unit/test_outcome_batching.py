"""Outcomes of quick jobs go with the next claim rather than in a transaction of their
own (Outbox.taken_within), and lane threads wake the event loop for more jobs only when
it has no store call in flight (ThreadLane.exchanging)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from conveyor.stores.base import ClaimedJob, Outcome
from conveyor.worker.lanes import Slots, ThreadLane
from conveyor.worker.meta import Buffer
from conveyor.worker.outbox import Outbox


def _job(job_id: int) -> ClaimedJob:
    return ClaimedJob(job_id, "quick", "[]", "{}", 1, 7, 1, None, None, 0.0, 0.0)


def _outcome(job_id: int) -> Outcome:
    return Outcome(job_id, 7, "completed", 0.0)


def _outbox() -> Outbox:
    return Outbox(Buffer(), None)  # type: ignore[arg-type]  # (observers: told on send only)


def test_outcomes_left_for_the_claim_are_taken_by_it() -> None:
    async def scenario() -> bool:
        outbox = _outbox()
        outbox.add(_job(1), _outcome(1), None)
        waiting = asyncio.ensure_future(outbox.taken_within(60.0, 10))
        await asyncio.sleep(0)
        outbox.outcomes, outbox.finished = [], []  # what a send does first
        outbox.went.set()
        return await waiting

    assert asyncio.run(scenario()) is True


def test_outcomes_stop_waiting_once_they_make_a_batch_or_the_wait_is_over() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        outbox = _outbox()
        outbox.add(_job(1), _outcome(1), None)
        waiting = asyncio.ensure_future(outbox.taken_within(60.0, 2))
        await asyncio.sleep(0)
        outbox.add(_job(2), _outcome(2), None)  # the batch is made: not taken, sent now
        enough = await waiting
        over = await outbox.taken_within(0.001, 10)
        none = await outbox.taken_within(0.0, 10)  # slow jobs: no wait at all
        return enough, over, none

    assert asyncio.run(scenario()) == (False, False, False)


class _Runner:
    def __init__(self) -> None:
        self.errors: dict[int, BaseException] = {}

    def thread_native(self, job: ClaimedJob) -> bool:
        return True

    def run_in_thread(self, job: ClaimedJob) -> Outcome:
        return _outcome(job.id)


class _Refill:
    low_water = 100  # always hungry for more


@pytest.mark.parametrize("exchanging", [False, True])
def test_a_hungry_lane_wakes_the_loop_only_without_a_store_call_in_flight(
    exchanging: bool,
) -> None:
    slots = Slots(1)
    done_at_wake: list[int] = []
    woken = threading.Event()
    lane: ThreadLane

    def wake() -> None:
        done_at_wake.append(len(lane.done))
        woken.set()

    lane = ThreadLane(10, _Runner(), slots, set(), wake, _Refill())  # type: ignore[arg-type]
    lane.exchanging = lambda: exchanging
    slots.ready.extend(_job(i) for i in (2, 3, 4))
    slots.running = 1
    lane.put(_job(1))
    assert woken.wait(10)
    # In flight, the claim's return is what brings more jobs: the lane runs every job
    # waiting and wakes the loop as it goes idle; otherwise at the first outcome.
    assert done_at_wake == ([4] if exchanging else [1])
    lane.close()
