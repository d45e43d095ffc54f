"""Odd but legal inputs across §3-6: fractional delays on a fake clock, payload subsets of
lists and scalars, event filters with booleans and numbers, schedules in an app zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START

UNIT_SECONDS = {"milliseconds": 0.001, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400,
                "weeks": 604800}


@settings(max_examples=20, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(n=st.floats(min_value=0, max_value=1000, allow_nan=False), unit=st.sampled_from(
    sorted(UNIT_SECONDS)))
def test_a_fractional_delay_is_due_after_exactly_that_timedelta(
    sqlite_app: Conveyor, n: float, unit: str
) -> None:
    app = sqlite_app
    if "tick" not in app.jobs:
        app.job("tick")(lambda: None)
    with FakeClock(app, start=START) as clock:
        handle = app.jobs["tick"]().run_in(n, unit)
        run_at = record_of(app, handle.id).run_at
        delay = timedelta(**{unit: n})
        assert abs(run_at - (START + delay)) <= timedelta(microseconds=1)
        clock.advance(delay)
        assert run_at <= clock.now(), "due exactly that long later"


def test_payload_subset_of_lists_and_scalars(app: Conveyor) -> None:
    @app.job("any")
    def any_job(value=None, **named):  # type: ignore[no-untyped-def]
        return value

    listed = any_job([1, 2, {"a": True}]).run_in(1, "hour")
    scalar = any_job(7).run_in(1, "hour")
    flags = any_job({"on": True, "n": 1}).run_in(1, "hour")
    floaty = any_job({"n": 1.0}).run_in(1, "hour")
    ids = lambda data: {r.id for r in app.jobs_list(data=data)}  # noqa: E731
    assert ids(1) == {listed.id}
    assert ids([{"a": True}]) == {listed.id}
    assert ids({"on": 1}) == set(), "true is not 1"
    assert ids({"n": 1}) == {flags.id, floaty.id}
    assert ids({"on": True}) == {flags.id}
    assert scalar.id not in ids({"n": 1})
    assert app.cancel_jobs(data={"n": 1.0}) == 2


def test_event_filters_compare_json_values(app: Conveyor) -> None:
    @app.job("counted", trigger=app.event("tick", filter={"n": [1, 2.5], "ok": [True]}))
    async def counted(payload, io):  # type: ignore[no-untyped-def]
        return payload["tag"]

    for tag, payload in [
        ("int", {"n": 1, "ok": True}), ("float", {"n": 2.5, "ok": True}),
        ("one-point-oh", {"n": 1.0, "ok": True}), ("bool-n", {"n": True, "ok": True}),
        ("int-ok", {"n": 1, "ok": 1}), ("missing", {"n": 1}), ("text", {"n": "1", "ok": True}),
        ("huge", {"n": 10**400, "ok": True}),
    ]:
        app.send_event("tick", {**payload, "tag": tag})
    run_until_idle(app)
    assert sorted(r.result for r in app.jobs_list(job="counted")) == ["float", "int",
                                                                       "one-point-oh"]


def test_schedules_follow_the_app_timezone(store_url: str) -> None:
    with Conveyor(store_url, timezone="America/New_York") as app:
        clock = FakeClock(app, start=datetime(2031, 3, 7, 12, tzinfo=UTC))  # a Friday

        @app.job("morning", trigger=app.schedule("every day at 9:30"))
        def morning():  # type: ignore[no-untyped-def]
            return None

        [first] = app.jobs_list(job="morning")
        assert first.run_at == datetime(2031, 3, 7, 14, 30, tzinfo=UTC)  # EST, UTC-5
        for _ in range(2):  # DST starts on Sunday 9 March 2031
            clock.move_to(app.jobs_list(job="morning", state="scheduled")[0].run_at)
            run_until_idle(app)
        [upcoming] = app.jobs_list(job="morning", state="scheduled")
        assert upcoming.run_at == datetime(2031, 3, 9, 13, 30, tzinfo=UTC)  # EDT, UTC-4
        clock.stop()


def test_long_intervals_count_from_creation(app: Conveyor, clock: FakeClock) -> None:
    clock.advance(7, "minutes")

    @app.job("ninety", trigger=app.every("90 minutes"))
    def ninety():  # type: ignore[no-untyped-def]
        return None

    @app.job("quarter", trigger=app.every(timedelta(minutes=15)))
    def quarter():  # type: ignore[no-untyped-def]
        return None

    @app.job("five", trigger=app.every(5, "hours"))
    def five():  # type: ignore[no-untyped-def]
        return None

    def next_of(job: str) -> datetime:
        return app.jobs_list(job=job, state="scheduled")[0].run_at

    assert next_of("ninety") == START + timedelta(minutes=97)
    assert next_of("quarter") == START + timedelta(minutes=15)
    assert next_of("five") == START.replace(hour=10)
    clock.advance(90, "minutes")
    run_until_idle(app)
    assert next_of("ninety") == START + timedelta(minutes=187)
