"""SPEC §3 — triggering options: owner, retry, timeout, retention and the rest stored on the
record, dedupe by replace/unique, and the Reaction-style calls (schedule_job, cron,
add_worker)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conveyor import Conveyor, JobHandle
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 31, 10, 0, tzinfo=UTC)


# -- trigger options ---------------------------------------------------------------------------


def test_trigger_options_are_stored_on_the_record(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    handle = noop().run_now(priority="high", queue="exports-ü", key="clé 1", owner=42)
    record = app.get_job(handle.id)
    assert record is not None
    assert record.queue == "exports-ü"
    assert record.key == "clé 1"
    assert record.owner == 42 and isinstance(record.owner, int)  # read back as given
    assert record.priority == "high" and record.priority == 10
    high = record.priority
    low = app.get_job(noop().run_now(priority="low").id).priority  # type: ignore[union-attr]
    assert high != low



def test_owner_zero_and_none_both_mean_system(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    zero = app.get_job(noop().run_now(owner=0).id)
    none = app.get_job(noop().run_now(owner=None).id)
    default = app.get_job(noop().run_now().id)
    assert zero is not None and none is not None and default is not None
    assert zero.owner == none.owner == default.owner



def test_retry_option_on_the_trigger(app: Conveyor) -> None:
    from conveyor import Retry

    @app.job
    def always_fails() -> None:
        raise RuntimeError("boom")

    handle = always_fails().run_now(retry=Retry(retries=2, wait=0))
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None
    assert record.state == "failed"
    assert record.attempts == 3
    assert record.max_attempts == 3
    assert len(record.history) == 3



def test_timeout_option_on_the_trigger_fails_a_slow_attempt(app: Conveyor) -> None:
    import asyncio

    @app.job
    async def slow() -> None:
        await asyncio.sleep(5)

    handle = slow().run_now(timeout=0.1)
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None
    assert record.state == "failed"
    assert record.error is not None



def test_retention_and_remove_delay_options_on_the_trigger(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START) as clock:
        kept = noop().run_now(retention="1 hour")
        removed = noop().run_now(remove_delay="10 minutes")
        default = noop().run_now()
        run_until_idle(app, clock)
        clock.advance(9, "minutes")
        run_until_idle(app, clock)
        assert app.get_job(removed.id) is not None
        # purged by the worker's retention upkeep (hourly; SPEC gives no precision)
        clock.advance(2, "hours")
        run_until_idle(app, clock)
        assert app.get_job(removed.id) is None
        assert app.get_job(kept.id) is None
        assert app.get_job(default.id) is not None



# -- dedupe ------------------------------------------------------------------------------------


def test_replace_cancels_pending_jobs_of_the_same_id_key_and_owner(app: Conveyor) -> None:
    @app.job
    def sync_shop(shop: int) -> None: ...

    old1 = sync_shop(1).run_in(1, "hour", key="shop-1")
    old2 = sync_shop(1).run_now(key="shop-1")
    other_key = sync_shop(2).run_now(key="shop-2")
    other_owner = sync_shop(1).run_now(key="shop-1", owner=7)
    new = sync_shop(1).run_now(key="shop-1", replace=True)
    states = {h.id: app.get_job(h.id).state for h in (old1, old2, other_key, other_owner, new)}  # type: ignore[union-attr]
    assert states == {old1.id: "cancelled", old2.id: "cancelled", other_key.id: "queued",
                      other_owner.id: "queued", new.id: "queued"}



def test_replace_with_no_key_matches_every_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def tick(n: int) -> None: ...

    olds = [tick(n).run_now(key=k) for n, k in ((1, None), (2, "a"), (3, ""))]
    new = tick(4).run_now(replace=True)
    assert [app.get_job(h.id).state for h in olds] == ["cancelled"] * 3  # type: ignore[union-attr]
    assert app.get_job(new.id).state == "queued"  # type: ignore[union-attr]



def test_replace_leaves_finished_jobs_alone(app: Conveyor) -> None:
    @app.job
    def tick() -> None: ...

    done = tick().run_now(key="k")
    run_until_idle(app)
    tick().run_now(key="k", replace=True)
    assert app.get_job(done.id).state == "completed"  # type: ignore[union-attr]



def test_unique_returns_the_existing_pending_job(app: Conveyor) -> None:
    @app.job
    def tick(n: int) -> None: ...

    first = tick(1).run_in(5, "minutes", key="only")
    second = tick(2).run_now(key="only", unique=True)
    assert second.id == first.id
    assert app.count() == 1
    other = tick(3).run_now(key="another", unique=True)
    assert other.id != first.id
    run_until_idle(app)
    # nothing pending any more: unique stores a new one
    third = tick(4).run_now(key="another", unique=True)
    assert third.id != other.id



def test_unique_with_no_key_matches_any_pending_job_of_the_id(app: Conveyor) -> None:
    @app.job
    def tick(n: int) -> None: ...

    first = tick(1).run_now(key="x")
    assert tick(2).run_now(unique=True).id == first.id



# -- Reaction-style calls ----------------------------------------------------------------------


def test_schedule_job_delivers_data_as_the_single_positional_argument(app: Conveyor) -> None:
    seen: list[object] = []

    @app.job("someJob")
    def some_job(data: object) -> None:
        seen.append(data)

    handle = app.schedule_job(
        type="someJob", data={"shop_id": 1, "név": "ő"},
        retry={"retries": 5, "wait": 60000, "backoff": "exponential"}, priority="normal",
    )
    assert isinstance(handle, JobHandle)
    run_until_idle(app)
    assert seen == [{"shop_id": 1, "név": "ő"}]



def test_schedule_job_with_a_schedule_stores_a_scheduled_occurrence(app: Conveyor) -> None:
    @app.job("nightly")
    def nightly(data: object) -> None: ...

    handle = app.schedule_job(type="nightly", data={}, schedule="every day", cancel_repeats=True)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"
    again = app.schedule_job(type="nightly", data={}, schedule="every day", cancel_repeats=True)
    pending = [r for r in app.jobs_list(job="nightly") if r.state == "scheduled"]
    assert [r.id for r in pending] == [again.id]



def test_schedule_cron_job_stores_a_scheduled_occurrence_with_its_owner(app: Conveyor) -> None:
    @app.job("report")
    def report(data: object) -> None: ...

    handle = app.schedule_cron_job("report", "*/5 * * * *", data={"x": 1}, owner="u-1")
    record = app.get_job(handle.id)
    assert record is not None
    assert record.state == "scheduled"
    assert record.owner == "u-1"
    assert record.run_at.minute % 5 == 0 and record.run_at.second == 0



def test_add_worker_gets_schedule_job_data(app: Conveyor) -> None:
    seen: list[object] = []

    def handle_it(job: object) -> None:
        seen.append((job.type, job.data))  # type: ignore[attr-defined]
        job.done("fine")  # type: ignore[attr-defined]

    app.add_worker(type="someUniqueJobType", worker=handle_it)
    handle = app.schedule_job(type="someUniqueJobType", data={"a": [1, 2]})
    run_until_idle(app)
    assert seen == [("someUniqueJobType", {"a": [1, 2]})]
    assert app.get_job(handle.id).state == "completed"  # type: ignore[union-attr]



def test_schedule_job_refuses_both_a_schedule_and_a_run_at(sqlite_app: Conveyor) -> None:
    @sqlite_app.job("report")
    def report(data: object) -> None: ...

    with pytest.raises(ValueError, match="not both"):
        sqlite_app.schedule_job(type="report", data={}, schedule="every day",
                                run_at=datetime(2031, 1, 1, tzinfo=UTC))
    assert sqlite_app.count(job="report") == 0



@pytest.mark.parametrize("option", ["replace", "unique"])
@pytest.mark.parametrize("value", ["no", "yes", "False", 2, 1.0, [True]])
def test_replace_and_unique_refuse_what_is_not_true_or_false(
    sqlite_app: Conveyor, option: str, value: object
) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError, match=option):
        noop().run_now(**{option: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=option):
        sqlite_app.schedule_job(type="noop", schedule="every day", **{option: value})
    assert sqlite_app.count() == 0



def test_cancel_repeats_refuses_a_string(sqlite_app: Conveyor) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError, match="cancel_repeats"):
        sqlite_app.schedule_job(type="noop", cancel_repeats="no")  # type: ignore[arg-type]
