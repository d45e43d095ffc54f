"""§3/§4 dedupe by key and owner, option values at their extremes, cancelling by data,
the order of due jobs, and queries with edge-case filters and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def _note(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("note")
    def note(payload=None, **kwargs):  # type: ignore[no-untyped-def]
        return payload

    return note


def test_replace_is_scoped_to_key_and_owner(app: Conveyor) -> None:
    note = _note(app)
    mine = note(1).run_in(1, "hour", key="k", owner=7)
    theirs = note(2).run_in(1, "hour", key="k", owner=8)
    other_key = note(3).run_in(1, "hour", key="other", owner=7)
    newer = note(4).run_in(1, "hour", key="k", owner=7, replace=True)
    states = {h.id: record_of(app, h.id).state for h in (mine, theirs, other_key, newer)}
    assert states == {
        mine.id: "cancelled",
        theirs.id: "scheduled",
        other_key.id: "scheduled",
        newer.id: "scheduled",
    }


def test_owner_given_as_int_or_text_is_one_owner_for_dedupe(app: Conveyor) -> None:
    note = _note(app)
    first = note(1).run_in(1, "hour", key="k", owner=42)
    again = note(2).run_in(1, "hour", key="k", owner="42", unique=True)
    assert again.id == first.id
    assert app.count(job="note") == 1


def test_unique_returns_the_pending_one_but_not_a_finished_one(app: Conveyor) -> None:
    note = _note(app)
    first = note("a").run_now(key="once", unique=True)
    assert note("b").run_now(key="once", unique=True).id == first.id
    run_until_idle(app)
    fresh = note("c").run_now(key="once", unique=True)
    assert fresh.id != first.id
    run_until_idle(app)
    assert fresh.result(timeout=5) == "c"


def test_replace_with_no_key_cancels_every_pending_job_of_that_id_keyed_or_not(
    app: Conveyor,
) -> None:
    note = _note(app)
    olds = [note(i).run_in(1, "day", key=key) for i, key in enumerate([None, "a", "b"])]
    run_until_idle(app)
    newest = note("new").run_now(replace=True)
    assert [record_of(app, h.id).state for h in olds] == ["cancelled"] * 3
    assert record_of(app, newest.id).state == "queued"


def test_replace_leaves_finished_jobs_alone(app: Conveyor) -> None:
    note = _note(app)
    done = note("done").run_now(key="k")
    run_until_idle(app)
    note("next").run_now(key="k", replace=True)
    assert record_of(app, done.id).state == "completed"


@pytest.mark.parametrize("key", ["", " ", "ключ/🔑?&=#", "x" * 1000, "'; DROP TABLE x; --"])
def test_odd_keys_are_stored_and_match_exactly(app: Conveyor, key: str) -> None:
    note = _note(app)
    first = note(1).run_in(1, "hour", key=key)
    same = note(2).run_in(1, "hour", key=key, unique=True)
    near = note(3).run_in(1, "hour", key=key + "!", unique=True)
    assert same.id == first.id and near.id != first.id
    assert record_of(app, first.id).key == key
    assert [r.id for r in app.jobs_list(key=key)] == [first.id]


@pytest.mark.parametrize("priority", [2**31, -(2**31) - 1, 2**63, 10**30])
def test_an_extreme_int_priority_is_stored_or_refused_clearly(app: Conveyor, priority: int) -> None:
    note = _note(app)
    try:
        handle = note().run_now(priority=priority)
    except ValueError as error:
        assert str(priority) in str(error)
        assert app.count() == 0
    else:
        assert int(record_of(app, handle.id).priority) == priority


def test_an_unknown_priority_name_lists_the_names(sqlite_app: Conveyor) -> None:
    note = _note(sqlite_app)
    with pytest.raises(ValueError) as caught:
        note().run_now(priority="urgent")
    for name in ("urgent", "low", "normal", "medium", "high", "critical"):
        assert name in str(caught.value)


def test_due_jobs_run_by_priority_then_oldest_due_first(app: Conveyor, clock: FakeClock) -> None:
    order: list[str] = []

    @app.job
    def record(name):  # type: ignore[no-untyped-def]
        order.append(name)

    record("due-last").run_in(30, "seconds")
    record("due-first").run_at(START - timedelta(hours=1))
    record("due-middle").run_now()
    record("urgent-but-late").run_in(45, "seconds", priority="critical")
    record("numeric-low").run_now(priority=-5)
    clock.advance(1, "minute")
    run_until_idle(app, concurrency=1)
    assert order == ["urgent-but-late", "due-first", "due-middle", "due-last", "numeric-low"]


def test_cancel_jobs_matches_nested_unicode_subsets_of_the_payload(app: Conveyor) -> None:
    note = _note(app)
    hit = note({"shop": {"id": 1, "name": "Café"}, "tags": ["a", "b"]}, dry_run=True).run_in(
        1, "h" + "our"
    )
    near = note({"shop": {"id": 1, "name": "Cafe"}}).run_in(1, "hour")
    listed = note({"shop": {"id": 1, "name": "Café"}, "tags": ["b"]}).run_in(1, "hour")
    kwargs_only = note(shop={"id": 1, "name": "Café"}).run_in(1, "hour")
    done = note({"shop": {"id": 1, "name": "Café"}}).run_now()
    run_until_idle(app)
    cancelled = app.cancel_jobs(type="note", data={"shop": {"name": "Café"}, "tags": ["b"]})
    assert cancelled == 2
    states = [record_of(app, h.id).state for h in (hit, near, listed, kwargs_only, done)]
    assert states == ["cancelled", "scheduled", "cancelled", "scheduled", "completed"]
    assert app.cancel_jobs(type="note", data={"shop": {"id": 1}}) == 2  # near, kwargs_only


def test_cancel_jobs_returns_zero_when_nothing_matches_and_refuses_an_unknown_state(
    app: Conveyor,
) -> None:
    note = _note(app)
    note(1).run_now()
    assert app.cancel_jobs(type="no-such-type") == 0
    assert app.cancel_jobs(type="note", state="completed") == 0
    with pytest.raises(ValueError) as caught:
        app.cancel_jobs(state="sleeping")
    assert "sleeping" in str(caught.value) and "scheduled" in str(caught.value)


def test_queries_refuse_an_unknown_state_naming_the_states(app: Conveyor) -> None:
    for query in (app.count, app.jobs_list):
        with pytest.raises(ValueError) as caught:
            query(state="done")
        assert "done" in str(caught.value) and "completed" in str(caught.value)


def test_pages_at_the_edges(app: Conveyor) -> None:
    note = _note(app)
    ids = [note(i).run_now().id for i in range(5)]
    assert app.jobs_list(limit=0) == []
    assert app.jobs_list(offset=5) == []
    assert app.jobs_list(offset=10**6, limit=3) == []
    assert [r.id for r in app.jobs_list(limit=2, offset=4)] == [ids[0]]
    assert [r.id for r in app.jobs_list(limit=10**6)] == ids[::-1]
    assert [r.id for r in app.jobs_list(newest_first=False, limit=2, offset=1)] == ids[1:3]


@pytest.mark.parametrize("bad", [{"limit": -1}, {"offset": -3}])
def test_negative_pages_are_refused(app: Conveyor, bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        app.jobs_list(**bad)  # type: ignore[arg-type]


def test_time_range_queues_and_state_lists_combine(app: Conveyor, clock: FakeClock) -> None:
    note = _note(app)
    early = note(1).run_now(queue="a")
    clock.advance(1, "hour")
    middle = note(2).run_in(1, "day", queue="b")
    clock.advance(1, "hour")
    late = note(3).run_now(queue="ü-queue")
    in_range = app.jobs_list(
        since=START + timedelta(minutes=30), until=START + timedelta(minutes=90)
    )
    assert [r.id for r in in_range] == [middle.id]
    assert app.count(queue=["a", "ü-queue"]) == 2
    assert app.count(state=["queued", "scheduled"], queue=["b", "ü-queue"]) == 2
    assert app.count(queue=[]) in (0, 3)  # an empty list: nothing, or no filter
    assert {r.id for r in app.jobs_list(state="queued")} == {early.id, late.id}
