"""A worker never stops silently (every store): failing background tasks are logged
and retried, a refused outcome is isolated, one bad event is quarantined, and a worker
that cannot go on stops with WorkerFailed after releasing its jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from conveyor import Conveyor, WorkerFailed
from conveyor.errors import StoreError
from conveyor.stores.base import Outcome
from tests.conformance.helpers import before_storing, drain, worker_thread
from tests.support import wait_for


def _refuse(outcomes: Sequence[Outcome]) -> None:
    """Refuse a batch holding the spoiled outcome, as a store adapter could."""
    if any(o.result == '"spoil me"' for o in outcomes):
        raise ValueError("the store refuses this data")


def _corrupt(outcomes: Sequence[Outcome]) -> None:
    """Spoil one outcome after the job ran, as a buggy store adapter could: its result is
    text no real database can encode; the real store then refuses it."""
    for outcome in outcomes:
        if outcome.result == '"spoil me"':
            outcome.result = '"bad \udcff"'


@pytest.mark.parametrize(("spoil", "why"), [
    (_refuse, "could not be stored (ValueError: the store refuses this data)"),
    (_corrupt, "could not be stored"),
], ids=["refused-by-the-adapter", "refused-by-the-database"])
def test_an_outcome_the_store_refuses_fails_alone_and_the_batch_is_stored(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    spoil: Callable[[Sequence[Outcome]], None], why: str,
) -> None:
    before_storing(app, monkeypatch, spoil)

    @app.job
    def give(value: str) -> str:
        return value

    handles = [give(f"ok {n}").run_now() for n in range(7)]
    spoiled = give("spoil me").run_now()
    handles += [give(f"ok {n}").run_now() for n in range(7, 12)]
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app, concurrency=20)
    assert [h.result() for h in handles] == [f"ok {n}" for n in range(12)]
    record = app.get_job(spoiled.id)
    assert record is not None and record.state == "failed"
    assert record.error is not None and record.error["type"].endswith("PayloadError")
    assert why in record.error["message"]
    assert any(r.exc_info and "refused its outcome" in r.getMessage() for r in caplog.records)


class _OwnBaseException(BaseException):
    """Raised by code a worker task runs (an extension's, say): it ended that task."""


@pytest.mark.parametrize("error", [RuntimeError, _OwnBaseException, KeyboardInterrupt])
def test_failing_upkeep_is_logged_with_its_traceback_and_retried(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    error: type[BaseException],
) -> None:
    """Any exception: a BaseException ended the task silently (KeyboardInterrupt and
    SystemExit stopped the worker, its leases held)."""
    calls: list[int] = []
    maintain = app.maintain

    def flaky(store: Any, leader: bool, full: bool = True) -> None:
        calls.append(1)
        if len(calls) <= 3:
            raise error(f"upkeep bug {len(calls)}")
        maintain(store, leader, full)

    monkeypatch.setattr(app, "maintain", flaky)
    started: list[Any] = []

    @app.job(trigger=app.event("ping"))
    def on_ping(payload: Any) -> None:
        started.append(payload)

    from datetime import UTC, datetime, timedelta

    with caplog.at_level(logging.ERROR, logger="conveyor"), worker_thread(app):
        app.send_event("ping", 1, deliver_at=datetime.now(UTC) + timedelta(milliseconds=50))
        wait_for(lambda: started == [1] and len(calls) >= 4, 15,
                 "the delayed event after upkeep recovered")
    failures = [r for r in caplog.records if "worker task 'upkeep' failed" in r.getMessage()]
    assert len(failures) >= 3
    assert failures[0].exc_info is not None and "upkeep bug 1" in str(failures[0].exc_info[1])


def test_one_bad_event_is_quarantined_and_the_others_are_delivered(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import conveyor.events as events

    runs_for = events.runs_for

    def fussy(application: Conveyor, event: Any) -> Any:
        if event.name == "bad":
            raise RuntimeError("cannot handle this event")
        return runs_for(application, event)

    monkeypatch.setattr(events, "runs_for", fussy)
    seen: list[str] = []

    @app.job(trigger=app.event("good"))
    def on_good(payload: Any) -> None:
        seen.append(payload)

    from datetime import UTC, datetime, timedelta

    from conveyor.testing import FakeClock

    # Delivered later, by the worker (sent when due, send_event itself would raise): a
    # fake clock, so that a slow send on a loaded machine is never already past it.
    with FakeClock(app, start=datetime(2031, 1, 1, tzinfo=UTC)) as clock:
        due = clock.now() + timedelta(minutes=1)
        bad = app.send_event("bad", "x", deliver_at=due)
        app.send_event("good", "y", deliver_at=due)
        clock.advance(2, "minutes")
        with caplog.at_level(logging.ERROR, logger="conveyor"):
            drain(app)
    assert seen == ["y"]
    stored = app.get_event(bad.id)
    assert stored is not None and stored.delivered_at is not None and stored.runs == []
    assert any("cannot be delivered" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_trigger_whose_job_refuses_the_payload_is_skipped_alone(app: Conveyor) -> None:
    seen: list[Any] = []

    @app.job(trigger=app.event("order"))
    def two_args(a: int, b: int) -> None: ...

    @app.job(trigger=app.event("order"))
    def one_arg(payload: Any) -> None:
        seen.append(payload)

    event = app.send_event("order", {"id": 1})
    drain(app)
    assert seen == [{"id": 1}] and len(app.get_event(event.id).runs) == 1  # type: ignore[union-attr]


def test_a_task_failing_past_its_budget_stops_the_worker_and_releases_its_jobs(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()

    @app.job
    def slow() -> None:
        gate.wait(10)

    h = slow().run_now()

    def broken(self: Any, *args: Any) -> Any:
        raise RuntimeError("heartbeat bug")

    monkeypatch.setattr(type(app.store), "heartbeat", broken)
    try:
        with pytest.raises(WorkerFailed, match=r"'heartbeat' failed 3 times in a row.*bug"):
            app.run_worker(failure_budget=3, grace=0.1, poll_interval=0.05)
    finally:
        gate.set()
    monkeypatch.undo()
    record = app.get_job(h.id)
    assert record is not None and record.state == "queued"  # released, not held


def test_a_worker_task_that_ends_unexpectedly_stops_the_worker_and_releases_its_jobs(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug outside a task's supervised steps ended it without a word: the heartbeats'
    end left every lease to expire under a worker that ran on."""
    from conveyor.worker.cadence import Cadence

    gate = threading.Event()

    @app.job
    def slow() -> None:
        gate.wait(10)

    h = slow().run_now()

    def broken(self: Any, now: float) -> float:
        raise RuntimeError("cadence bug")

    monkeypatch.setattr(Cadence, "wait", broken)
    try:
        with caplog.at_level(logging.ERROR, logger="conveyor"), pytest.raises(
                WorkerFailed, match=r"'heartbeats' ended unexpectedly: .*cadence bug"):
            app.run_worker(grace=0.1, poll_interval=0.05)
    finally:
        gate.set()
    assert any(r.exc_info and "'heartbeats' ended" in r.getMessage() for r in caplog.records)
    record = app.get_job(h.id)
    assert record is not None and record.state == "queued"  # released, not held


def test_a_store_gone_past_the_outage_tolerance_stops_the_worker(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(self: Any, *args: Any) -> Any:
        raise StoreError("cannot reach the store: connection refused")

    monkeypatch.setattr(type(app.store), "claim", gone)
    with pytest.raises(WorkerFailed, match=r"unreachable for .* outage_tolerance of 0\.3 s"):
        app.run_worker(outage_tolerance=0.3, poll_interval=0.05)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_attempt_whose_outcome_cannot_be_judged_fails_alone_and_is_logged(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """A bug deciding what a failed attempt means must not kill the lane that ran it nor
    leave the job running (its lease renewed forever)."""
    from conveyor.worker.execute import JobRunner

    judged = JobRunner._judged

    def buggy(self: JobRunner, definition: Any, claimed: Any, exc: BaseException) -> Any:
        if str(exc) == "odd":
            raise RuntimeError("judging bug")
        return judged(self, definition, claimed, exc)

    monkeypatch.setattr(JobRunner, "_judged", buggy)

    def check(n: int) -> int:
        if n == 2:
            raise ValueError("odd")
        return n

    async def check_async(n: int) -> int:
        return check(n)

    job = app.job("check")(check if kind == "sync" else check_async)
    handles = [job(n).run_now(retry=2) for n in range(5)]
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app, concurrency=2)
    assert [handles[n].result() for n in (0, 1, 3, 4)] == [0, 1, 3, 4]
    record = app.get_job(handles[2].id)
    assert record is not None and record.state == "failed" and record.attempts == 1
    assert record.error is not None and record.error["type"] == "ValueError"
    assert record.error["message"] == ("odd (not retried: conveyor could not judge how this "
                                       "attempt ended (RuntimeError('judging bug')))")
    assert any(r.exc_info and "could not judge" in r.getMessage() for r in caplog.records)


def test_a_clock_failing_as_attempts_end_leaves_their_outcomes_as_they_were(
    app: Conveyor, caplog: pytest.LogCaptureFixture
) -> None:
    """A user's clock= object raising (here: whenever a job's thread asks it) is logged;
    the attempts that ran are timed on this host's clock, their results kept."""
    from datetime import UTC, datetime

    class Fickle:
        def now(self) -> datetime:
            if threading.current_thread().name.startswith("conveyor-job"):
                raise RuntimeError("clock hiccup")
            return datetime.now(UTC)

    @app.job
    def echo(n: int) -> int:
        return n

    @app.job
    def fail_once(meta: Any) -> int:
        if meta.attempt == 1:
            raise RuntimeError("first attempt")
        return meta.attempt

    handles = [echo(n).run_now() for n in range(4)]
    retried = fail_once().run_now(retry=1)
    app.use_clock(Fickle())
    with caplog.at_level(logging.ERROR, logger="conveyor"):
        drain(app)
    app.use_clock(None)
    assert [h.result() for h in handles] == [0, 1, 2, 3] and retried.result() == 2
    assert any(r.exc_info and "the app's clock failed" in r.getMessage()
               for r in caplog.records)


def test_an_async_job_raising_cancelled_error_of_its_own_fails_that_attempt(
    app: Conveyor,
) -> None:
    """A CancelledError the worker did not cause (the job awaited a future cancelled
    elsewhere) is the attempt's failure: it was passed on as the worker's own, leaving
    the job running with no one on it."""
    import asyncio

    @app.job
    async def awaits_cancelled(meta: Any) -> int:
        if meta.attempt == 1:
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future
        return meta.attempt

    @app.job
    async def fine(n: int) -> int:
        return n

    h = awaits_cancelled().run_now(retry=1)
    others = [fine(n).run_now() for n in range(3)]
    drain(app)
    assert h.result() == 2 and [o.result() for o in others] == [0, 1, 2]
    record = app.get_job(h.id)
    assert record is not None and record.history[0].error is not None
    assert record.history[0].error["type"] == "CancelledError"


def test_an_exception_whose_class_name_fails_still_fails_its_attempt(app: Conveyor) -> None:
    class Odd(type):
        @property
        def __name__(cls) -> str:  # type: ignore[override]
            raise RuntimeError("no name")

    class OddError(Exception, metaclass=Odd):
        pass

    @app.job
    def odd() -> None:
        raise OddError("odd")

    h = odd().run_now()
    drain(app)
    record = app.get_job(h.id)
    assert record is not None and record.state == "failed" and record.error is not None
    assert (record.error["type"], record.error["message"]) == (
        "<exception whose class name failed>", "odd")


def test_outcomes_left_by_a_completion_flush_that_failed_are_stored_at_once(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    """The flush task fails once after taking its wake-up: the outcome it left waiting is
    stored by the next try, not when another job happens to finish (with none left to
    finish, it stayed running forever, its lease renewed by the heartbeats)."""
    from conveyor.worker.claims import Sizing

    real = Sizing.flush_least
    failures: list[int] = []

    def flush_least(sizing: Sizing, *args: Any) -> int:
        if not failures:
            failures.append(1)
            raise RuntimeError("the flush breaks once")
        return real(sizing, *args)

    @app.job
    def only() -> str:
        return "done"

    monkeypatch.setattr(Sizing, "flush_least", flush_least)
    with caplog.at_level(logging.ERROR, logger="conveyor"), worker_thread(app):
        assert only().run_now().result(timeout=10) == "done"
    assert failures and "the flush breaks once" in caplog.text
