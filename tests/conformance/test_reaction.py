"""Reaction and QuickDapp semantics, as users of those systems expect them (SPEC §2, §3, §6)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from tests.conformance.helpers import drain

DAY = 86400.0


def _noop(data: Any = None) -> None: ...


def test_cancel_jobs_matching_a_schedules_next_occurrence_ends_the_schedule(
    app: Conveyor,
) -> None:
    app.job("sync")(_noop)
    kept = app.schedule_job("sync", {"shop_id": 2}, schedule="every 5 minutes")
    ended = app.schedule_job("sync", {"shop_id": 1}, schedule="every 5 minutes")
    assert app.cancel_jobs(type="sync", data={"shop_id": 1}) == 1
    record = app.get_job(ended.id)
    assert record is not None and record.state == "cancelled"
    [left] = app.schedules()
    assert left.next_run == kept.id
    drain(app)  # maintenance does not bring the cancelled schedule back
    assert [r.id for r in app.jobs_list(job="sync", state="scheduled")] == [kept.id]


def test_cancel_repeats_keeps_the_replaced_occurrence_as_cancelled(app: Conveyor) -> None:
    app.job("report")(_noop)
    first = app.schedule_job("report", {"n": 1}, schedule="every day", cancel_repeats=True)
    second = app.schedule_job("report", {"n": 2}, schedule="every hour", cancel_repeats=True)
    old = app.get_job(first.id)
    assert old is not None and old.state == "cancelled"
    assert [s.text for s in app.schedules()] == ["every hour"]
    assert app.get_job(second.id).state == "scheduled"  # type: ignore[union-attr]


def test_replace_keeps_the_replaced_one_off_job_as_cancelled(app: Conveyor) -> None:
    app.job("mail")(_noop)
    first = app.jobs["mail"]({"to": 1}).run_in(1, "hour", replace=True)
    second = app.jobs["mail"]({"to": 2}).run_in(1, "hour", replace=True)
    assert app.get_job(first.id).state == "cancelled"  # type: ignore[union-attr]
    assert app.get_job(second.id).state == "scheduled"  # type: ignore[union-attr]


def test_schedule_job_without_key_is_identified_by_type_text_and_data(app: Conveyor) -> None:
    app.job("digest")(_noop)
    handles = [app.schedule_job("digest", {"team": 1}, schedule="every day at 9:00")
               for _ in range(3)]
    assert len({h.id for h in handles}) == 1
    assert len(app.schedules()) == 1
    # a changed option updates that same schedule; other data or text adds another
    app.schedule_job("digest", {"team": 1}, schedule="every day at 9:00", priority="high")
    assert len(app.schedules()) == 1
    assert app.jobs_list(job="digest", state="scheduled")[0].priority == 10
    app.schedule_job("digest", {"team": 2}, schedule="every day at 9:00")
    app.schedule_job("digest", {"team": 1}, schedule="every day at 10:00")
    assert len(app.schedules()) == 3
    assert app.count(job="digest", state="scheduled") == 3


def test_schedule_job_without_data_gives_a_job_that_needs_one_an_empty_object(
    app: Conveyor,
) -> None:
    got: list[Any] = []

    @app.job
    def needs(data: Any) -> None:
        got.append(data)

    @app.job
    def optional(data: Any = None) -> None:
        got.append(("optional", data))

    app.schedule_job(type="needs")
    app.schedule_job(type="optional")
    drain(app)
    assert sorted(got, key=repr) == sorted([{}, ("optional", None)], key=repr)


def test_a_reaction_worker_triggered_without_data_gets_an_empty_object(app: Conveyor) -> None:
    """``job.data.get(...)`` works as in Reaction, however the job was triggered (it
    was None: the worker failed with AttributeError)."""
    seen: list[Any] = []
    app.add_worker(type="syncAll", worker=lambda job: seen.append(job.data))
    scheduled = app.schedule_job(type="syncAll")
    app.jobs["syncAll"]().run_now()
    drain(app)
    assert seen == [{}, {}]
    assert app.get_job(scheduled.id).payload == {}  # type: ignore[union-attr]


@pytest.mark.parametrize("spelling", ["purge_after_days", "purgeAfterDays"])
def test_a_cleanup_policy_purges_jobs_finished_before_it_was_included(
    store_url: str, spelling: str,
) -> None:
    if store_url == "memory://":
        pytest.skip("two apps cannot share a memory:// store")
    producer = Conveyor(store_url)
    consumer = Conveyor(store_url)
    try:
        producer.job("save-image/local")(_noop)
        consumer.job("save-image/local")(_noop)
        old = producer.jobs["save-image/local"]().run_now()  # before any policy exists
        drain(consumer)
        consumer.include(SimpleNamespace(
            jobs={"save-image/remote": _noop},
            cleanup=[{"type": "save-image/local", spelling: 0},
                     {"type": "save-image/remote", spelling: 7}],
        ))
        kept = consumer.jobs["save-image/remote"]().run_now()
        drain(consumer)  # the worker stores the policies
        assert producer.store.cleanup_policies() == {
            "save-image/local": 0.0, "save-image/remote": 7 * DAY}
        later = producer.jobs["save-image/local"]().run_now()  # another process's job
        drain(consumer)
        producer.purge(expired=True)
        assert producer.get_job(old.id) is None and producer.get_job(later.id) is None
        assert producer.get_job(kept.id) is not None
    finally:
        producer.close()
        consumer.close()


def test_a_cleanup_policy_spares_jobs_finished_more_recently(app: Conveyor) -> None:
    app.include(SimpleNamespace(jobs={"thumb": _noop},
                                cleanup=[{"type": "thumb", "purgeAfterDays": 1}]))
    handle = app.jobs["thumb"]().run_now()
    drain(app)
    assert app.purge(expired=True) == 0
    assert app.get_job(handle.id) is not None
    app.store.save_cleanup({"thumb": 0.0})  # as if the policy became "0 days"
    time.sleep(0.01)
    assert app.purge(expired=True) == 1


def test_a_bad_cleanup_policy_says_what_is_accepted(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="purgeAfterDays"):
        app.include(SimpleNamespace(jobs={}, cleanup=[{"type": "x", "purgeAfterDays": "7"}]))


def test_io_logger_log_is_info(app: Conveyor) -> None:
    @app.job
    async def chatty(payload: Any, io: Any) -> None:
        await io.logger.log("hello", n=1)

    handle = chatty(None).run_now()
    drain(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed"
    assert [(g.level, g.message) for g in record.logs] == [("info", "hello n=1")]


@pytest.mark.parametrize("version", ["1.2", "v1.2.0", "1.2.0.0", "01.2.0", "latest", 3])
def test_a_version_that_is_not_semver_is_refused_at_definition(
    app: Conveyor, version: Any,
) -> None:
    with pytest.raises(ConfigurationError, match=r"invalid version .*accepted: a semantic"):
        app.job("versioned", version=version)(_noop)
    assert "versioned" not in [d.id for d in app.jobs]


@pytest.mark.parametrize("version", ["1.2.0", "2.0.0-beta.1", "1.0.0+build.5", "0.0.1-rc.1+x"])
def test_semver_versions_are_accepted(app: Conveyor, version: str) -> None:
    definition = app.job("versioned", version=version)(_noop)
    assert definition.version == version


def test_retrying_a_finished_run_keeps_its_earlier_attempts(app: Conveyor) -> None:
    outcomes = iter([None, ValueError("second time fails")])

    @app.job
    def flip() -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    handle = flip().run_now()
    drain(app)
    assert app.retry(handle.id)
    drain(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "failed"
    assert [a.number for a in record.history] == [1, 2]
    assert record.history[0].error is None and record.history[0].finished_at is not None
    assert record.history[1].error["message"] == "second time fails"  # type: ignore[index]
    assert record.attempts == 2 and record.max_attempts >= record.attempts


def test_attempts_never_exceed_max_attempts_in_a_record(app: Conveyor) -> None:
    from conveyor import RetryIn

    calls: list[int] = []

    @app.job
    def again(meta: Any) -> None:
        calls.append(meta.attempt)
        if meta.attempt == 1:
            raise RetryIn(0)

    handle = again().run_now()
    drain(app)
    record = app.get_job(handle.id)
    assert record is not None and record.state == "completed" and calls == [1, 2]
    assert (record.attempts, record.max_attempts) == (2, 2)


def test_add_worker_returns_a_handle_that_pauses_resumes_and_stops(app: Conveyor) -> None:
    if not hasattr(app, "pause"):
        pytest.skip("job pausing is not in this build yet")
    seen: list[Any] = []
    handle = app.add_worker(type="ship", worker=lambda job: seen.append(job.data))
    assert handle.type == "ship" and handle.id == "ship"
    handle.pause()
    app.schedule_job("ship", {"n": 1})
    drain(app)
    assert seen == [] and handle.paused
    handle.resume()
    drain(app)
    assert seen == [{"n": 1}]
    handle.stop()
    app.schedule_job("ship", {"n": 2})
    drain(app)
    assert seen == [{"n": 1}]
    with pytest.raises(ConfigurationError, match="stopped"):
        handle.resume()
