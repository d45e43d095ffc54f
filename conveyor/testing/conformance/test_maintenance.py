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

    def counted(store: Any, leader: bool, full: bool = True) -> None:
        passes.append(leader)
        maintain(store, leader, full)

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


class _Spy:
    """A store that counts the calls made through it (by method name)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attr(*args, **kwargs)
        return call


def _passes(app: Conveyor, clock: ManualClock, holder: str, steps: int) -> _Spy:
    """``steps`` maintenance passes of ``holder``, a quarter second of app clock apart."""
    spy = _Spy(app.store)
    duty = app.maintenance_for(spy, holder)
    for _ in range(steps):
        duty.run_once()
        clock.advance(seconds=0.25)
    return spy


def test_an_idle_follower_writes_nothing_but_its_tries_for_the_lead(new_app: NewApp) -> None:
    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=8, clock=clock)
    assert app.maintenance_for(app.store, "worker-a").run_once() is True
    follower = _passes(app, clock, "worker-b", 32)  # 8 s: one lease
    # Only a try for the lead every quarter lease (2 s): no rescue, no schedules, no
    # events, no retention checks.
    assert set(follower.calls) == {"try_lead"}
    assert 4 <= len(follower.calls) <= 5


def test_an_idle_leader_renews_its_lead_and_runs_slow_services_on_intervals(
    new_app: NewApp,
) -> None:
    from conveyor.maintenance import SLOW_PASSES

    clock = ManualClock(datetime(2031, 1, 1, tzinfo=UTC))
    app = new_app(lease=8, clock=clock)
    leader = _passes(app, clock, "worker-a", 4 * SLOW_PASSES)  # 40 passes over 10 s
    assert leader.calls.count("rescue") == 4 * SLOW_PASSES  # every pass
    assert 5 <= leader.calls.count("try_lead") <= 6  # renewed every quarter lease (2 s)
    assert leader.calls.count("schedule_gaps") == 4  # every SLOW_PASSES-th pass
