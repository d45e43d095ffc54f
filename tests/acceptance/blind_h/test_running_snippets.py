"""SPEC §4 taken literally, then varied: every spelling of Retry's ``wait`` and
``backoff``, Fail/RetryIn imported from conveyor, each keyword of cancel_jobs, and the
types of a JobRecord's fields read back."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

import conveyor
from conveyor import Attempt, Conveyor, Fail, JobRecord, Retry, RetryIn
from tests.acceptance.blind_core.support import START, due, field, record
from tests.conformance.helpers import ManualClock, drain

WAITS: list[Any] = [60, 60.0, timedelta(minutes=1), "1 minute", "60 seconds"]


def utc(value: datetime | None) -> bool:
    return value is not None and value.utcoffset() == timedelta(0)


def test_every_spelling_of_wait_delays_the_retry_alike(capp: Conveyor) -> None:
    handles = []
    for i, wait in enumerate(WAITS):
        @capp.job(f"flaky-{i}", retry=Retry(retries=1, wait=wait))
        def flaky() -> None:
            raise RuntimeError("again")

        handles.append(flaky().run_now())
    drain(capp)
    for handle in handles:
        rec = record(capp, handle)
        assert (rec.state, rec.attempts) == ("scheduled", 1)
        assert due(capp, handle) == START + timedelta(minutes=1)


@pytest.mark.parametrize(("backoff", "delays"), [
    ("fixed", [10, 10, 10, 10]), ("linear", [10, 20, 25, 25]),
    ("exponential", [10, 20, 25, 25])])
def test_each_backoff_capped_by_max_wait(capp: Conveyor, clock: ManualClock, backoff: str,
                                         delays: list[int]) -> None:
    @capp.job(retry=Retry(retries=4, wait=10, backoff=backoff, max_wait=25, jitter=False))
    def flaky() -> None:
        raise RuntimeError("again")

    handle = flaky().run_now()
    seen = []
    for _ in delays:
        drain(capp)
        before = clock.now()
        seen.append((due(capp, handle) - before).total_seconds())
        clock.advance(seconds=seen[-1])
    assert seen == delays
    drain(capp)
    rec = record(capp, handle)
    assert (rec.state, rec.attempts, rec.max_attempts) == ("failed", 5, 5)
    assert [attempt.number for attempt in rec.history] == [1, 2, 3, 4, 5]


def test_jitter_spreads_each_delay_within_a_quarter(capp: Conveyor) -> None:
    @capp.job(retry=Retry(retries=1, wait=100, jitter=True))
    def flaky() -> None:
        raise RuntimeError("again")

    handles = [flaky().run_now() for _ in range(12)]
    drain(capp)
    delays = {(due(capp, h) - START).total_seconds() for h in handles}
    assert all(75 <= delay <= 125 for delay in delays)
    assert len(delays) > 1


@pytest.mark.parametrize("call", [lambda: Fail("why"), lambda: conveyor.Fail("why")])
def test_fail_fails_for_good_despite_retries(app: Conveyor, call: Any) -> None:
    @app.job(retry=Retry(retries=3, wait=0))
    async def job() -> None:
        raise call()

    handle = job().run_now()
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts) == ("failed", 1)
    assert field(rec.error, "message") == "why"


@pytest.mark.parametrize("delay", [30, 30.0, timedelta(seconds=30)])
def test_retry_in_reschedules_explicitly(capp: Conveyor, delay: Any) -> None:
    @capp.job
    def job(meta: Any) -> int:
        if meta.attempt == 1:
            raise conveyor.RetryIn(delay)
        return meta.attempt

    handle = job().run_now()
    drain(capp)
    assert record(capp, handle).state == "scheduled"
    assert due(capp, handle) == START + timedelta(seconds=30)
    assert RetryIn is conveyor.RetryIn


def test_record_fields_and_their_types_after_a_retried_run(capp: Conveyor,
                                                            clock: ManualClock) -> None:
    @capp.job("typed", version="2.0.1", retry=Retry(retries=1, wait=5))
    def typed(a: Any, b: Any = None, *, meta: Any) -> dict[str, Any]:
        meta.log.info("attempt %s", meta.attempt)
        meta.progress(0.5, message="half")
        if meta.attempt == 1:
            raise ValueError("first try")
        return {"attempt": meta.attempt, "type": type(meta.attempt).__name__}

    handle = typed([1], b={"x": None}).run_now(key="k1", owner=3, queue="q", priority="low")
    drain(capp, queues=["q"])
    clock.advance(seconds=5)
    drain(capp, queues=["q"])
    rec = capp.get_job(handle.id)
    assert isinstance(rec, JobRecord)
    assert isinstance(rec.id, int) and rec.id == handle.id
    assert (rec.job, list(rec.args), rec.kwargs) == ("typed", [[1]], {"b": {"x": None}})
    assert (rec.state, rec.priority, rec.queue, rec.key, rec.owner) == (
        "completed", "low", "q", "k1", 3)
    assert type(rec.attempts) is int and (rec.attempts, rec.max_attempts) == (2, 2)
    assert rec.result == {"attempt": 2, "type": "int"}
    assert rec.version == "2.0.1"
    assert all(utc(when) for when in (rec.run_at, rec.created_at, rec.started_at,
                                      rec.finished_at))
    assert [type(a) for a in rec.history] == [Attempt, Attempt]
    first, second = rec.history
    assert (first.number, second.number) == (1, 2)
    assert all(utc(when) for when in (first.started_at, first.finished_at,
                                      second.started_at, second.finished_at))
    assert field(first.error, "type") == "ValueError"
    assert field(first.error, "message") == "first try"
    assert "ValueError" in field(first.error, "traceback")
    assert second.error is None
    assert [entry.message for entry in rec.logs] == ["attempt 1", "attempt 2"]
    assert all(utc(entry.at) for entry in rec.logs)


def test_an_unknown_id_is_none(app: Conveyor) -> None:
    assert app.get_job(123_456_789) is None


def sync_shop_job(app: Conveyor) -> Any:
    @app.job
    def sync_shop(data: Any = None, **payload: Any) -> None: ...

    return sync_shop


def pending_mix(sync_shop: Any) -> Any:
    sync_shop({"shop_id": 1, "x": 1}).run_in(1, "day", key="a", owner=7)
    sync_shop({"shop_id": 1, "x": 2}).run_now(key="b")
    sync_shop({"shop_id": 2}).run_in(1, "day", key="a", owner=7)
    sync_shop(shop_id=1).run_in(2, "days")
    return sync_shop


CANCEL_CASES: list[tuple[dict[str, Any], int]] = [
    ({}, 4), ({"type": "sync_shop"}, 4), ({"data": {"shop_id": 1}}, 3),
    ({"data": {"shop_id": 1, "x": 2}}, 1), ({"state": "scheduled"}, 3),
    ({"state": "queued"}, 1), ({"owner": 7}, 2), ({"key": "a"}, 2),
    ({"type": "sync_shop", "data": {"shop_id": 1}, "state": "scheduled", "owner": 7,
      "key": "a"}, 1), ({"type": "other"}, 0)]


def test_cancel_jobs_by_each_keyword(app: Conveyor) -> None:
    sync_shop = sync_shop_job(app)
    for filters, count in CANCEL_CASES:
        pending_mix(sync_shop)
        cancelled_before = app.count(state="cancelled")
        cancelled = app.cancel_jobs(**filters)
        assert type(cancelled) is int and cancelled == count, filters
        assert app.count(state="cancelled") == cancelled_before + count
        app.cancel_jobs()  # a clean slate: nothing pending for the next case


def test_cancel_jobs_positionally_and_leaves_finished_jobs(app: Conveyor) -> None:
    sync_shop = pending_mix(sync_shop_job(app))
    done = sync_shop({"shop_id": 1}).run_now(queue="other")
    drain(app, queues=["other"])
    assert app.cancel_jobs("sync_shop", {"shop_id": 1}) == 3
    assert record(app, done).state == "completed"


def test_cancel_and_retry_one_job(app: Conveyor) -> None:
    @app.job
    def job() -> str:
        return "ok"

    pending, finished = job().run_in(1, "day"), job().run_now()
    drain(app)
    app.cancel(pending.id)
    assert record(app, pending).state == "cancelled"
    app.retry(finished.id)
    assert record(app, finished).state in ("queued", "scheduled")
    drain(app)
    rec = record(app, finished)
    assert (rec.state, rec.attempts, rec.result) == ("completed", 2, "ok")


@pytest.mark.parametrize("names", [
    ["low", "normal", "medium", "high", "critical"], [-5, 0, 1, 2, 100]])
def test_priorities_by_name_or_int_higher_first(app: Conveyor, names: list[Any]) -> None:
    order: list[Any] = []

    @app.job
    async def job(p: Any) -> None:
        order.append(p)

    for priority in names:
        job(priority).run_now(priority=priority)
    drain(app, concurrency=1)
    assert order == list(reversed(names))


def test_meta_attempt_is_an_int_from_one_in_sync_and_async_jobs(app: Conveyor) -> None:
    @app.job
    def plain(meta: Any) -> Any:
        return [meta.attempt, type(meta.attempt).__name__]

    @app.job
    async def coro(meta: Any) -> Any:
        await asyncio.sleep(0)
        return [meta.attempt, type(meta.attempt).__name__]

    handles = [plain().run_now(), coro().run_now()]
    drain(app)
    assert [h.result(timeout=30) for h in handles] == [[1, "int"], [1, "int"]]


def test_meta_log_formats_its_arguments_as_logging_does(app: Conveyor) -> None:
    """A logger, so ``%``-style arguments read as in ``logging``: one mapping fills
    ``%(name)s`` fields; anything else fills positional ``%s`` fields."""

    def lines(log: Any) -> None:
        log.info("shop %(shop)s of %(owner)s", {"shop": 7, "owner": "ü"})
        log.warning("payload %s", {"shop": 7})
        log.error("%s and %d", "a", 2)
        log.info("100%")

    @app.job
    def plain(meta: Any) -> None:
        lines(meta.log)

    app.add_worker(type="reaction", worker=lambda job: lines(job.log))
    handles = [plain().run_now(), app.schedule_job(type="reaction", data={})]
    drain(app)
    for handle in handles:
        assert [(line.level, line.message) for line in record(app, handle).logs] == [
            ("info", "shop 7 of ü"), ("warning", "payload {'shop': 7}"),
            ("error", "a and 2"), ("info", "100%")]
