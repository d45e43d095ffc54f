"""SPEC §4 — steering and finding: cancel_jobs by data, type, owner and key, cancel and retry
one job, jobs_list/count filters and the error naming an unknown one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, Fail, JobFailed, JobRecord, Retry
from conveyor.testing import FakeClock, enqueued, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


# -- cancel_jobs, cancel, retry ------------------------------------------------------------


def test_cancel_jobs_by_data_subset_type_owner_and_key(app: Conveyor) -> None:
    @app.job
    def sync_shop(data: dict[str, object]) -> None: ...

    @app.job
    def by_kwargs(*, shop_id: int, extra: str = "") -> None: ...

    a = sync_shop({"shop_id": 1, "ü": "x"}).run_in(1, "hour")
    b = sync_shop({"shop_id": 2}).run_now()
    c = by_kwargs(shop_id=1, extra="e").run_now()
    d = sync_shop({"shop_id": 1}).run_now(owner="alice", key="k1")
    assert app.cancel_jobs(data={"shop_id": 1}, owner="nobody") == 0
    assert app.cancel_jobs(type="sync_shop", data={"shop_id": 1}, owner="alice") == 1
    assert record_of(app, d.id).state == "cancelled"
    assert app.cancel_jobs(data={"shop_id": 1}) == 2
    assert {record_of(app, h.id).state for h in (a, c)} == {"cancelled"}
    assert record_of(app, b.id).state == "queued"
    assert app.cancel_jobs(key="nothing-like-it") == 0
    assert app.cancel_jobs(type="sync_shop", state="queued") == 1
    assert app.cancel_jobs() == 0  # nothing pending left


def test_the_payload_is_the_single_positional_argument_even_with_keywords(
    app: Conveyor,
) -> None:
    """Called with one positional argument, a job's payload is that argument, whatever
    keyword arguments come with it; only without one are the keywords the payload."""

    @app.job
    def sync_shop(data: dict[str, object], *, dry_run: bool = False) -> bool:
        return dry_run

    mixed = sync_shop({"shop_id": 1}, dry_run=True).run_in(1, "hour")
    other = sync_shop({"shop_id": 2}, dry_run=True).run_in(1, "hour")
    record = record_of(app, mixed.id)
    assert (record.args, record.kwargs) == ([{"shop_id": 1}], {"dry_run": True})
    assert [r.id for r in app.jobs_list(data={"shop_id": 1})] == [mixed.id]
    assert app.count(data={"dry_run": True}) == 0
    assert enqueued(app, sync_shop, shop_id=2) == [record_of(app, other.id)]
    assert app.cancel_jobs(data={"shop_id": 1}) == 1
    assert [record_of(app, h.id).state for h in (mixed, other)] == ["cancelled", "scheduled"]


def test_cancel_jobs_leaves_finished_jobs_alone(app: Conveyor) -> None:
    @app.job
    def noop(data: object) -> None: ...

    done = noop({"x": 1}).run_now()
    run_until_idle(app)
    assert app.cancel_jobs(type="noop") == 0
    assert record_of(app, done.id).state == "completed"


def test_cancel_data_matching_nested_subset(app: Conveyor) -> None:
    @app.job
    def nested(data: object) -> None: ...

    hit = nested({"shop": {"id": 5, "name": "Ω"}, "tags": ["a"]}).run_now()
    miss = nested({"shop": {"id": 6}}).run_now()
    assert app.cancel_jobs(data={"shop": {"id": 5}}) == 1
    assert record_of(app, hit.id).state == "cancelled"
    assert record_of(app, miss.id).state == "queued"


def test_cancel_one_and_retry_one(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job(retry=Retry(retries=0))
    def flaky(meta: object) -> int:
        calls.append(meta.attempt)  # type: ignore[attr-defined]
        if len(calls) == 1:
            raise RuntimeError("first")
        return len(calls)

    handle = flaky().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "failed"
    app.retry(handle.id)
    assert record_of(app, handle.id).state in ("queued", "scheduled")
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "completed" and record.result == 2
    assert record.attempts == 2

    pending = flaky().run_in(1, "day")
    app.cancel(pending.id)
    assert record_of(app, pending.id).state == "cancelled"
    with pytest.raises(JobFailed):
        pending.result(timeout=30)


# -- finding -------------------------------------------------------------------------------


def test_jobs_list_and_count_by_state_id_queue_and_owner(app: Conveyor) -> None:
    @app.job
    def one() -> None: ...

    @app.job
    def two() -> None:
        raise Fail("no")

    one().run_now(queue="q-ü", owner="o1")
    one().run_in(1, "hour", owner="o1")
    two().run_now()
    run_until_idle(app)
    assert app.count() == 3
    assert app.count(state="completed") == 1
    assert app.count(state="failed") == 1
    assert app.count(state="scheduled") == 1
    assert app.count(job="one") == 2
    assert app.count(queue="q-ü") == 1
    assert app.count(owner="o1") == 2
    assert app.count(owner="nobody") == 0
    assert app.count(job="no-such-job") == 0
    listed = app.jobs_list(state="failed")
    assert [r.job for r in listed] == ["two"]
    assert all(isinstance(r, JobRecord) for r in app.jobs_list())


def test_jobs_list_and_count_by_time_range(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START) as clock:
        early = noop().run_now()
        clock.advance(1, "hour")
        middle = noop().run_now()
        clock.advance(1, "hour")
        late = noop().run_now()
    window = {"since": START + timedelta(minutes=30), "until": START + timedelta(minutes=90)}
    assert [r.id for r in app.jobs_list(**window)] == [middle.id]
    assert app.count(**window) == 1
    assert app.count(since=START) == 3
    assert {r.id for r in app.jobs_list(until=START + timedelta(minutes=1))} == {early.id}
    assert late.id in {r.id for r in app.jobs_list(since=START + timedelta(hours=2))}


def test_an_unknown_query_filter_names_itself_and_the_accepted_ones(sqlite_app: Conveyor) -> None:
    for query in (sqlite_app.jobs_list, sqlite_app.count):
        with pytest.raises(TypeError) as caught:
            query(typ="resize")
        message = str(caught.value)
        assert "'typ'" in message
        for accepted in ("state", "job", "queue", "owner", "since", "until"):
            assert accepted in message
