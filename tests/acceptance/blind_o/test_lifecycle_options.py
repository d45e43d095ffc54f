"""§3/§4 lifecycle options: trigger-level retry/timeout overriding the definition,
refused ``Retry`` values, waiting on a job between attempts, manual retry and cancel of
finished jobs, ``remove_delay`` and ``retention``, calendar steps in the app's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor import Conveyor, JobFailed, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def _flaky(app: Conveyor):  # type: ignore[no-untyped-def]
    @app.job("flaky", retry=Retry(retries=5, wait=60))
    def flaky(meta):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"attempt {meta.attempt}")

    return flaky


@pytest.mark.parametrize(
    "bad",
    [
        {"retries": -1},
        {"backoff": "quadratic"},
        {"wait": "1 fortnight"},
        {"wait": -5},
        {"max_wait": float("nan")},
    ],
)
def test_an_impossible_retry_policy_is_refused_naming_the_option(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError) as caught:
        Retry(**{"retries": 1, **bad})  # type: ignore[arg-type]
    assert next(iter(bad)) in str(caught.value) or str(next(iter(bad.values()))) in str(
        caught.value
    )


def test_a_max_wait_below_wait_caps_even_the_first_retry(app: Conveyor, clock: FakeClock) -> None:
    @app.job(retry=Retry(retries=1, wait="1 hour", max_wait=timedelta(minutes=5)))
    def capped():  # type: ignore[no-untyped-def]
        raise RuntimeError("x")

    handle = capped().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).run_at - clock.now() == timedelta(minutes=5)


def test_jitter_stays_within_a_quarter_either_side(app: Conveyor, clock: FakeClock) -> None:
    @app.job(retry=Retry(retries=1, wait=100, jitter=True))
    def jittery(n):  # type: ignore[no-untyped-def]
        raise RuntimeError(str(n))

    handles = [jittery(n).run_now() for n in range(12)]
    run_until_idle(app)
    delays = {record_of(app, h.id).run_at - clock.now() for h in handles}
    assert all(timedelta(seconds=75) <= d <= timedelta(seconds=125) for d in delays)
    assert len(delays) > 1


def test_a_trigger_level_retry_overrides_the_definition(app: Conveyor, clock: FakeClock) -> None:
    flaky = _flaky(app)
    once = flaky().run_now(retry=Retry(retries=0))
    twice = flaky().run_now(retry=Retry(retries=1, wait="10 seconds"))
    run_until_idle(app)
    assert record_of(app, once.id).state == "failed"
    assert record_of(app, twice.id).run_at == clock.now() + timedelta(seconds=10)
    assert record_of(app, twice.id).max_attempts == 2


def test_between_attempts_result_times_out_rather_than_failing(
    app: Conveyor, clock: FakeClock
) -> None:
    flaky = _flaky(app)
    handle = flaky().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "scheduled"
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)


def test_a_manual_retry_of_a_failed_job_keeps_its_history_and_can_succeed(app: Conveyor) -> None:
    outcomes = iter([RuntimeError("first"), None])

    @app.job(retry=0)
    def sometimes():  # type: ignore[no-untyped-def]
        error = next(outcomes)
        if error:
            raise error
        return "second time lucky"

    handle = sometimes().run_now()
    run_until_idle(app)
    with pytest.raises(JobFailed):
        handle.result(timeout=5)
    assert app.retry(handle.id) is True
    assert record_of(app, handle.id).state == "queued"
    run_until_idle(app)
    assert handle.result(timeout=5) == "second time lucky"
    record = record_of(app, handle.id)
    assert record.attempts == 2 and [a.number for a in record.history] == [1, 2]
    assert record.history[0].error is not None and record.history[1].error is None


def test_cancel_of_a_finished_job_does_nothing(app: Conveyor) -> None:
    @app.job
    def quick():  # type: ignore[no-untyped-def]
        return 1

    handle = quick().run_now()
    run_until_idle(app)
    assert app.cancel(handle.id) is False
    assert record_of(app, handle.id).state == "completed"
    assert app.cancel(handle) is False  # a handle works as well as its id


def test_remove_delay_removes_a_completed_job_only(app: Conveyor, clock: FakeClock) -> None:
    @app.job(retry=0)
    def outcome(ok):  # type: ignore[no-untyped-def]
        if not ok:
            raise RuntimeError("no")
        return ok

    good = outcome(True).run_now(remove_delay="1 hour")
    bad = outcome(False).run_now(remove_delay=timedelta(hours=1))
    run_until_idle(app)
    clock.advance(59, "minutes")
    run_until_idle(app)
    app.purge(expired=True)
    assert app.get_job(good.id) is not None
    clock.advance(2, "minutes")
    run_until_idle(app)
    app.purge(expired=True)
    assert app.get_job(good.id) is None
    assert record_of(app, bad.id).state == "failed"


def test_retention_on_the_trigger_beats_the_app_default(open_app) -> None:  # type: ignore[no-untyped-def]
    app = open_app(retention="30 days")
    with FakeClock(app, start=datetime(2030, 1, 1, tzinfo=UTC)) as clock:

        @app.job
        def kept():  # type: ignore[no-untyped-def]
            return None

        default = kept().run_now()
        short = kept().run_now(retention="1 day")
        run_until_idle(app)
        clock.advance(2, "days")
        app.purge(expired=True)
        assert app.get_job(short.id) is None and app.get_job(default.id) is not None
        clock.advance(29, "days")
        app.purge(expired=True)
        assert app.get_job(default.id) is None


def test_calendar_steps_in_a_zoned_app_land_on_a_real_instant(open_app) -> None:  # type: ignore[no-untyped-def]
    app = open_app(timezone="Europe/Paris")

    @app.job
    def monthly():  # type: ignore[no-untyped-def]
        return None

    # 1 March 09:00 Paris (CET, 08:00 UTC); a month on, Paris keeps summer time.
    with FakeClock(app, start=datetime(2030, 3, 1, 8, tzinfo=UTC)):
        handle = monthly().run_in(1, "month")
    due = record_of(app, handle.id).run_at
    assert due in (datetime(2030, 4, 1, 7, tzinfo=UTC), datetime(2030, 4, 1, 8, tzinfo=UTC))
