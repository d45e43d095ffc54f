"""SPEC §5 steps: odd-but-valid keys and results, replays, sleeps of every length."""

from __future__ import annotations

from typing import Any

from conveyor import Conveyor, NonDeterminismError, is_internal
from tests.acceptance.blind_g.support import error_of, rec, settle, typed
from tests.conformance.helpers import ManualClock, drain

VALUES: list[Any] = [
    0, -1, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, 0.1, -0.5, 1.0, 1e308, 5e-324, 1e-7,
    True, False, None, "", "ß😀\u2028\t\"\\'", [], {}, [1, [2, [3, {}]]],
    {"": None, "ü": [True, 1.5, "x"]}, "x" * 70_000,
]


def test_every_json_value_a_step_returns_comes_back_with_its_type(
        capp: Conveyor, clock: ManualClock) -> None:
    seen: list[Any] = []

    @capp.job
    async def values(io: Any) -> Any:
        got = [await io.task(f"v{i}", lambda v=v: v) for i, v in enumerate(VALUES)]
        seen.append(typed(got))
        await io.wait("nap", 1, "second")
        return got

    h = values().run_now()
    settle(capp, clock, seconds=1)
    assert len(seen) == 2
    assert seen[0] == seen[1] == typed(VALUES)
    assert typed(h.result(timeout=30)) == typed(VALUES)


def test_keys_differing_only_in_case_space_or_normalisation_are_distinct_steps(
        app: Conveyor) -> None:
    keys = ["k", "K", "k ", " k", "\u00c5", "A\u030a", "\u212b", "k" * 5000, "k" * 5001]

    @app.job
    async def keyed(io: Any) -> Any:
        return [await io.task(key, len, key) for key in keys]

    h = keyed().run_now()
    drain(app)
    assert h.result(timeout=30) == [len(k) for k in keys]


def test_an_empty_step_key_fails_the_run_with_one_clear_error(app: Conveyor) -> None:
    @app.job
    async def nameless(io: Any) -> Any:
        return await io.task("", lambda: 1)

    h = nameless().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "key" in error_of(app, h)


def test_a_step_reused_with_other_arguments_fails_the_run_naming_the_key(app: Conveyor) -> None:
    @app.job
    async def twice(io: Any) -> Any:
        await io.task("same-ключ", str, 1)
        return await io.task("same-ключ", str, 2)

    h = twice().run_now()
    drain(app)
    assert rec(app, h).state == "failed"
    assert "same-ключ" in error_of(app, h)


def test_a_sleep_of_nothing_still_resumes_and_completes(capp: Conveyor) -> None:
    @capp.job
    async def blink(io: Any) -> Any:
        for i, amount in enumerate([0, 0.0, 1e-9]):
            await io.wait(f"blink-{i}", amount, "seconds")
        return await io.task("after", lambda: "a")

    h = blink().run_now()
    drain(capp)
    assert h.result(timeout=30) == "a"


def test_a_negative_non_finite_or_unknown_sleep_fails_the_run_clearly(app: Conveyor) -> None:
    @app.job
    async def odd_sleep(n: str, unit: str, io: Any) -> Any:
        await io.wait("odd", float(n), unit)
        return "slept"

    bad = [("-1", "seconds", "-1"), ("inf", "days", "inf"), ("1", "fortnight", "fortnight")]
    handles = [odd_sleep(n, unit).run_now() for n, unit, _ in bad]
    drain(app)
    for h, (_, _, named) in zip(handles, bad, strict=True):
        assert rec(app, h).state == "failed"
        assert named in error_of(app, h)
    assert "week" in error_of(app, handles[2])


def test_sleeps_wake_at_the_calendar_time_of_their_unit(capp: Conveyor,
                                                        clock: ManualClock) -> None:
    @capp.job
    async def sleeper(n: float, unit: str, io: Any) -> Any:
        await io.wait("nap", n, unit)
        return unit

    expected = {(1, "month"): "2034-01-31", (2, "months"): "2034-02-28",
                (1, "quarter"): "2034-03-31", (1, "year"): "2034-12-31",
                (1.5, "weeks"): "2034-01-11", (250, "milliseconds"): "2033-12-31T23:59:30.25"}
    handles = {key: sleeper(*key).run_now() for key in expected}
    drain(capp)
    for key, h in handles.items():
        run_at = rec(capp, h).run_at
        assert run_at is not None and run_at.isoformat().startswith(expected[key]), key
    clock.at = rec(capp, handles[(1, "month")]).run_at  # type: ignore[assignment]
    drain(capp)
    done = {key for key, h in handles.items() if rec(capp, h).state == "completed"}
    assert done == {(1, "month"), (1.5, "weeks"), (250, "milliseconds")}


def test_a_durable_run_sleeping_keeps_no_worker_and_counts_as_waiting(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job
    async def napper(n: int, io: Any) -> Any:
        await io.wait("nap", 1, "hour")
        return n

    handles = [napper(n).run_now() for n in range(3)]
    drain(capp)  # a burst worker returns: nothing due, nothing running
    assert capp.count(state="waiting") == 3 and capp.count(state="running") == 0
    settle(capp, clock, hours=1)
    assert [h.result(timeout=30) for h in handles] == [0, 1, 2]


def test_try_takes_the_same_path_on_replay_with_sync_and_async_handlers(
        capp: Conveyor, clock: ManualClock) -> None:
    calls: list[str] = []

    def boom() -> None:
        calls.append("boom")
        raise KeyError("missing")

    async def recover(exc: BaseException) -> str:
        return f"async {type(exc).__name__}"

    @capp.job
    async def careful(io: Any) -> Any:
        first = await io.try_(lambda: io.task("boom", boom), lambda exc: type(exc).__name__)
        second = await io.try_(lambda: io.task("ok", lambda: "fine"), recover)
        third = await io.try_(lambda: io.task("boom2", boom), recover)
        await io.wait("nap", 1, "minute")
        return [first, second, third]

    h = careful().run_now()
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == ["StepFailed", "fine", "async StepFailed"]
    assert calls == ["boom", "boom"]


def test_interrupts_are_base_exceptions_that_is_internal_recognises(
        capp: Conveyor, clock: ManualClock) -> None:
    caught: list[tuple[bool, bool]] = []

    @capp.job
    async def peek(io: Any) -> Any:
        try:
            await io.wait("nap", 1, "minute")
        except BaseException as exc:
            caught.append((isinstance(exc, Exception), is_internal(exc)))
            raise
        return "done"

    h = peek().run_now()
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == "done"
    assert caught and set(caught) == {(False, True)}
    assert not is_internal(ValueError("x")) and not is_internal(KeyboardInterrupt())


def test_a_changed_step_kind_at_a_stored_position_is_a_non_determinism_error(
        capp: Conveyor, clock: ManualClock) -> None:
    shape = {"kind": "task"}

    @capp.job
    async def shifty(io: Any) -> Any:
        if shape["kind"] == "task":
            await io.task("step", lambda: 1)
        else:
            await io.wait("step", 1, "second")
        await io.wait("nap", 1, "minute")
        return "done"

    h = shifty().run_now()
    drain(capp)
    shape["kind"] = "wait"
    settle(capp, clock, minutes=1)
    assert rec(capp, h).state == "failed"
    assert NonDeterminismError.__name__ in error_of(capp, h)
