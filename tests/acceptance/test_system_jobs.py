"""SPEC §4 — ``jobs_list`` / ``count`` / ``cancel_jobs`` are about the user's jobs: the
retention cleanup conveyor schedules for itself (once something can expire, or events were
sent) is left out unless asked for by name, and cancelling "everything" does not end it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle

PURGE = "conveyor.purge"
START = datetime(2031, 5, 1, 9, tzinfo=UTC)


def test_a_retention_app_lists_and_counts_only_the_users_jobs(
    open_app: Callable[..., Conveyor]
) -> None:
    app = open_app(retention="7 days")

    @app.job
    def noop() -> None: ...

    handles = [noop().run_now() for _ in range(2)]
    with FakeClock(app, start=START) as clock:
        run_until_idle(app, clock=clock)
    assert app.count() == 2
    assert sorted(r.id for r in app.jobs_list()) == sorted(h.id for h in handles)
    assert app.count(state="scheduled") == 0
    counts = app.counts()
    assert (counts["scheduled"], counts["completed"]) == (0, 2)  # counts() agrees
    [default] = app.queues()
    assert (default.counts["scheduled"], default.counts["completed"]) == (0, 2)  # queues()
    assert app.count(job=PURGE, state="scheduled") == 1  # there, when asked for by name


def test_an_event_sent_twice_leaves_one_run_and_nothing_else(
    open_app: Callable[..., Conveyor]
) -> None:
    app = open_app()

    @app.job(trigger=app.event("user.created"))
    async def welcome(payload: dict[str, int], io: object) -> int:
        return payload["id"]

    for _ in range(2):
        app.send_event("user.created", {"id": 7}, id="evt-1")
    run_until_idle(app)
    assert [(r.job, r.state, r.result) for r in app.jobs_list()] == [
        ("welcome", "completed", 7)]
    assert app.count() == 1


def test_cancel_jobs_of_everything_leaves_the_retention_schedule_running(
    open_app: Callable[..., Conveyor]
) -> None:
    app = open_app(retention="1 hour")

    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START) as clock:
        done = noop().run_now()
        run_until_idle(app, clock=clock)
        later = noop().run_in(1, "day")
        assert app.cancel_jobs() == 1
        assert app.get_job(later.id).state == "cancelled"  # type: ignore[union-attr]
        clock.advance(2, "hours")
        run_until_idle(app, clock=clock)
    assert app.get_job(done.id) is None  # the cleanup still ran
