"""§5 durable replay edge cases: failures inside steps read the same on every replay,
keys reused with other arguments, zero and fractional waits, swallowed interrupts, the
run context, and events with nested filters and repeated ids."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor import Conveyor, Fail, JobFailed, Retry, RetryIn, is_internal
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def test_a_step_that_failed_is_not_run_again_and_fails_alike_on_replay(
    app: Conveyor, clock: FakeClock
) -> None:
    calls: list[str] = []
    seen: list[tuple[str, str]] = []

    def fragile() -> None:
        calls.append("fragile")
        raise LookupError("gone ✗")

    @app.job
    async def careful(io):  # type: ignore[no-untyped-def]
        try:
            await io.task("fragile", fragile, retry=Retry(retries=0))
        except Exception as error:  # the step's failure, not an interrupt
            seen.append((type(error).__name__, str(error)))
        await io.wait("pause", 1, "hour")
        return "fallback"

    handle = careful().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(1, "hour")
    run_until_idle(app)
    assert handle.result(timeout=5) == "fallback"
    assert calls == ["fragile"]
    assert len(seen) == 2 and seen[0] == seen[1]
    assert "gone ✗" in seen[0][1]


def test_a_key_reused_with_other_arguments_fails_the_run_naming_the_key(app: Conveyor) -> None:
    def double(x: int) -> int:
        return 2 * x

    @app.job(retry=0)
    async def reuses(io):  # type: ignore[no-untyped-def]
        await io.task("twice-ключ", double, 1)
        await io.task("twice-ключ", double, 2)

    handle = reuses().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error is not None and "twice-ключ" in record.error["message"]


def test_the_same_key_in_two_runs_runs_once_in_each(app: Conveyor) -> None:
    calls: list[int] = []

    def count(n: int) -> int:
        calls.append(n)
        return n * 10

    @app.job
    async def uses_key(n, io):  # type: ignore[no-untyped-def]
        return await io.task("shared-name", count, n)

    handles = [uses_key(n).run_now() for n in (1, 2)]
    run_until_idle(app)
    assert [h.result(timeout=5) for h in handles] == [10, 20]
    assert sorted(calls) == [1, 2]


def test_step_results_come_back_with_their_json_types_on_replay(
    app: Conveyor, clock: FakeClock
) -> None:
    value: dict[str, Any] = {"big": 2**70, "f": 1.0, "neg": -0.5, "u": "ñ", "l": [None, True]}
    returned: list[Any] = []

    @app.job
    async def keeps(io):  # type: ignore[no-untyped-def]
        got = await io.task("load", lambda: value)
        returned.append(got)
        await io.wait("nap", 1, "minute")
        return got

    handle = keeps().run_now()
    run_until_idle(app)
    clock.advance(1, "minute")
    run_until_idle(app)
    assert handle.result(timeout=5) == value
    assert returned[0] == returned[1] == value
    assert type(returned[1]["f"]) is float and type(returned[1]["big"]) is int


def test_zero_and_fractional_waits(app: Conveyor, clock: FakeClock) -> None:
    @app.job
    async def naps(io):  # type: ignore[no-untyped-def]
        await io.wait("none", 0, "seconds")
        await io.wait("half", 0.5, "seconds")
        await io.wait("quarter-day", 0.25, "days")
        return "awake"

    handle = naps().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(0.5, "seconds")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(6, "hours")
    run_until_idle(app)
    assert handle.result(timeout=5) == "awake"


@pytest.mark.parametrize(
    ("n", "unit"), [(-1, "seconds"), (1, "fortnights"), (float("nan"), "hours")]
)
def test_a_bad_wait_fails_the_run_with_a_clear_error(app: Conveyor, n: float, unit: str) -> None:
    @app.job(retry=0)
    async def bad_wait(io):  # type: ignore[no-untyped-def]
        await io.wait("w", n, unit)

    handle = bad_wait().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed"
    assert record.error is not None and (
        "accepted" in record.error["message"] or unit in record.error["message"]
    )


def test_except_exception_cannot_swallow_a_durable_wait(app: Conveyor, clock: FakeClock) -> None:
    caught: list[str] = []
    internal: list[bool] = []

    @app.job
    async def greedy(io):  # type: ignore[no-untyped-def]
        try:
            await io.wait("sleep", 2, "days")
        except Exception as error:
            caught.append(repr(error))
        except BaseException as interrupt:
            internal.append(is_internal(interrupt))
            raise
        return "after"

    handle = greedy().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    assert caught == [] and internal == [True]
    assert is_internal(ValueError("plain")) is False
    clock.advance(2, "days")
    run_until_idle(app)
    assert handle.result(timeout=5) == "after"


def test_the_run_context_names_the_run_job_version_attempt_and_trigger(app: Conveyor) -> None:
    @app.job("ctx-reader", version="2.0.1", retry=Retry(retries=1, wait=0))
    async def ctx_reader(io, ctx):  # type: ignore[no-untyped-def]
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return [ctx.run_id, ctx.job_id, ctx.version, ctx.attempt, ctx.trigger]

    handle = ctx_reader().run_now()
    run_until_idle(app)
    run_id, job_id, version, attempt, trigger = handle.result(timeout=5)
    assert run_id == handle.id and job_id == "ctx-reader" and version == "2.0.1"
    assert attempt == 2 and trigger["type"] == "invoke"
    assert record_of(app, handle.id).version == "2.0.1"


def test_a_retried_durable_run_does_not_repeat_its_finished_steps(app: Conveyor) -> None:
    calls: list[str] = []

    @app.job(retry=Retry(retries=2, wait=0))
    async def resumable(io, meta):  # type: ignore[no-untyped-def]
        await io.task("charge", lambda: calls.append("charge"))
        if meta.attempt < 3:
            raise RuntimeError(f"crash after charging, attempt {meta.attempt}")
        return await io.task("ship", lambda: calls.append("ship") or "shipped")

    handle = resumable().run_now()
    run_until_idle(app)
    assert handle.result(timeout=5) == "shipped"
    assert calls == ["charge", "ship"]


def test_gathered_steps_are_right_or_refused_never_silently_wrong(
    app: Conveyor, clock: FakeClock
) -> None:
    calls: list[int] = []

    def square(n: int) -> int:
        calls.append(n)
        return n * n

    @app.job(retry=0)
    async def fan_out(io):  # type: ignore[no-untyped-def]
        results = await asyncio.gather(*(io.task(f"sq-{n}", square, n) for n in range(4)))
        await io.wait("rest", 1, "minute")
        return list(results)

    handle = fan_out().run_now()
    run_until_idle(app)
    clock.advance(1, "minute")
    run_until_idle(app)
    record = record_of(app, handle.id)
    if record.state == "completed":
        assert record.result == [0, 1, 4, 9]
        assert sorted(calls) == [0, 1, 2, 3]
    else:
        assert record.state == "failed" and record.error is not None
        assert "gather" in record.error["message"] or "concurrent" in record.error["message"]


def test_events_match_nested_filters_and_a_repeated_id_starts_once(app: Conveyor) -> None:
    @app.job(trigger=app.event("user.créé", filter={"user": {"plan": ["pro", "team"]}}))
    async def welcome(payload, io):  # type: ignore[no-untyped-def]
        return payload["user"]["name"]

    app.send_event("user.créé", {"user": {"plan": "pro", "name": "Zoë"}}, id="evt-1")
    app.send_event("user.créé", {"user": {"plan": "pro", "name": "Zoë"}}, id="evt-1")
    app.send_event("user.créé", {"user": {"plan": "free", "name": "Free"}})
    app.send_event("user.créé", {"user": {"name": "No plan"}})
    app.send_event("user.created", {"user": {"plan": "pro", "name": "Other name"}})
    app.send_event("user.créé", {"user": {"plan": "team", "name": "Team"}})
    run_until_idle(app)
    assert sorted(r.result for r in app.jobs_list(job="welcome")) == ["Team", "Zoë"]


def test_an_event_run_knows_its_event(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid"))
    async def on_paid(payload, io, ctx):  # type: ignore[no-untyped-def]
        return ctx.trigger

    app.send_event("order.paid", {"order": 1}, id="paid-1")
    run_until_idle(app)
    [run] = app.jobs_list(job="on_paid")
    assert run.result["type"] == "event" and run.result["event_id"] == "paid-1"
    assert run.result["event_name"] == "order.paid"


def test_a_durable_sleep_of_a_month_is_a_calendar_month(app: Conveyor) -> None:
    @app.job
    async def monthly_nap(io):  # type: ignore[no-untyped-def]
        await io.wait("m", 1, "month")
        return "done"

    with FakeClock(app, start=datetime(2030, 1, 31, 9, tzinfo=UTC)) as clock:
        handle = monthly_nap().run_now()
        run_until_idle(app)
        clock.move_to(datetime(2030, 2, 28, 9, tzinfo=UTC) - timedelta(microseconds=1))
        run_until_idle(app)
        assert record_of(app, handle.id).state == "waiting"
        clock.advance(timedelta(microseconds=1))
        run_until_idle(app)
        assert handle.result(timeout=5) == "done"


def test_a_sync_function_with_io_fails_its_run_saying_it_must_be_async(app: Conveyor) -> None:
    # The definition is accepted (a trigger-side stub may be sync); running it is not.
    @app.job(retry=Retry(retries=3))
    def not_async(payload, io):  # type: ignore[no-untyped-def]
        return payload

    handle = not_async({"x": 1}).run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "failed" and record.attempts == 1
    assert record.error is not None and "async def" in record.error["message"]


def _onboarding(app: Conveyor, calls: list[str]):  # type: ignore[no-untyped-def]
    @app.job("onboard")
    async def onboard(user, io):  # type: ignore[no-untyped-def]
        profile = await io.task("load", lambda: calls.append("load") or {"name": user})
        await io.wait("cool-off", 3, "days")
        return f"welcome {profile['name']}"

    return onboard


def test_a_durable_sleep_resumes_in_a_new_app_after_a_restart(open_app) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2030, 1, 7, 8, tzinfo=UTC)
    before, after = [], []
    first = open_app()
    with FakeClock(first, start=start):
        handle = _onboarding(first, before)("Zoë").run_now()
        run_until_idle(first)
    first.close()
    second = open_app()
    with FakeClock(second, start=start + timedelta(days=3)):
        _onboarding(second, after)
        run_until_idle(second)
    assert record_of(second, handle.id).result == "welcome Zoë"
    assert before == ["load"] and after == []


def test_a_waiting_run_cancelled_stays_cancelled(app: Conveyor, clock: FakeClock) -> None:
    calls: list[str] = []
    handle = _onboarding(app, calls)("Ann").run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    assert app.cancel(handle.id) is True
    clock.advance(4, "days")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "cancelled"
    with pytest.raises(JobFailed):
        handle.result(timeout=5)


def test_fail_raised_in_a_step_fails_the_run_without_retrying(app: Conveyor) -> None:
    calls: list[str] = []

    def charge() -> None:
        calls.append("charge")
        raise Fail("card declined for good")

    @app.job(retry=Retry(retries=5, wait="1 hour"))
    async def checkout(io):  # type: ignore[no-untyped-def]
        await io.task("charge", charge)

    handle = checkout().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.attempts, calls) == ("failed", 1, ["charge"])
    with pytest.raises(JobFailed) as caught:
        handle.result(timeout=5)
    assert "card declined for good" in str(caught.value)


def test_retry_in_raised_in_a_step_reschedules_that_step(app: Conveyor, clock: FakeClock) -> None:
    calls: list[str] = []

    def poll_export() -> str:
        calls.append("poll")
        if len(calls) == 1:
            raise RetryIn(30, "seconds")
        return "exported"

    @app.job(retry=0)
    async def export(io):  # type: ignore[no-untyped-def]
        return await io.task("poll", poll_export)

    handle = export().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(29, "seconds")
    run_until_idle(app)
    assert calls == ["poll"]
    clock.advance(1, "second")
    run_until_idle(app)
    assert handle.result(timeout=5) == "exported"
    assert calls == ["poll", "poll"]
