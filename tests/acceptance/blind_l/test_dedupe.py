"""§3 dedupe: ``replace=`` / ``unique=`` with keys, owners, delays, and cancellation."""

from __future__ import annotations

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def _report(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("report")
    def report(account, period="day"):  # type: ignore[no-untyped-def]
        return f"{account}/{period}"

    return report


def test_unique_with_a_key_returns_the_pending_job_across_delays(
    app: Conveyor, clock: FakeClock
) -> None:
    report = _report(app)
    first = report(7).run_in(1, "hour", key="acct-7", unique=True)
    again = report(7, period="week").run_in(5, "minutes", key="acct-7", unique=True)
    other_key = report(7).run_in(1, "hour", key="acct-8", unique=True)
    assert again.id == first.id
    assert other_key.id != first.id
    assert record_of(app, first.id).kwargs == {}, "the kept job is unchanged"
    assert app.count(job="report") == 2


def test_replace_cancels_the_pending_one_and_stores_the_new(
    app: Conveyor, clock: FakeClock
) -> None:
    report = _report(app)
    delayed = report(7).run_in(1, "day", key="acct-7")
    due = report(7).run_now(key="acct-7")
    newest = report(7, period="week").run_now(key="acct-7", replace=True)
    assert {record_of(app, h.id).state for h in (delayed, due)} == {"cancelled"}
    assert record_of(app, newest.id).state == "queued"
    run_until_idle(app)
    assert newest.result(timeout=30) == "7/week"


def test_dedupe_leaves_other_owners_and_finished_jobs_alone(
    app: Conveyor, clock: FakeClock
) -> None:
    report = _report(app)
    done = report(1).run_now(key="k", owner=42)
    run_until_idle(app)
    mine = report(1).run_in(1, "hour", key="k", owner=42)
    theirs = report(1).run_in(1, "hour", key="k", owner="u-2")
    system = report(1).run_in(1, "hour", key="k")
    assert report(1).run_now(key="k", owner="42", unique=True).id == mine.id
    replaced = report(1).run_now(key="k", owner=42, replace=True)
    assert record_of(app, mine.id).state == "cancelled"
    assert record_of(app, done.id).state == "completed"
    assert record_of(app, theirs.id).state == "scheduled"
    assert record_of(app, system.id).state == "scheduled"
    assert record_of(app, replaced.id).owner == 42
    assert record_of(app, theirs.id).owner == "u-2"
    assert record_of(app, system.id).owner is None


def test_without_a_key_dedupe_matches_every_pending_job_of_the_id(
    app: Conveyor, clock: FakeClock
) -> None:
    report = _report(app)
    keyed = report(1).run_in(1, "hour", key="a")
    plain = report(2).run_in(2, "hours")
    assert report(3).run_now(unique=True).id in {keyed.id, plain.id}
    fresh = report(4).run_now(replace=True)
    assert record_of(app, keyed.id).state == "cancelled"
    assert record_of(app, plain.id).state == "cancelled"
    assert app.count(job="report", state=["scheduled", "queued"]) == 1
    assert report(5).run_now(unique=True).id == fresh.id


def test_after_a_cancel_unique_stores_a_new_job(app: Conveyor, clock: FakeClock) -> None:
    report = _report(app)
    first = report(1).run_in(1, "hour", key="x", unique=True)
    assert app.cancel(first.id) is True
    second = report(1).run_in(1, "hour", key="x", unique=True)
    assert second.id != first.id
    assert record_of(app, second.id).state == "scheduled"


def test_unique_job_that_ran_is_not_pending_any_more(app: Conveyor, clock: FakeClock) -> None:
    report = _report(app)
    first = report(1).run_now(key="x", unique=True)
    run_until_idle(app)
    second = report(1).run_now(key="x", unique=True)
    assert second.id != first.id


def test_cancel_jobs_by_key_and_owner(app: Conveyor, clock: FakeClock) -> None:
    report = _report(app)
    report(1).run_in(1, "hour", key="a", owner=1)
    report(2).run_in(1, "hour", key="a", owner=2)
    report(3).run_in(1, "hour", key="b", owner=1)
    report(4).run_now(owner=1)
    assert app.cancel_jobs(key="a", owner="1") == 1
    assert app.cancel_jobs(owner=1, state="queued") == 1
    assert app.count(state="cancelled") == 2
    assert app.cancel_jobs(type="report") == 2
    assert app.cancel_jobs(type="report") == 0
