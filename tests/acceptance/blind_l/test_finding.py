"""§4 finding: get_job shapes, jobs_list / count by every documented filter, and
cancel_jobs by payload subset and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START

STATES = {"scheduled", "queued", "running", "waiting", "completed", "failed", "cancelled"}


def _jobs(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("ok", queue="fast", version="2.1.0")
    def ok(x, **extra):  # type: ignore[no-untyped-def]
        return {"got": x, "extra": extra}

    @app.job("broken")
    def broken(x):  # type: ignore[no-untyped-def]
        raise ValueError(f"bad {x}")

    return ok, broken


def test_record_shape_after_a_run(app: Conveyor, clock: FakeClock) -> None:
    ok, _ = _jobs(app)
    handle = ok({"k": [1, 2]}, flag=True).run_now(key="kk", owner=9, priority="high")
    clock.advance(3, "seconds")
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.id, record.job, record.state) == (handle.id, "ok", "completed")
    assert (record.args, record.kwargs) == ([{"k": [1, 2]}], {"flag": True})
    assert (record.queue, record.key, record.owner) == ("fast", "kk", 9)
    assert record.priority == "high"
    assert record.result == {"got": {"k": [1, 2]}, "extra": {"flag": True}}
    assert record.error is None and record.version == "2.1.0"
    assert (record.attempts, record.max_attempts) == (1, 1)
    assert record.rescheduled_from is None
    assert record.created_at == START and record.run_at == START
    assert record.started_at == record.finished_at == START + timedelta(seconds=3)
    for moment in (record.created_at, record.run_at, record.started_at, record.finished_at):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
    assert isinstance(record.logs, list) and len(record.history) == 1
    assert app.get_job(handle) is not None, "a handle is accepted too"


def test_every_listed_state_is_a_documented_name(app: Conveyor, clock: FakeClock) -> None:
    ok, broken = _jobs(app)
    ok(1).run_in(1, "hour")
    ok(2).run_now()
    broken(3).run_now()
    run_until_idle(app)
    ok(4).run_now()
    app.cancel(ok(5).run_in(1, "day").id)
    states = {record.state for record in app.jobs_list()}
    assert states == {"scheduled", "queued", "completed", "failed", "cancelled"}
    assert states <= STATES
    assert sum(app.count(state=state) for state in STATES) == app.count() == 5


def test_filters_by_state_job_queue_owner_key(app: Conveyor, clock: FakeClock) -> None:
    ok, broken = _jobs(app)
    a = ok(1).run_now(owner=1, key="one")
    b = ok(2).run_now(owner="1", queue="slow")
    c = broken(3).run_now(owner=2)
    d = broken(4).run_in(1, "hour")
    run_until_idle(app)

    def ids(**filters: object) -> set[int]:
        found = {record.id for record in app.jobs_list(**filters)}
        assert app.count(**filters) == len(found), filters
        return found

    assert ids(state="failed") == {c.id}
    assert ids(state=["completed", "scheduled"]) == {a.id, b.id, d.id}
    assert ids(job="broken") == {c.id, d.id}
    assert ids(job=["ok", "broken"]) == {a.id, b.id, c.id, d.id}
    assert ids(queue="fast") == {a.id}
    assert ids(queue=["slow", "default"]) == {b.id, c.id, d.id}
    assert ids(owner=1) == {a.id, b.id}
    assert ids(owner="2") == {c.id}
    assert ids(owner=None) == {d.id}
    assert ids(key="one") == {a.id}
    assert ids(job="ok", state="failed") == set()
    assert ids(job="nobody") == set()


def test_time_range_and_order(app: Conveyor, clock: FakeClock) -> None:
    ok, _ = _jobs(app)
    created = []
    for n in range(4):
        created.append(ok(n).run_now().id)
        clock.advance(1, "hour")
    assert [r.id for r in app.jobs_list()] == created[::-1]
    assert [r.id for r in app.jobs_list(newest_first=False)] == created
    window = {
        "since": START + timedelta(minutes=30), "until": START + timedelta(hours=2, minutes=30),
    }
    assert {r.id for r in app.jobs_list(**window)} == set(created[1:3])
    assert app.count(**window) == 2
    naive_since = datetime(2030, 1, 7, 10, 30)  # UTC app: naive means UTC
    assert {r.id for r in app.jobs_list(since=naive_since)} == {created[3]}
    paris = datetime(2030, 1, 7, 10, 30, tzinfo=UTC).astimezone()
    assert app.count(until=paris) == 3
    page = app.jobs_list(limit=2, offset=1)
    assert [r.id for r in page] == created[::-1][1:3]


def test_cancel_jobs_by_payload_subset(app: Conveyor, clock: FakeClock) -> None:
    ok, _ = _jobs(app)
    deep = ok({"shop": {"id": 1, "tags": ["a", "b"]}, "n": 1}).run_in(1, "hour")
    other = ok({"shop": {"id": 2, "tags": ["a"]}, "n": 1}).run_in(1, "hour")
    by_kwargs = ok(x=1, shop_id=1).run_now()
    assert app.cancel_jobs(data={"shop": {"tags": ["b"]}}) == 1
    assert record_of(app, deep.id).state == "cancelled"
    assert app.cancel_jobs(type="ok", data={"shop_id": 1}) == 1
    assert record_of(app, by_kwargs.id).state == "cancelled"
    assert app.cancel_jobs(data={"shop": {"id": 2}}, state="queued") == 0
    assert app.cancel_jobs(data={"shop": {"id": 2}}, state="scheduled") == 1
    assert record_of(app, other.id).state == "cancelled"


def test_unicode_and_odd_job_ids_round_trip(app: Conveyor, clock: FakeClock) -> None:
    @app.job("résumé/𝔘nicode job ✓")
    def fancy(text):  # type: ignore[no-untyped-def]
        return text[::-1]

    handle = app.jobs["résumé/𝔘nicode job ✓"]("日本語 ✓").run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.job == "résumé/𝔘nicode job ✓"
    assert record.result == "✓ 語本日"
    assert app.count(job="résumé/𝔘nicode job ✓", state="completed") == 1
    assert fancy("ab").run_now().id != handle.id
