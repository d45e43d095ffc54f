"""SPEC §5 — durable jobs, clause by clause: event filters (nested, unicode, missing
fields), event ids across apps, tasks once per key, key reuse, gather, interrupts that
``except Exception`` cannot swallow, waits in every unit, the logger's spellings, ctx,
and background_fetch's scheme check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor import Conveyor, Retry, is_internal
from conveyor.testing import FakeClock, run_until_idle

START = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)
UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")


def _record(app: Conveyor, job: str) -> Any:
    found = app.jobs_list(job=job)
    assert len(found) == 1, found
    return found[0]


def test_event_filters_nested_fields_unicode_values_and_ids_across_apps(
    app: Conveyor, open_app: Callable[..., Conveyor]
) -> None:
    seen: list[object] = []
    filt = {"plan": ["pro", "prämie"], "meta": {"region": ["eu", "日本"]}}

    def welcome(payload: dict[str, object]) -> None:
        seen.append(payload["id"])

    other = open_app()  # another process on the same store
    for each in (app, other):
        each.job("welcome", trigger=each.event("user.créé", filter=filt))(welcome)
    for payload in ({"id": 1, "plan": "free", "meta": {"region": "eu"}},
                    {"id": 2, "plan": "pro", "meta": {"region": "us"}},
                    {"id": 3, "plan": "pro"},
                    {"id": 4, "meta": {"region": "eu"}},
                    {"id": 5, "plan": "PRO", "meta": {"region": "eu"}}):
        app.send_event("user.créé", payload)
    app.send_event("user.créé", {"id": 6, "plan": "prämie", "meta": {"region": "日本"}}, id="é-1")
    other.send_event("user.créé", {"id": 6, "plan": "prämie", "meta": {"region": "日本"}},
                     id="é-1")
    app.send_event("user.cree", {"id": 7, "plan": "pro", "meta": {"region": "eu"}})
    run_until_idle(app)
    assert seen == [6]


def test_a_task_runs_once_per_key_across_replays_and_waits(app: Conveyor) -> None:
    calls: list[int] = []

    def load(i: int) -> dict[str, object]:
        calls.append(i)
        return {"id": i, "email": f"ü{i}@example.com"}

    @app.job("send-welcome", version="1.2.0")
    async def send_welcome(payload: dict[str, int], io: Any, ctx: Any) -> dict[str, object]:
        user = await io.task("load-user", load, payload["id"])
        await io.wait("cool-off", 3, "days")
        await io.logger.debug("debug line")
        await io.logger.info("sending", user=user["email"])
        await io.logger.log("log is info")
        await io.logger.warn("warn line")
        await io.logger.error("error line")
        return {"sent": user["email"], "ctx": [ctx.run_id, ctx.job_id, ctx.version, ctx.attempt]}

    with FakeClock(app, start=START) as clock:
        handle = send_welcome({"id": 7}).run_now()
        run_until_idle(app, clock)
        record = app.get_job(handle.id)
        assert record is not None and record.state == "waiting"
        assert record.run_at == START + timedelta(days=3)
        clock.advance(3, "days")
        run_until_idle(app, clock)
    assert calls == [7]
    assert handle.result(timeout=30) == {"sent": "ü7@example.com",
                                        "ctx": [handle.id, "send-welcome", "1.2.0", 1]}
    logs = [(entry.level, entry.message) for entry in app.get_job(handle.id).logs]  # type: ignore[union-attr]
    levels = {message.split()[0]: level for level, message in logs}
    assert levels["log"] == levels["sending"] == "info"
    assert levels["warn"] in ("warn", "warning") and levels["error"] == "error"


def test_gathered_tasks_are_refused_with_a_clear_error(app: Conveyor) -> None:
    @app.job
    async def gathered(io: Any) -> object:
        return await asyncio.gather(io.task("a", str, 1), io.task("b", str, 2))

    handle = gathered().run_now()
    run_until_idle(app)
    record = app.get_job(handle.id)
    assert record is not None
    if record.state == "completed":  # supported: then it must be right
        assert record.result == ["1", "2"]
    else:
        assert record.state == "failed" and "gather" in record.error["message"]


def test_except_exception_cannot_swallow_a_durable_wait(app: Conveyor) -> None:
    caught: list[BaseException] = []

    @app.job
    async def stubborn(io: Any) -> str:
        try:
            await io.wait("nap", 1, "hour")
        except Exception as exc:  # what user code does
            caught.append(exc)
            return "swallowed"
        except BaseException as exc:
            assert is_internal(exc)
            raise
        return "woke"

    with FakeClock(app, start=START) as clock:
        handle = stubborn().run_now()
        run_until_idle(app, clock)
        assert app.get_job(handle.id).state == "waiting"  # type: ignore[union-attr]
        clock.advance(1, "hour")
        run_until_idle(app, clock)
    assert handle.result(timeout=30) == "woke"
    assert caught == []
    assert not is_internal(RuntimeError("user error"))


WAITS = [(0, "seconds", timedelta(0)), (1500, "milliseconds", timedelta(seconds=1.5)),
         (0.5, "Days", timedelta(hours=12)), (1, "quarter", timedelta(days=90)),
         (1, "year", timedelta(days=365))]


def test_io_wait_in_every_unit(app: Conveyor) -> None:
    @app.job
    async def nap(i: int, io: Any) -> str:
        n, unit, _ = WAITS[i]
        await io.wait("nap", n, unit)
        return "up"

    with FakeClock(app, start=START) as clock:  # Jan 4 + 1 quarter = Apr 4: 90 days
        handles = [nap(i).run_now() for i in range(len(WAITS))]
        run_until_idle(app, clock)
        assert handles[0].result(timeout=30) == "up"  # a wait of 0 does not wait
        for handle, (_, _, delta) in zip(handles[1:], WAITS[1:], strict=True):
            assert app.get_job(handle.id).run_at == START + delta  # type: ignore[union-attr]
        clock.advance(365, "days")
        run_until_idle(app, clock)
    assert [h.result(timeout=30) for h in handles] == ["up"] * len(WAITS)


def test_a_bad_io_wait_fails_the_run_saying_what_is_accepted(app: Conveyor) -> None:
    bad_waits = [(1, "fortnight"), (-1, "seconds"), (1.5, "months")]

    @app.job
    async def nap(i: int, io: Any) -> None:
        await io.wait("nap", *bad_waits[i])

    handles = [nap(i).run_now() for i in range(len(bad_waits))]
    run_until_idle(app)
    for handle, (_, unit) in zip(handles, bad_waits, strict=True):
        record = app.get_job(handle.id)
        assert record is not None and record.state == "failed"
        message = record.error["message"]
        assert "accepted" in message or "whole number" in message
        if unit == "fortnight":
            assert all(name in message for name in UNITS)


def test_try_hands_a_failed_task_to_on_error(app: Conveyor) -> None:
    def boom() -> None:
        raise RuntimeError("boom ✗")

    @app.job
    async def careful(io: Any) -> str:
        return await io.try_(lambda: io.task("t", boom),  # type: ignore[no-any-return]
                             lambda exc: f"handled: {exc}")

    handle = careful().run_now()
    run_until_idle(app)
    result = handle.result(timeout=30)
    assert result.startswith("handled: ") and "boom ✗" in result


def test_background_fetch_refuses_other_schemes(app: Conveyor) -> None:
    targets = ["file:///etc/passwd", "ftp://example.com/x", "/relative", "javascript:alert(1)",
               "gopher://example.com"]

    @app.job
    async def fetch(i: int, io: Any) -> object:
        return await io.background_fetch("f", targets[i])

    handles = [fetch(i).run_now() for i in range(len(targets))]
    run_until_idle(app)
    for handle in handles:
        record = app.get_job(handle.id)
        assert record is not None and record.state == "failed"
        assert "http" in record.error["message"]


def test_a_task_retries_per_its_policy_while_the_run_waits(app: Conveyor) -> None:
    tries: list[int] = []

    def flaky(x: int) -> int:
        tries.append(x)
        if len(tries) < 3:
            raise RuntimeError(f"try {len(tries)}")
        return x * 2

    @app.job
    async def patient(io: Any) -> int:
        return await io.task("flaky-ü", flaky, 21, retry=Retry(retries=3, wait=60))  # type: ignore[no-any-return]

    with FakeClock(app, start=START) as clock:
        handle = patient().run_now()
        for expected_due in (START + timedelta(minutes=1), START + timedelta(minutes=2)):
            run_until_idle(app, clock)
            record = app.get_job(handle.id)
            assert record is not None and record.state == "waiting"
            assert record.run_at == expected_due
            clock.advance(1, "minute")
        run_until_idle(app, clock)
    assert handle.result(timeout=30) == 42 and len(tries) == 3
    assert app.get_job(handle.id).attempts == 1  # type: ignore[union-attr]


def test_a_bad_task_key_or_retry_fails_the_run_saying_why(app: Conveyor) -> None:
    bad_steps: list[tuple[object, object]] = [("", None), (5, None), ("k", "x"), ("k", -1)]

    @app.job
    async def bad(i: int, io: Any) -> object:
        key, retry = bad_steps[i]
        return await io.task(key, str, 1, retry=retry)

    handles = [bad(i).run_now() for i in range(len(bad_steps))]
    run_until_idle(app)
    for handle, (_, retry) in zip(handles, bad_steps, strict=True):
        record = app.get_job(handle.id)
        assert record is not None and record.state == "failed"
        assert ("key" if retry is None else "etr") in record.error["message"]


def test_a_waiting_run_resumes_in_another_app_after_a_restart(
    app: Conveyor, open_app: Callable[..., Conveyor]
) -> None:
    calls: list[str] = []

    def define(where: Conveyor) -> Any:
        @where.job("durable-x")
        async def durable_x(io: Any, ctx: Any) -> list[object]:
            first = await io.task("one", lambda: calls.append("one") or 1)
            await io.wait("nap", 1, "day")
            second = await io.task("two", lambda: calls.append("two") or 2)
            return [first, second, ctx.attempt]
        return durable_x

    with FakeClock(app, start=START):
        handle = define(app)().run_now()
        run_until_idle(app)
        assert app.get_job(handle.id).state == "waiting"  # type: ignore[union-attr]
    app.close()
    later = open_app()
    define(later)
    with FakeClock(later, start=START + timedelta(days=1)) as clock:
        run_until_idle(later, clock)
    assert later.get_job(handle.id).result == [1, 2, 1]  # type: ignore[union-attr]
    assert calls == ["one", "two"]
