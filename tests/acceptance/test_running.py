"""SPEC §4 — running and failing: states, results, errors, Retry, Fail, RetryIn, get_job,
priorities (timeouts: test_timeouts; cancel, retry and finding: test_steering_and_finding)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

START = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


# -- states, results, errors -----------------------------------------------------------------


def test_a_job_sees_itself_running_and_ends_completed_with_its_result(app: Conveyor) -> None:
    seen: list[object] = []

    @app.job
    def work(n: int, meta: object) -> dict[str, object]:
        record = app.get_job(meta.job.id)  # type: ignore[attr-defined]
        seen.append((record.state if record else None, meta.attempt))  # type: ignore[attr-defined]
        return {"n": n, "ok": True, "list": [None, 1.5, "ü"]}

    handle = work(7).run_now()
    run_until_idle(app)
    assert seen == [("running", 1)]
    record = record_of(app, handle.id)
    assert record.state == "completed"
    assert record.result == {"n": 7, "ok": True, "list": [None, 1.5, "ü"]}
    assert record.attempts == 1
    assert record.error is None
    for stamp in (record.run_at, record.created_at, record.started_at, record.finished_at):
        assert stamp is not None and stamp.utcoffset() == timedelta(0)
    assert record.created_at <= record.started_at <= record.finished_at  # type: ignore[operator]


def test_an_exception_stores_type_message_and_traceback(app: Conveyor) -> None:
    @app.job
    def explode() -> None:
        raise ZeroDivisionError("dïvidé by zérø 😀")

    handle = explode().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    error = record.error
    assert error is not None
    text = repr(error) + str(error)
    assert "ZeroDivisionError" in text
    assert "dïvidé by zérø 😀" in text
    assert "explode" in text or "Traceback" in text  # the traceback names the function
    # its type, message and traceback, read as a mapping or as attributes
    assert "ZeroDivisionError" in error["type"] and error["message"] == "dïvidé by zérø 😀"
    assert error.type == error["type"] and error.message == error["message"]  # type: ignore[attr-defined]
    assert "explode" in error.traceback  # type: ignore[attr-defined]
    assert len(record.history) == 1
    attempt = record.history[0]
    assert attempt.number == 1  # type: ignore[attr-defined]
    assert attempt.error.message == "dïvidé by zérø 😀"  # type: ignore[attr-defined]
    assert attempt.started_at.utcoffset() == timedelta(0)  # type: ignore[attr-defined]
    assert attempt.finished_at.utcoffset() == timedelta(0)  # type: ignore[attr-defined]


def test_the_last_attempt_has_the_records_own_times_to_the_microsecond(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def explode() -> None:
        raise ValueError("no")

    handles = [explode().run_now() for _ in range(20)]
    run_until_idle(app)
    for handle in handles:
        record = record_of(app, handle.id)
        last = record.history[-1]
        assert (last.number, last.started_at, last.finished_at) == (  # type: ignore[attr-defined]
            2, record.started_at, record.finished_at)


def test_an_exception_with_an_empty_message_still_fails(app: Conveyor) -> None:
    @app.job
    def explode() -> None:
        raise ValueError

    handle = explode().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert "ValueError" in repr(record.error) + str(record.error)


def test_get_job_of_an_unknown_id_is_none(app: Conveyor) -> None:
    @app.job
    def noop() -> None: ...

    handle = noop().run_now()
    assert app.get_job(handle.id + 10_000) is None
    assert app.get_job(0) is None
    assert app.get_job(-1) is None
    assert app.get_job(2**63) is None  # beyond any 64-bit key
    assert not app.cancel(2**63)
    assert not app.retry(2**64)


def test_record_fields_from_spec(app: Conveyor) -> None:
    @app.job(version="2.1.0")
    def noop(a: int, *, b: str) -> None: ...

    record = record_of(app, noop(1, b="x").run_now(key="k", owner="o", queue="q").id)
    for field in ("id", "job", "args", "kwargs", "state", "priority", "queue", "key", "owner",
                  "attempts", "max_attempts", "run_at", "created_at", "started_at",
                  "finished_at", "result", "error", "progress", "version",
                  "rescheduled_from", "logs", "history"):
        assert hasattr(record, field), field
    assert record.args == [1] and record.kwargs == {"b": "x"}
    assert record.attempts == 0 and isinstance(record.attempts, int)
    assert record.started_at is None and record.finished_at is None
    run_until_idle(app)
    assert record_of(app, record.id).version == "2.1.0"


# -- Retry ---------------------------------------------------------------------------------


def _delays(app: Conveyor, retry: Retry, attempts: int, name: str = "flaky") -> list[float]:
    """Let a job that always fails run ``attempts`` times; the delays between a failure and
    the next due time, in seconds."""

    def flaky() -> None:
        raise RuntimeError("again")

    job = app.job(name, retry=retry)(flaky)
    delays: list[float] = []
    with FakeClock(app, start=START) as clock:
        handle = job().run_now()
        for _ in range(attempts):
            run_until_idle(app, clock)
            record = record_of(app, handle.id)
            if record.state != "scheduled":
                break
            delays.append((record.run_at - clock.now()).total_seconds())
            clock.move_to(record.run_at)
    return delays


RETRIES = [
    (Retry(retries=4, wait=10, backoff="fixed"), [10, 10, 10, 10]),
    (Retry(retries=4, wait=10, backoff="linear"), [10, 20, 30, 40]),
    (Retry(retries=4, wait=10, backoff="exponential"), [10, 20, 40, 80]),
    (Retry(retries=4, wait=10, backoff="exponential", max_wait=25), [10, 20, 25, 25]),
    (Retry(retries=2, wait=timedelta(minutes=2)), [120, 120]),
    (Retry(retries=2, wait="1 minute", backoff="linear"), [60, 120]),
    (Retry(retries=3, wait=0.5, backoff="exponential", max_wait="1 second"), [0.5, 1, 1]),
]


def test_retry_delays(app: Conveyor) -> None:
    for number, (retry, expected) in enumerate(RETRIES):
        got = _delays(app, retry, len(expected) + 1, name=f"flaky-{number}")
        assert got == pytest.approx(expected), retry


def test_retry_jitter_spreads_each_delay_over_25_percent(app: Conveyor) -> None:
    delays = _delays(app, Retry(retries=6, wait=100, backoff="fixed", jitter=True), 7)
    assert len(delays) == 6
    assert all(75 <= d <= 125 for d in delays), delays


def test_retries_zero_fails_at_once_and_keeps_history(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def once() -> None:
        raise RuntimeError("x")

    handle = once().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.attempts, record.max_attempts) == ("failed", 1, 1)


def test_every_attempt_is_kept_in_history(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=2, wait=0))
    def flaky(meta: object) -> int:
        if meta.attempt < 3:  # type: ignore[attr-defined]
            raise RuntimeError(f"attempt {meta.attempt}")  # type: ignore[attr-defined]
        return meta.attempt  # type: ignore[attr-defined]

    handle = flaky().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "completed" and record.result == 3
    assert record.attempts == 3
    assert [a.number for a in record.history] == [1, 2, 3]  # type: ignore[attr-defined]
    assert "attempt 1" in str(record.history[0].error)  # type: ignore[attr-defined]
    assert record.history[2].error is None  # type: ignore[attr-defined]


def test_retry_rejects_an_unknown_backoff_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError) as caught:
        Retry(retries=1, wait=1, backoff="quadratic")
    message = str(caught.value)
    assert "quadratic" in message
    for accepted in ("fixed", "exponential", "linear"):
        assert accepted in message


def test_fail_does_not_retry(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=5, wait=0))
    def give_up() -> None:
        raise Fail("nope, for good — ✗")

    handle = give_up().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.attempts == 1
    assert "nope, for good — ✗" in str(record.error)
    with pytest.raises(JobFailed):
        handle.result(timeout=30)


def test_retry_in_reschedules_explicitly(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=0))
    def later(meta: object) -> str:
        if meta.attempt == 1:  # type: ignore[attr-defined]
            raise RetryIn(30)
        return "second time"

    with FakeClock(app, start=START) as clock:
        handle = later().run_now()
        run_until_idle(app, clock)
        record = record_of(app, handle.id)
        assert record.state == "scheduled"
        assert record.run_at == START + timedelta(seconds=30)
        clock.advance(30, "seconds")
        run_until_idle(app, clock)
    assert handle.result(timeout=30) == "second time"


# -- priorities --------------------------------------------------------------------------------


def test_higher_priority_runs_first_and_equal_priority_oldest_due_first(app: Conveyor) -> None:
    order: list[str] = []

    @app.job
    def note(name: str) -> None:
        order.append(name)

    with FakeClock(app, start=START) as clock:
        note("normal-late").run_at(START - timedelta(seconds=1))
        note("low").run_now(priority="low")
        note("critical").run_now(priority="critical")
        note("medium").run_now(priority="medium")
        note("high").run_now(priority="high")
        note("normal-early").run_at(START - timedelta(seconds=2))
        note("int-1000").run_now(priority=1000)
        note("int-minus").run_now(priority=-1000)
        run_until_idle(app, clock, concurrency=1)
    assert order == ["int-1000", "critical", "high", "medium", "normal-early",
                     "normal-late", "low", "int-minus"]


def test_an_unknown_priority_name_is_refused(sqlite_app: Conveyor) -> None:
    @sqlite_app.job
    def noop() -> None: ...

    with pytest.raises(ValueError) as caught:
        noop().run_now(priority="urgent")
    assert "urgent" in str(caught.value)
    assert "critical" in str(caught.value)


def test_a_job_may_run_longer_than_its_lease(open_app: object) -> None:
    # A lease a loaded machine's heartbeats keep (one every third of it), outlived twice.
    app = open_app(lease=1)  # type: ignore[operator]

    @app.job(retry=Retry(retries=2, wait=0))
    async def long(meta: object) -> int:
        await asyncio.sleep(2.2)
        return meta.attempt  # type: ignore[attr-defined,no-any-return]

    handle = long().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.result, record.attempts) == ("completed", 1, 1)


class OwnBaseException(BaseException):
    """A user's BaseException subclass (like pytest's outcomes or a framework's exits)."""


def test_a_base_exception_from_a_job_fails_that_attempt_only(app: Conveyor) -> None:
    @app.job
    def sync_job(kind: str) -> None:
        if kind == "interrupt":
            raise KeyboardInterrupt("raised by the job itself")
        raise OwnBaseException("sync ✗")

    @app.job(timeout=30)
    def sync_with_timeout() -> None:
        raise OwnBaseException("sync with a timeout ✗")

    @app.job
    async def async_job() -> None:
        raise OwnBaseException("async ✗")

    @app.job
    def fine(n: int) -> int:
        return n

    broken = [sync_job("own").run_now(), sync_job("interrupt").run_now(),
              sync_with_timeout().run_now(), async_job().run_now()]
    good = [fine(n).run_now() for n in range(12)]
    run_until_idle(app)
    for handle in broken:
        record = record_of(app, handle.id)
        assert record.state == "failed" and record.attempts == 1, record
        assert "✗" in str(record.error) or "KeyboardInterrupt" in str(record.error)
    assert [h.result(timeout=30) for h in good] == list(range(12))
