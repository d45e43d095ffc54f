"""Blind acceptance tests of SPEC §4 (running, failing, finding); every store."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta
from typing import Any

import pytest

from conveyor import (
    Conveyor,
    Fail,
    Retry,
    RetryIn,
)
from tests.acceptance.blind_core.support import (
    ODD_VALUES,
    START,
    due,
    error_text,
    field,
    record,
)
from tests.conformance.helpers import ManualClock, drain


def test_results_and_arguments_round_trip(app: Conveyor) -> None:
    @app.job
    def echo(x: Any) -> Any:
        return x

    handles = [echo(value).run_now() for value in ODD_VALUES]
    drain(app)
    for value, handle in zip(ODD_VALUES, handles, strict=True):
        assert handle.result(timeout=30) == value
        rec = record(app, handle)
        assert rec.result == value
        assert list(rec.args) == [value]


def test_states_through_a_life(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    later, ok, bad, gone = (job(False).run_in(1, "ms"), job(False).run_now(),
                            job(True).run_now(), job(False).run_now())
    capp.cancel(gone.id)
    assert record(capp, later).state == "scheduled"
    assert record(capp, ok).state == "queued"
    drain(capp)
    assert [record(capp, h).state for h in (later, ok, bad, gone)] == [
        "scheduled", "completed", "failed", "cancelled"]


def test_every_datetime_is_aware_utc(app: Conveyor) -> None:
    @app.job
    def job() -> None:
        raise ValueError("x")

    handle = job().run_now(retry=Retry(retries=1, wait=0))
    drain(app)
    rec = record(app, handle)
    stamps = [rec.run_at, rec.created_at, rec.started_at, rec.finished_at]
    for attempt in rec.history:
        stamps += [field(attempt, "started_at"), field(attempt, "finished_at")]
    assert all(s is not None and s.utcoffset() == timedelta(0) for s in stamps)


def test_an_exception_stores_type_message_and_traceback_per_attempt(app: Conveyor) -> None:
    @app.job
    def job(meta: Any) -> None:
        raise LookupError(f"attempt {meta.attempt} ✗")

    handle = job().run_now(retry=Retry(retries=2, wait=timedelta(0)))
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts, rec.max_attempts) == ("failed", 3, 3)
    assert isinstance(rec.attempts, int)
    assert [field(a, "number") for a in rec.history] == [1, 2, 3]
    assert [str(field(field(a, "error"), "message")) for a in rec.history] == [
        "attempt 1 ✗", "attempt 2 ✗", "attempt 3 ✗"]
    assert "LookupError" in str(field(rec.error, "type"))
    assert "raise LookupError" in str(field(rec.error, "traceback"))


@pytest.mark.parametrize(("retry", "delays"), [
    (Retry(retries=4, wait=10, backoff="fixed"), [10, 10, 10, 10]),
    (Retry(retries=4, wait="10 seconds", backoff="linear"), [10, 20, 30, 40]),
    (Retry(retries=4, wait=timedelta(seconds=10), backoff="exponential"), [10, 20, 40, 80]),
    (Retry(retries=4, wait=10, backoff="exponential", max_wait="25 seconds"), [10, 20, 25, 25]),
    (Retry(retries=2, wait=0.25, backoff="linear"), [0.25, 0.5]),
], ids=["fixed", "linear", "exponential", "capped", "fractional"])
def test_retry_backoff_delays(capp: Conveyor, clock: ManualClock, retry: Retry,
                              delays: list[float]) -> None:
    @capp.job
    def job() -> None:
        raise RuntimeError("again")

    handle = job().run_now(retry=retry)
    seen: list[float] = []
    for _ in delays:
        drain(capp)
        rec = record(capp, handle)
        assert rec.state == "scheduled"
        seen.append((due(capp, handle) - clock.now()).total_seconds())
        clock.at = due(capp, handle)
    drain(capp)
    assert seen == delays
    assert record(capp, handle).state == "failed"


def test_jitter_stays_within_a_quarter(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job() -> None:
        raise RuntimeError("again")

    handles = [job().run_now(retry=Retry(retries=1, wait=100, jitter=True)) for _ in range(12)]
    drain(capp)
    delays = {(due(capp, h) - clock.now()).total_seconds() for h in handles}
    assert all(75 <= d <= 125 for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize("options", [
    {"retries": -1}, {"backoff": "quadratic"}, {"wait": -5}, {"wait": "soon"},
    {"wait": math.nan}, {"max_wait": -1},
], ids=repr)
def test_an_invalid_retry_is_a_value_error(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Retry(**options)


def test_an_unknown_priority_is_a_value_error(app: Conveyor) -> None:
    @app.job
    def job() -> None: ...

    for priority in ["urgent", "", "HIGHEST"]:
        with pytest.raises(ValueError):
            job().run_now(priority=priority)
    assert app.count() == 0


def test_fail_stops_retries_and_retry_in_reschedules(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def final() -> None:
        raise Fail("pourquoi ✗")

    @capp.job
    def later(meta: Any) -> int:
        if meta.attempt == 1:
            raise RetryIn(30)
        return int(meta.attempt)

    failed = final().run_now(retry=Retry(retries=9, wait=0))
    moved = later().run_now()
    drain(capp)
    assert (record(capp, failed).state, record(capp, failed).attempts) == ("failed", 1)
    assert "pourquoi ✗" in error_text(capp, failed)
    rec = record(capp, moved)
    assert (rec.state, rec.run_at) == ("scheduled", START + timedelta(seconds=30))
    clock.advance(seconds=30)
    drain(capp)
    assert moved.result(timeout=30) == 2


def test_a_timed_out_attempt_fails_and_is_retried(app: Conveyor) -> None:
    @app.job
    async def slow(meta: Any) -> str:
        if meta.attempt == 1:
            await asyncio.sleep(30)
        return "second"

    handle = slow().run_now(timeout=0.2, retry=Retry(retries=1, wait=0))
    drain(app)
    rec = record(app, handle)
    assert (rec.state, rec.attempts, rec.result) == ("completed", 2, "second")


def test_get_job_of_an_unknown_id_is_none(app: Conveyor) -> None:
    for unknown in ["", "no-such-id", "ü" * 300, "00000000-0000-0000-0000-000000000000",
                    "1; DROP TABLE jobs", "9" * 40, -1, 2**70]:
        assert app.get_job(unknown) is None, unknown  # type: ignore[arg-type]


def test_cancel_jobs_by_payload_subset(app: Conveyor) -> None:
    @app.job
    def sync(payload: Any) -> None: ...

    @app.job
    def by_kwargs(shop_id: int, name: str) -> None: ...

    sync({"shop_id": 1, "name": "ä"}).run_now()
    sync({"shop_id": 1, "tags": ["x"]}).run_in(1, "day")
    sync({"shop_id": 2}).run_now()
    sync({"shop_id": "1"}).run_now()
    sync({"shop_id": 1.5}).run_now()
    kw = by_kwargs(shop_id=1, name="b").run_now()
    assert app.cancel_jobs(data={"shop_id": 1}) == 3
    assert record(app, kw).state == "cancelled"
    assert app.cancel_jobs(data={"shop_id": 1}) == 0
    assert app.count(state="queued") == 3


def test_cancel_jobs_filters_combine_and_skip_finished(app: Conveyor) -> None:
    @app.job
    def job(x: Any) -> None: ...

    @app.job
    def other(x: Any) -> None: ...

    done = job({"u": "ü"}).run_now(owner="o")
    drain(app)
    job({"u": "ü"}).run_now(owner="o", key="k")
    job({"u": "ü"}).run_now(owner="p", key="k")
    other({"u": "ü"}).run_now(owner="o", key="k")
    assert app.cancel_jobs(type="job", owner="o", key="k", data={"u": "ü"}) == 1
    assert app.cancel_jobs(type="job", state="completed") == 0
    assert record(app, done).state == "completed"


def test_retry_of_a_failed_job_runs_it_again(app: Conveyor) -> None:
    flaky = {"fail": True}

    @app.job
    def job() -> str:
        if flaky["fail"]:
            raise RuntimeError("once")
        return "ok"

    handle = job().run_now()
    drain(app)
    assert record(app, handle).state == "failed"
    flaky["fail"] = False
    assert app.retry(handle.id)
    drain(app)
    assert handle.result(timeout=30) == "ok"
    assert len(record(app, handle).history) == 2


def test_jobs_list_and_count_filter(app: Conveyor) -> None:
    @app.job
    def job(n: int) -> None: ...

    for n in range(25):
        job(n).run_now(queue="q-é" if n % 2 else "default", owner=f"o{n % 3}")
    assert app.count() == 25
    assert app.count(queue="q-é") == 12
    assert app.count(owner="o0") == 9
    assert len(app.jobs_list(state="queued", queue="q-é")) == 12
    assert app.count(state="completed") == 0


def test_priorities_by_name_and_int_then_oldest_first(capp: Conveyor,
                                                      clock: ManualClock) -> None:
    order: list[str] = []

    @capp.job
    def job(name: str) -> None:
        order.append(name)

    for name, priority in [("low", "low"), ("normal1", "normal"), ("crit", "critical"),
                           ("medium", "medium"), ("normal2", "normal"), ("high", "high")]:
        job(name).run_now(priority=priority)
        clock.advance(milliseconds=1)
    drain(capp, concurrency=1)
    assert order == ["crit", "high", "medium", "normal1", "normal2", "low"]


def test_retention_purges_finished_jobs(capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    def job(fail: bool) -> None:
        if fail:
            raise ValueError("x")

    kept = job(False).run_now(retention="7 days")
    failed = job(True).run_now(retention="7 days")
    removed = job(False).run_now(remove_delay="1 hour")
    pending = job(False).run_in(30, "days", retention="1 day")
    drain(capp)
    clock.advance(hours=2)
    capp.purge(expired=True)
    assert capp.get_job(removed.id) is None
    assert capp.get_job(kept.id) is not None
    clock.advance(days=7)
    capp.purge(expired=True)
    assert capp.get_job(kept.id) is None
    assert capp.get_job(failed.id) is None
    assert capp.get_job(pending.id) is not None
