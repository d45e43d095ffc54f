"""Leader-elected maintenance (conveyor.maintenance): one worker maintains, the others
write nothing for it, and a dead leader is replaced within one lease."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor import Conveyor
from conveyor.stores.base import NewJob

from .helpers import ManualClock, NewApp


def _counting(app: Conveyor) -> list[bool]:
    passes: list[bool] = []
    maintain = app.maintain

    def counted(store: Any, leader: bool) -> None:
        passes.append(leader)
        maintain(store, leader)

    app.maintain = counted  # type: ignore[method-assign]
    return passes


def test_only_the_leader_maintains(new_app: NewApp) -> None:
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=8, clock=clock)
    passes = _counting(app)
    first = app.maintenance_for(app.store, "worker-a")
    second = app.maintenance_for(app.store, "worker-b")
    assert first.run_once() is True
    for _ in range(3):
        assert second.run_once() is False
        assert first.run_once() is True
    assert passes == [True] * 4  # the follower never ran a pass


def test_a_dead_leader_is_replaced_within_one_lease(new_app: NewApp) -> None:
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=8, clock=clock)
    dead = app.maintenance_for(app.store, "worker-a")
    follower = app.maintenance_for(app.store, "worker-b")
    assert dead.run_once() is True and follower.run_once() is False
    # The leader dies now; the follower keeps trying on its own schedule.
    took_over = None
    for step in range(1, 41):
        clock.advance(seconds=0.25)
        if follower.run_once():
            took_over = step * 0.25
            break
    assert took_over is not None and took_over <= 8


def test_a_follower_does_not_rescue_but_the_leader_does(new_app: NewApp) -> None:
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=8, clock=clock)
    (job_id,) = app.store.insert([NewJob(job="task")])
    app.store.claim("gone-worker", None, 1, 1.0)
    leader = app.maintenance_for(app.store, "worker-a")
    follower = app.maintenance_for(app.store, "worker-b")
    assert leader.run_once() is True
    clock.advance(seconds=2)
    follower.run_once()
    record = app.get_job(job_id)
    assert record is not None and record.state == "running"
    leader.run_once()
    record = app.get_job(job_id)
    assert record is not None and record.state == "queued"
