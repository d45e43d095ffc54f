"""§4 states after each transition, stored errors (also for odd exceptions), retry
timing, and the records read back with their types."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, Fail, Retry, RetryIn
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def test_a_scheduled_job_reads_queued_once_due_without_any_worker(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job
    def later():  # type: ignore[no-untyped-def]
        return None

    handle = later().run_in(10, "seconds")
    assert record_of(app, handle.id).state == "scheduled"
    assert app.count(state="scheduled") == 1
    clock.advance(10, "seconds")
    assert record_of(app, handle.id).state == "queued"
    assert app.count(state="queued") == 1 and app.count(state="scheduled") == 0
    assert [r.id for r in app.jobs_list(state="queued")] == [handle.id]


def test_a_running_job_reads_running_from_inside_with_its_attempt(app: Conveyor) -> None:
    @app.job
    def introspect(meta):  # type: ignore[no-untyped-def]
        record = app.get_job(meta.job.id)
        assert record is not None
        return {
            "state": record.state,
            "attempts": record.attempts,
            "started": record.started_at is not None,
            "finished": record.finished_at is not None,
            "meta_attempt": meta.attempt,
            "attempt_type": type(meta.attempt).__name__,
        }

    handle = introspect().run_now()
    run_until_idle(app)
    assert handle.result(timeout=5) == {
        "state": "running",
        "attempts": 1,
        "started": True,
        "finished": False,
        "meta_attempt": 1,
        "attempt_type": "int",
    }
    record = record_of(app, handle.id)
    assert record.state == "completed" and record.finished_at is not None
    assert record.started_at is not None and record.started_at <= record.finished_at


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() of this error itself fails")


class QuietError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "type_name"),
    [
        (UnprintableError("x"), "UnprintableError"),
        (QuietError(), "QuietError"),
        (ValueError({"not": "a string"}, 42), "ValueError"),
        (KeyError("ключ\u2028"), "KeyError"),
    ],
)
def test_odd_exceptions_still_fail_the_attempt_with_their_type_stored(
    app: Conveyor, error: Exception, type_name: str
) -> None:
    @app.job(retry=0)
    def raises():  # type: ignore[no-untyped-def]
        raise error

    handle = raises().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error is not None
    assert type_name in str(record.error["type"])
    assert isinstance(record.error["message"], str)
    assert "raises" in record.error["traceback"]
    assert [a.number for a in record.history] == [1]


def test_exponential_retries_capped_by_a_text_max_wait_keep_every_attempt(
    app: Conveyor, clock: FakeClock
) -> None:
    retry = Retry(
        retries=4, wait=timedelta(seconds=10), backoff="exponential", max_wait="30 seconds"
    )

    @app.job(retry=retry)
    def flaky(meta):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"attempt {meta.attempt}")

    handle = flaky().run_now()
    delays = []
    for _ in range(4):
        run_until_idle(app)
        record = record_of(app, handle.id)
        assert record.state == "scheduled"
        delays.append(record.run_at - clock.now())
        clock.advance(record.run_at - clock.now())
    run_until_idle(app)
    assert delays == [timedelta(seconds=s) for s in (10, 20, 30, 30)]
    record = record_of(app, handle.id)
    assert record.state == "failed" and record.attempts == 5 and record.max_attempts == 5
    assert [a.number for a in record.history] == [1, 2, 3, 4, 5]
    assert [a.error["message"] for a in record.history] == [f"attempt {k}" for k in range(1, 6)]  # type: ignore[index]
    assert record.error is not None and record.error["message"] == "attempt 5"
    for attempt in record.history:
        assert (
            attempt.started_at.tzinfo is not None and attempt.started_at.utcoffset() == timedelta(0)
        )


def test_a_linear_wait_given_as_text_grows_by_the_attempt(app: Conveyor, clock: FakeClock) -> None:
    @app.job(retry=Retry(retries=3, wait="1 minute", backoff="linear"))
    def flaky():  # type: ignore[no-untyped-def]
        raise RuntimeError("again")

    handle = flaky().run_now()
    delays = []
    for _ in range(3):
        run_until_idle(app)
        due = record_of(app, handle.id).run_at
        delays.append(due - clock.now())
        clock.move_to(due)
    assert delays == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=3)]


def test_fail_ends_at_once_with_retries_left_and_its_unicode_reason(app: Conveyor) -> None:
    @app.job(retry=Retry(retries=5, wait=1))
    def refuses():  # type: ignore[no-untyped-def]
        raise Fail("pas de données — 無")

    handle = refuses().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed" and record.attempts == 1
    assert record.error is not None and "pas de données — 無" in record.error["message"]


def test_retry_in_reschedules_exactly_and_the_next_attempt_counts_up(
    app: Conveyor, clock: FakeClock
) -> None:
    @app.job(retry=0)
    def polls(meta):  # type: ignore[no-untyped-def]
        if meta.attempt < 3:
            raise RetryIn(30)
        return meta.attempt

    handle = polls().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).run_at == START + timedelta(seconds=30)
    assert record_of(app, handle.id).state == "scheduled"
    clock.advance(30, "seconds")
    run_until_idle(app)
    clock.advance(30, "seconds")
    run_until_idle(app)
    assert handle.result(timeout=5) == 3
    assert record_of(app, handle.id).attempts == 3


@pytest.mark.parametrize("value", [None, 0, -1, 2**70, 0.5, "", "text", True, [], {}, [None]])
def test_a_bare_result_reads_back_with_its_type(app: Conveyor, value: Any) -> None:
    @app.job
    def gives():  # type: ignore[no-untyped-def]
        return value

    handle = gives().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "completed"
    assert record.result == value and type(record.result) is type(value)
    assert handle.result(timeout=5) == value


@pytest.mark.parametrize("unknown", [2**70, -1, 0, 10**19])
def test_ids_naming_no_run_are_not_found_on_every_verb(app: Conveyor, unknown: int) -> None:
    assert app.get_job(unknown) is None
    assert app.cancel(unknown) is False
    assert app.retry(unknown) is False


@pytest.mark.parametrize(
    ("owner", "stored"), [(0, None), (None, None), ("", None), (42, 42), ("u-ü", "u-ü")]
)
def test_owner_reads_back_as_given_and_zero_is_the_system(
    app: Conveyor, owner: object, stored: object
) -> None:
    @app.job
    def owned():  # type: ignore[no-untyped-def]
        return None

    handle = owned().run_now(owner=owner)
    assert record_of(app, handle.id).owner == stored
    assert app.count(owner=owner) == 1


def test_every_stored_datetime_is_aware_utc_even_under_another_app_zone(open_app) -> None:  # type: ignore[no-untyped-def]
    app = open_app(timezone="Asia/Tokyo")

    @app.job(retry=0)
    def fails():  # type: ignore[no-untyped-def]
        raise RuntimeError("x")

    handle = fails().run_in(0, "seconds")
    run_until_idle(app)
    record = record_of(app, handle.id)
    stamps = [record.run_at, record.created_at, record.started_at, record.finished_at]
    stamps += [record.history[0].started_at, record.history[0].finished_at]
    for stamp in stamps:
        assert stamp is not None and stamp.utcoffset() == timedelta(0), stamp
        assert stamp.tzinfo is not None and stamp.astimezone(UTC) == stamp
