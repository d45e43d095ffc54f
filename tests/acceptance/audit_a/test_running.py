"""SPEC §4 — running, failing, finding, clause by clause: backoff arithmetic with every
spelling of a wait, explicit reschedules, stored results and errors, steering one job,
filters' refusals, retention and removal, and priority order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, Fail, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 31, 10, tzinfo=UTC)
STATES = ("scheduled", "queued", "running", "waiting", "completed", "failed", "cancelled")


def _delays(app: Conveyor, retry: Retry, attempts: int) -> list[float]:
    """The wait before each retry of a job that always fails."""

    @app.job
    def always_fails() -> None:
        raise RuntimeError("boom ✗")

    delays: list[float] = []
    with FakeClock(app, start=START) as clock:
        handle = always_fails().run_now(retry=retry)
        for _ in range(attempts):
            run_until_idle(app, clock)
            record = app.get_job(handle.id)
            assert record is not None
            if record.state != "scheduled":
                break
            delays.append((record.run_at - clock.now()).total_seconds())
            clock.advance(record.run_at - clock.now())
    return delays


@pytest.mark.parametrize(("retry", "expected"), [
    (Retry(retries=4, wait=timedelta(seconds=10), backoff="linear", max_wait="25 seconds"),
     [10, 20, 25, 25]),
    (Retry(retries=4, wait="1 minute", backoff="exponential"), [60, 120, 240, 480]),
    (Retry(retries=3, wait=0.5, backoff="fixed"), [0.5, 0.5, 0.5]),
])
def test_backoff_with_every_spelling_of_a_wait(app: Conveyor, retry: Retry,
                                               expected: list[float]) -> None:
    assert _delays(app, retry, len(expected) + 1) == expected


@pytest.mark.parametrize(("options", "named"), [
    ({"retries": -1}, "retries"), ({"retries": 1.5}, "retries"),
    ({"retries": 1, "wait": "1 minnute"}, "minnute"),
    ({"retries": 1, "wait": float("inf")}, "wait"),
    ({"retries": 1, "backoff": "Exponential"}, "exponential"),
])
def test_a_bad_retry_policy_names_the_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Retry(**options)  # type: ignore[arg-type]


def test_retry_in_takes_seconds_a_timedelta_or_text(app: Conveyor) -> None:
    delays = [30, timedelta(seconds=30), "30 seconds", 30.0]

    @app.job
    def twice(i: int, meta: object) -> int:
        if meta.attempt == 1:  # type: ignore[attr-defined]
            raise RetryIn(delays[i])  # type: ignore[arg-type]
        return meta.attempt  # type: ignore[attr-defined,no-any-return]

    with FakeClock(app, start=START) as clock:
        handles = [twice(i).run_now() for i in range(len(delays))]
        run_until_idle(app, clock)
        for handle in handles:
            record = app.get_job(handle.id)
            assert record is not None and record.state == "scheduled"
            assert record.run_at == START + timedelta(seconds=30)
        clock.advance(30, "seconds")
        run_until_idle(app, clock)
        assert [h.result(timeout=30) for h in handles] == [2, 2, 2, 2]


def test_fail_ends_a_job_with_retries_left_and_keeps_its_message(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=3))
    def refuse() -> None:
        raise Fail("nope ✗ — no retry")

    handle = refuse().run_now()
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None
    assert (record.state, record.attempts, record.max_attempts) == ("failed", 1, 4)
    assert record.error["message"] == "nope ✗ — no retry"  # type: ignore[index]


FALSY_ODD_BIG = [None, 0, "", [], {}, False, "ü😀", 2**63, -(2**63), {"a": [1, {"b": None}]}]


def test_falsy_unicode_and_big_results_are_stored_as_json(app: Conveyor) -> None:
    @app.job
    def give(i: int) -> object:
        return FALSY_ODD_BIG[i]

    handles = [give(i).run_now() for i in range(len(FALSY_ODD_BIG))]
    run_until_idle(app)
    assert [app.get_job(h.id).result for h in handles] == FALSY_ODD_BIG  # type: ignore[union-attr]
    assert [h.result(timeout=30) for h in handles] == FALSY_ODD_BIG


UNSTORABLE = [{1, 2}, float("nan"), b"x", {1: "a"}]


def test_a_result_json_cannot_hold_fails_the_attempt_with_a_payload_error(app: Conveyor) -> None:
    @app.job
    def give(i: int) -> object:
        return UNSTORABLE[i]

    handles = [give(i).run_now() for i in range(len(UNSTORABLE))]
    run_until_idle(app)
    for handle in handles:
        record = app.get_job(handle.id)
        assert record is not None and record.state == "failed"
        assert record.error["type"] == "PayloadError"  # type: ignore[index]
        assert "accepted" in record.error["message"]  # type: ignore[index]


def test_history_and_times_of_a_retried_job_are_aware_utc(app: Conveyor) -> None:
    assert _delays(app, Retry(retries=1, wait=5), 3) == [5]
    record = app.jobs_list(job="always_fails")[0]
    assert [a.number for a in record.history] == [1, 2]
    for moment in (record.run_at, record.created_at, record.started_at, record.finished_at,
                   *(a.started_at for a in record.history)):
        assert moment is not None and moment.utcoffset() == timedelta(0)
    assert all(a.error["type"] == "RuntimeError" for a in record.history)  # type: ignore[index]


# -- steering and finding -----------------------------------------------------------------------


def test_cancel_and_retry_one_job_through_its_states(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1))
    def flaky(meta: object) -> None:
        raise RuntimeError(f"attempt {meta.attempt}")  # type: ignore[attr-defined]

    failed = flaky().run_now()
    run_until_idle(app)
    assert app.get_job(failed.id).attempts == 2  # type: ignore[union-attr]
    assert app.retry(failed.id) is True
    run_until_idle(app)
    record = app.get_job(failed.id)
    assert record is not None and record.state == "failed"
    assert [a.number for a in record.history] == [1, 2, 3]
    assert record.error["message"] == "attempt 3"  # type: ignore[index]
    later = flaky().run_in(1, "hour")
    assert app.retry(later.id) is False  # not finished: nothing to retry
    assert (app.cancel(later.id), app.cancel(later.id)) == (True, False)
    assert app.retry(later.id) is True and app.get_job(later.id).state == "queued"  # type: ignore[union-attr]


@pytest.mark.parametrize("job_id", ["abc", -1, 10**30, "1_0"])
def test_an_id_that_names_no_job_is_not_found(app: Conveyor, job_id: object) -> None:
    assert app.get_job(job_id) is None  # type: ignore[arg-type]
    assert app.cancel(job_id) is False  # type: ignore[arg-type]
    assert app.retry(job_id) is False  # type: ignore[arg-type]


def test_filters_refuse_unknown_states_listing_every_state(sqlite_app: Conveyor) -> None:
    for use in (lambda: sqlite_app.cancel_jobs(state="done"),
                lambda: sqlite_app.count(state="bogus"),
                lambda: sqlite_app.jobs_list(state=["queued", "Queued!"])):
        with pytest.raises(ValueError) as caught:
            use()
        assert all(state in str(caught.value) for state in STATES)


def test_cancel_jobs_counts_and_matches_every_filter(app: Conveyor) -> None:
    @app.job
    def shop(data: dict[str, object]) -> None: ...

    for i in range(3):
        shop({"shop_id": i, "deep": {"ü": [i, "x"]}}).run_now(owner=42, key=f"k{i}")
    shop({"shop_id": 1}).run_in(1, "hour", owner="42")
    assert app.cancel_jobs(type="shop", data={"deep": {"ü": [2]}}) == 1
    assert app.cancel_jobs(type="shop", key="k0") == 1
    assert app.cancel_jobs(type="shop", data={"shop_id": 1}, state="scheduled") == 1
    assert app.cancel_jobs(type="shop", owner=42) == 1
    assert app.cancel_jobs(type="nosuch") == 0
    assert app.count(state="cancelled") == 4


def test_jobs_list_by_time_range_and_paging(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    with FakeClock(app, start=START) as clock:
        ids = []
        for _ in range(3):
            ids.append(noop().run_now().id)
            clock.advance(1, "day")
    middle = app.jobs_list(since=START + timedelta(hours=12), until=START + timedelta(days=1.5))
    assert [r.id for r in middle] == [ids[1]]
    assert app.jobs_list(since=START + timedelta(days=9)) == []
    assert [r.id for r in app.jobs_list(limit=1, offset=1, newest_first=False)] == [ids[1]]
    assert app.jobs_list(limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        app.jobs_list(limit=-1)
    with pytest.raises(TypeError, match="since"):
        app.jobs_list(bogus=1)


# -- retention and priorities ---------------------------------------------------------------------


def test_remove_delay_and_retention_on_the_trigger_beat_the_definition(app: Conveyor) -> None:
    @app.job(retention="1 day")
    def kept() -> None: ...

    @app.job
    def refused() -> None:
        raise Fail("x")

    with FakeClock(app, start=START) as clock:
        gone_at_once = kept().run_now(remove_delay=0)
        removed_in_an_hour = kept().run_now(remove_delay="1 hour", retention="30 days")
        failed = refused().run_now(remove_delay=0)
        by_definition = kept().run_now()
        three_days = kept().run_now(retention="3 days")
        run_until_idle(app, clock)
        assert app.get_job(gone_at_once.id) is None
        assert app.get_job(failed.id) is not None  # remove_delay is for completed jobs
        clock.advance(61, "minutes")
        run_until_idle(app, clock)
        assert app.get_job(removed_in_an_hour.id) is None
        clock.advance(2, "days")
        app.purge(expired=True)  # retention on demand (a bare purge() deletes every finished one)
        assert app.get_job(by_definition.id) is None
        assert app.get_job(three_days.id) is not None


def test_priority_names_ints_and_due_order(app: Conveyor) -> None:
    order: list[str] = []

    @app.job
    def record(name: str) -> None:
        order.append(name)

    with FakeClock(app, start=START) as clock:
        record("due-1-min-ago, created first").run_at(START - timedelta(minutes=1))
        record("due-5-min-ago, created second").run_at(START - timedelta(minutes=5))
        record("low").run_now(priority="Low")
        record("int 7").run_now(priority=7)
        record("critical").run_now(priority="critical")
        record("-1000").run_now(priority=-1000)
        record("high, due yesterday").run_at(START - timedelta(days=1), priority="high")
        record("int 10**6").run_now(priority=10**6)
        run_until_idle(app, clock, concurrency=1)
    assert order == ["int 10**6", "critical", "high, due yesterday", "int 7",
                     "due-5-min-ago, created second", "due-1-min-ago, created first",
                     "low", "-1000"]
