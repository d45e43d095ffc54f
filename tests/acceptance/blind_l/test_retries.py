"""§4 Retry: backoff arithmetic on a fake clock, every spelling of ``wait``, the attempt
history, Fail / RetryIn, and cancel or retry in the middle of a backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def _always_failing(app: Conveyor, retry: Retry, seen: list[int] | None = None):  # type: ignore[no-untyped-def]
    @app.job("flaky", retry=retry)
    def flaky(meta):  # type: ignore[no-untyped-def]
        if seen is not None:
            seen.append(meta.attempt)
        raise RuntimeError(f"boom {meta.attempt}")

    return flaky


def _delays(app: Conveyor, clock: FakeClock, job_id: int, retries: int) -> list[timedelta]:
    """Runs every attempt of ``job_id``, moving the clock to each retry; the waits seen."""
    delays = []
    for _ in range(retries):
        run_until_idle(app)
        record = record_of(app, job_id)
        assert record.state == "scheduled", record.state
        delays.append(record.run_at - clock.now())
        clock.move_to(record.run_at)
    run_until_idle(app)
    return delays


def test_attempt_history_of_an_exhausted_exponential_backoff(
    app: Conveyor, clock: FakeClock
) -> None:
    # (each backoff's waits: blind_j's test_the_kth_retry_waits_as_its_backoff_says)
    seen: list[int] = []
    flaky = _always_failing(app, Retry(retries=4, wait=10, backoff="exponential"), seen)
    handle = flaky().run_now()
    assert _delays(app, clock, handle.id, 4) == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert (record.attempts, record.max_attempts) == (5, 5)
    assert isinstance(record.attempts, int)
    assert seen == [1, 2, 3, 4, 5]
    assert [attempt.number for attempt in record.history] == [1, 2, 3, 4, 5]
    for attempt in record.history:
        assert attempt.started_at.utcoffset() == timedelta(0)
        assert attempt.finished_at >= attempt.started_at
        assert attempt.error["message"] == f"boom {attempt.number}"
    assert record.error["type"] == "RuntimeError"
    assert record.error["message"] == "boom 5"
    assert "boom 5" in record.error["traceback"]
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=30)
    assert "boom 5" in str(caught.value)


def test_max_wait_caps_each_delay(app: Conveyor, clock: FakeClock) -> None:
    flaky = _always_failing(app, Retry(retries=5, wait=1, backoff="exponential", max_wait=5))
    handle = flaky().run_now()
    assert _delays(app, clock, handle.id, 5) == [timedelta(seconds=s) for s in (1, 2, 4, 5, 5)]


def test_every_spelling_of_wait_means_the_same_delay(app: Conveyor, clock: FakeClock) -> None:
    flaky = _always_failing(app, Retry(retries=1, wait=1))
    for wait in (90, 90.0, timedelta(seconds=90), "90 seconds", "1.5 minutes", "90 secs"):
        handle = flaky().run_now(retry=Retry(retries=1, wait=wait))  # type: ignore[arg-type]
        assert _delays(app, clock, handle.id, 1) == [timedelta(seconds=90)], wait


def test_jitter_stays_within_a_quarter_either_side(app: Conveyor, clock: FakeClock) -> None:
    flaky = _always_failing(app, Retry(retries=6, wait=100, backoff="fixed", jitter=True))
    handle = flaky().run_now()
    for delay in _delays(app, clock, handle.id, 6):
        assert timedelta(seconds=75) <= delay <= timedelta(seconds=125)


def test_retry_given_at_trigger_time_overrides_the_job(app: Conveyor, clock: FakeClock) -> None:
    flaky = _always_failing(app, Retry(retries=5, wait=10))
    handle = flaky().run_now(retry=Retry(retries=1, wait=7))
    assert _delays(app, clock, handle.id, 1) == [timedelta(seconds=7)]
    assert record_of(app, handle.id).state == "failed"
    assert record_of(app, handle.id).attempts == 2


def test_fail_stops_at_once_and_retry_in_reschedules(app: Conveyor, clock: FakeClock) -> None:
    @app.job("picky", retry=Retry(retries=5, wait=1))
    def picky(mode, meta):  # type: ignore[no-untyped-def]
        if mode == "fail":
            raise Fail("not worth retrying")
        if meta.attempt == 1:
            raise RetryIn(30)
        return meta.attempt

    failed = picky("fail").run_now()
    later = picky("later").run_now()
    run_until_idle(app)
    record = record_of(app, failed.id)
    assert (record.state, record.attempts) == ("failed", 1)
    assert "not worth retrying" in record.error["message"]
    assert record_of(app, later.id).state == "scheduled"
    assert record_of(app, later.id).run_at == START + timedelta(seconds=30)
    clock.advance(30, "seconds")
    run_until_idle(app)
    assert later.result(timeout=30) == 2


def test_cancel_during_backoff_is_final(app: Conveyor, clock: FakeClock) -> None:
    flaky = _always_failing(app, Retry(retries=3, wait=60))
    handle = flaky().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "scheduled"
    assert app.cancel(handle.id) is True
    assert app.cancel(handle.id) is False
    clock.advance(1, "day")
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.attempts) == ("cancelled", 1)
    assert record.finished_at is not None
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_retry_of_a_finished_job_runs_it_again(app: Conveyor, clock: FakeClock) -> None:
    outcomes = iter([RuntimeError("first"), None])

    @app.job("once-broken")
    def once_broken(meta):  # type: ignore[no-untyped-def]
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return meta.attempt

    handle = once_broken().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "failed"
    assert app.retry(handle.id) is True
    assert record_of(app, handle.id).state == "queued"
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.result, record.attempts) == ("completed", 2, 2)
    assert [attempt.number for attempt in record.history] == [1, 2]
    assert record.history[0].error["message"] == "first"
    assert record.error is None or record.history[-1].error is None
    assert app.retry(987654) is False
    assert app.get_job(987654) is None
