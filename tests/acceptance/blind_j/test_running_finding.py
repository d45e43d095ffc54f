"""SPEC §4: retry delays, attempt history, record fields, dedupe and cancel semantics,
finding and counting, on every store (time moved by a manual clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, RetryIn
from conveyor.testing import run_until_idle
from tests.acceptance.blind_core.support import START
from tests.acceptance.support import record_of


def failing_until_done(app: Conveyor, retry: Retry) -> tuple[Any, list[datetime]]:
    """A job that always fails and, for each attempt, the due time it started at."""
    starts: list[datetime] = []

    @app.job("flaky", retry=retry)
    def flaky(meta: Any) -> None:
        starts.append(meta.attempt)
        raise RuntimeError(f"attempt {meta.attempt}")

    return flaky, starts


def retry_delays(capp: Conveyor, clock: Any, retry: Retry, retries: int) -> list[float]:
    flaky, _ = failing_until_done(capp, retry)
    handle = flaky().run_now()
    delays = []
    for _ in range(retries):
        run_until_idle(capp)
        found = record_of(capp, handle.id)
        assert found.state == "scheduled" and found.run_at is not None
        delays.append((found.run_at - clock.now()).total_seconds())
        clock.advance(seconds=(found.run_at - clock.now()).total_seconds())
    run_until_idle(capp)
    assert record_of(capp, handle.id).state == "failed"
    return delays


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("fixed", [10, 10, 10, 10]),
        ("linear", [10, 20, 30, 40]),
        ("exponential", [10, 20, 40, 80]),
    ],
)
def test_the_kth_retry_waits_as_its_backoff_says(
    capp: Conveyor, clock: Any, backoff: str, expected: list[float]
) -> None:
    retry = Retry(retries=4, wait=10, backoff=backoff)
    assert retry_delays(capp, clock, retry, 4) == pytest.approx(expected, abs=0.01)


def test_max_wait_caps_each_delay_and_wait_takes_text(capp: Conveyor, clock: Any) -> None:
    retry = Retry(retries=4, wait="1 minute", backoff="exponential", max_wait=150)
    assert retry_delays(capp, clock, retry, 4) == pytest.approx([60, 120, 150, 150], abs=0.01)


def test_jitter_stays_within_a_quarter(capp: Conveyor, clock: Any) -> None:
    retry = Retry(retries=3, wait=timedelta(seconds=100), jitter=True)
    for delay in retry_delays(capp, clock, retry, 3):
        assert 75 - 0.01 <= delay <= 125 + 0.01


@pytest.mark.parametrize(
    "bad",
    [
        {"retries": -1},
        {"wait": -5},
        {"backoff": "quadratic"},
        {"wait": "soon"},
        {"max_wait": float("nan")},
        {"wait": float("inf")},
    ],
)
def test_a_bad_retry_policy_is_a_value_error(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Retry(**bad)


def test_attempts_history_and_error_fields(capp: Conveyor, clock: Any) -> None:
    flaky, attempts = failing_until_done(capp, Retry(retries=2, wait=5))
    handle = flaky().run_now()
    for _ in range(3):
        run_until_idle(capp)
        clock.advance(seconds=5)
    found = record_of(capp, handle.id)
    assert attempts == [1, 2, 3] and found.attempts == 3 and found.max_attempts == 3
    assert [a.number for a in found.history] == [1, 2, 3]
    assert all(a.error is not None and a.started_at.tzinfo is not None for a in found.history)
    assert found.error is not None
    text = str(found.error)
    assert "RuntimeError" in text and "attempt 3" in text
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_fail_stops_retrying_and_retry_in_reschedules(capp: Conveyor, clock: Any) -> None:
    @capp.job("gives-up", retry=Retry(retries=5, wait=1))
    def gives_up() -> None:
        raise Fail("no point")

    @capp.job("later", retry=Retry(retries=0))
    def later(meta: Any) -> str:
        if meta.attempt == 1:
            raise RetryIn(30)
        return "done"

    fail, again = gives_up().run_now(), later().run_now()
    run_until_idle(capp)
    assert record_of(capp, fail.id).state == "failed"
    assert record_of(capp, fail.id).attempts == 1
    waiting = record_of(capp, again.id)
    assert waiting.state == "scheduled" and waiting.run_at == START + timedelta(seconds=30)
    clock.advance(seconds=30)
    run_until_idle(capp)
    assert record_of(capp, again.id).result == "done"


def test_a_fresh_record_has_its_documented_defaults(capp: Conveyor) -> None:
    @capp.job("plain")
    def plain(x: int, y: int = 0) -> int:
        return x + y

    handle = plain(1, y=2).run_now()
    found = record_of(capp, handle.id)
    assert (found.job, found.args, found.kwargs, found.state) == ("plain", [1], {"y": 2}, "queued")
    assert (found.queue, found.key, found.attempts, found.result) == ("default", None, 0, None)
    assert found.owner in (None, 0) and found.started_at is None and found.finished_at is None
    assert found.created_at.tzinfo is not None and found.run_at == START
    assert found.history == [] and found.error is None
    run_until_idle(capp)
    done = record_of(capp, handle.id)
    assert (done.state, done.result, done.attempts) == ("completed", 3, 1)
    assert done.started_at is not None and done.finished_at is not None
    assert done.finished_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("unknown", ["nope", 10**30, -1, "", "\x00"])
def test_an_unknown_id_is_none(app: Conveyor, unknown: Any) -> None:
    assert app.get_job(unknown) is None


def test_replace_cancels_pending_jobs_of_the_same_key_only(app: Conveyor) -> None:
    @app.job("sync")
    def sync(shop: int) -> None: ...

    a = sync(1).run_in(1, "hour", key="s1")
    b = sync(2).run_in(1, "hour", key="s2")
    c = sync(3).run_in(1, "hour", key="s1", replace=True)
    states = {h.id: record_of(app, h.id).state for h in (a, b, c)}
    assert states == {a.id: "cancelled", b.id: "scheduled", c.id: "scheduled"}
    d = sync(4).run_in(1, "hour", replace=True)
    assert {record_of(app, h.id).state for h in (a, b, c)} == {"cancelled"}
    assert record_of(app, d.id).state == "scheduled"


def test_unique_returns_the_pending_job_and_stores_nothing(app: Conveyor) -> None:
    @app.job("once")
    def once(x: int) -> None: ...

    first = once(1).run_in(1, "day", key="k")
    again = once(2).run_now(key="k", unique=True)
    assert again.id == first.id and app.count() == 1
    other = once(3).run_now(key="other", unique=True)
    assert other.id != first.id and app.count() == 2


def test_unique_ignores_finished_jobs(app: Conveyor) -> None:
    @app.job("once")
    def once() -> None: ...

    first = once().run_now(key="k")
    run_until_idle(app)
    assert once().run_now(key="k", unique=True).id != first.id


def test_cancel_jobs_matches_a_payload_subset_and_counts(app: Conveyor) -> None:
    @app.job("shop-sync")
    def shop_sync(payload: dict[str, Any]) -> None: ...

    @app.job("kw-sync")
    def kw_sync(shop_id: int, deep: bool = False) -> None: ...

    shop_sync({"shop_id": 1, "deep": {"x": 1}}).run_in(1, "hour")
    shop_sync({"shop_id": 2}).run_in(1, "hour")
    kw_sync(shop_id=1).run_in(1, "hour")
    assert app.cancel_jobs(data={"shop_id": 3}) == 0
    assert app.cancel_jobs(type="shop-sync", data={"deep": {"x": 1}}) == 1
    assert app.cancel_jobs(data={"shop_id": 1}) == 1
    assert app.cancel_jobs(state="scheduled") == 1
    assert app.cancel_jobs() == 0


def test_cancel_of_a_finished_job_changes_nothing(app: Conveyor) -> None:
    @app.job("quick")
    def quick() -> int:
        return 1

    handle = quick().run_now()
    run_until_idle(app)
    app.cancel(handle.id)
    assert record_of(app, handle.id).state == "completed"
    assert app.cancel_jobs(type="quick") == 0


def test_retry_of_a_failed_job_runs_it_again(app: Conveyor) -> None:
    calls: list[int] = []

    @app.job("once-bad", retry=Retry(retries=0))
    def once_bad() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return "second"

    handle = once_bad().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "failed"
    app.retry(handle.id)
    run_until_idle(app)
    assert handle.result(timeout=30) == "second"


def test_priority_names_and_ints_order_due_jobs(capp: Conveyor) -> None:
    order: list[str] = []

    @capp.job("p")
    def p(tag: str) -> None:
        order.append(tag)

    for tag, prio in [("low", "low"), ("normal", "normal"), ("int", 1000), ("crit", "critical")]:
        p(tag).run_now(priority=prio)
    p("normal2").run_now()
    capp.run_worker(concurrency=1, burst=True)
    assert order == ["int", "crit", "normal", "normal2", "low"]


def test_a_bad_priority_or_queue_is_refused(app: Conveyor) -> None:
    @app.job("j")
    def j() -> None: ...

    for options in [{"priority": "urgent"}, {"priority": 1.5}, {"queue": ""}]:
        with pytest.raises((ValueError, TypeError)):
            j().run_now(**options)
    assert app.count() == 0


def test_finding_by_state_job_queue_owner_and_time(capp: Conveyor, clock: Any) -> None:
    @capp.job("a")
    def a() -> None: ...

    @capp.job("b", queue="exports")
    def b() -> None: ...

    a().run_now(owner="u1")
    clock.advance(hours=1)
    a().run_in(1, "day")
    b().run_now(owner="u2")
    assert capp.count(state="queued") == 2 and capp.count(state="scheduled") == 1
    assert capp.count(queue="exports") == 1 and capp.count(owner="u1") == 1
    assert {r.job for r in capp.jobs_list(owner="u2")} == {"b"}
    assert len(capp.jobs_list()) == capp.count() == 3
    assert capp.count(state="running") == 0


def test_run_at_far_in_the_past_is_due_now(capp: Conveyor) -> None:
    @capp.job("old")
    def old() -> int:
        return 7

    handle = old().run_at(datetime(1970, 1, 1, tzinfo=UTC))
    assert record_of(capp, handle.id).state == "queued"
    run_until_idle(capp)
    assert handle.result(timeout=30) == 7
