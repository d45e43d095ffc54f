"""SPEC §5's snippet taken literally (``background_fetch`` aside: no network), then varied:
sync and async task functions, keyword arguments, every wait unit, each logger level,
``io.try_`` with sync and async handlers, ``ctx``'s fields, and every way to call
``app.send_event(name, payload, id=None)``."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor import Conveyor, is_internal
from tests.acceptance.blind_core.support import UNITS, field, record
from tests.conformance.helpers import ManualClock, drain


def load_user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "email": f"u{user_id}@example.com"}


def define_send_welcome(app: Conveyor, seen: list[Any]) -> Any:
    """SPEC §5's job, verbatim but for its ``background_fetch`` line."""

    @app.job("send-welcome", name="Send welcome email", version="1.2.0",
             trigger=app.event("user.created", filter={"plan": ["pro"]}))
    async def send_welcome(payload, io, ctx):  # type: ignore[no-untyped-def]
        seen.append(ctx)
        user = await io.task("load-user", load_user, payload["id"])
        await io.wait("cool-off", 3, "days")
        await io.logger.info("sending", user=user["email"])
        await io.send_event("welcome-sent", "welcome.sent", {"id": user["id"]})
        return {"sent": True}           # the run's output

    return send_welcome


def test_section_five_snippet_runs_from_its_event(capp: Conveyor, clock: ManualClock) -> None:
    seen: list[Any] = []
    define_send_welcome(capp, seen)
    capp.send_event("user.created", {"id": 5, "plan": "pro"})
    capp.send_event("user.created", {"id": 6, "plan": "free"})
    drain(capp)
    (run,) = capp.jobs_list(job="send-welcome")
    assert run.state == "waiting"
    clock.advance(days=3)
    drain(capp)
    run = record(capp, run.id)
    assert (run.state, run.result, run.version) == ("completed", {"sent": True}, "1.2.0")
    assert any(entry.level == "info" and "sending" in entry.message for entry in run.logs)
    ctx = seen[-1]
    assert isinstance(ctx.run_id, int) and ctx.run_id == run.id
    assert (ctx.job_id, ctx.version, ctx.attempt) == ("send-welcome", "1.2.0", 1)
    assert ctx.trigger is not None


def test_send_event_id_positionally_or_by_keyword_starts_runs_once(app: Conveyor) -> None:
    define_send_welcome(app, [])
    payload = {"id": 1, "plan": "pro"}
    first = app.send_event("user.created", payload, "evt-1")
    again = app.send_event("user.created", payload, id="evt-1")
    app.send_event(name="user.created", payload=payload, id="evt-1")
    assert app.count(job="send-welcome") == 1
    assert first.id == again.id == "evt-1"
    app.send_event("user.created", payload, None)
    app.send_event("user.created", payload)
    assert app.count(job="send-welcome") == 3


def test_nested_filter_allows_only_the_listed_values(app: Conveyor) -> None:
    @app.job(trigger=app.event("order.paid", filter={"customer": {"tier": ["gold", "vip"]}}))
    def on_paid(payload: Any) -> Any:
        return payload

    for payload in [{"customer": {"tier": "gold"}}, {"customer": {"tier": "vip", "n": 2}},
                    {"customer": {"tier": "bronze"}}, {"customer": {}}, {"tier": "gold"}, {}]:
        app.send_event("order.paid", payload)
    assert sorted(r.args[0]["customer"]["tier"] for r in app.jobs_list(job="on_paid")) == [
        "gold", "vip"]


def plain_double(x: int, times: int = 1) -> int:
    return 2 * x * times


async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def test_tasks_sync_async_and_keyword_arguments_run_once(capp: Conveyor,
                                                         clock: ManualClock) -> None:
    calls: list[str] = []

    def counted(name: str) -> str:
        calls.append(name)
        return name

    @capp.job
    async def steps(n: int, io: Any) -> list[Any]:
        out = [await io.task("sync", plain_double, n),
               await io.task("async", async_double, n),
               await io.task("kw", plain_double, n, times=3),
               await io.task("counted", counted, "once", retry=2)]
        await io.wait("pause", 1, "hour")
        return out

    handle = steps(5).run_now()
    drain(capp)
    clock.advance(hours=1)
    drain(capp)
    assert handle.result(timeout=30) == [10, 10, 30, "once"]
    assert calls == ["once"]


def test_wait_takes_every_unit_spelling(capp: Conveyor, clock: ManualClock) -> None:
    spellings = [u for unit in UNITS for u in (unit, unit + "s")]

    @capp.job
    async def sleeper(io: Any) -> int:
        for i, unit in enumerate(spellings):
            await io.wait(f"w{i}", 1, unit)
        return len(spellings)

    handle = sleeper().run_now()
    for _ in range(len(spellings) + 1):
        drain(capp)
        if record(capp, handle).state != "waiting":
            break
        clock.advance(days=370)
    assert handle.result(timeout=30) == len(spellings)


def test_each_logger_level_and_log_as_info(app: Conveyor) -> None:
    @app.job
    async def chatty(io: Any) -> None:
        for level in ("debug", "info", "warn", "error", "log"):
            await getattr(io.logger, level)(f"via {level}")

    drain_one(app, chatty)
    levels = {entry.message: entry.level for entry in app.jobs_list(job="chatty")[0].logs}
    assert levels["via info"] == levels["via log"] == "info"
    assert levels["via warn"].startswith("warn")
    assert levels["via error"] == "error"
    assert set(levels) >= {"via info", "via log", "via warn", "via error"}


def test_logger_fields_as_keywords_or_as_trigger_dev_properties(app: Conveyor) -> None:
    @app.job
    async def chatty(io: Any) -> None:
        await io.logger.info("kw", user="a@x")
        await io.logger.info("dict", {"user": "a@x"})
        await io.logger.log("both", {"a": 1, "b": 2}, b=3)
        await io.logger.warn("none")

    drain_one(app, chatty)
    assert [e.message for e in app.jobs_list(job="chatty")[0].logs] == [
        "kw user='a@x'", "dict user='a@x'", "both a=1 b=3", "none"]


def drain_one(app: Conveyor, job: Any) -> Any:
    handle = job().run_now()
    drain(app)
    return handle.result(timeout=30)


def test_try_with_sync_and_async_functions_and_handlers(app: Conveyor) -> None:
    def broken() -> None:
        raise RuntimeError("sync boom")

    async def abroken() -> None:
        raise KeyError("async boom")

    async def ahandler(exc: Exception) -> str:
        return f"async {type(exc).__name__}"

    @app.job
    async def guarded(io: Any) -> list[Any]:
        return [await io.try_(broken, lambda exc: f"sync {type(exc).__name__}"),
                await io.try_(abroken, ahandler),
                await io.try_(lambda: "fine", lambda exc: "unused")]

    assert drain_one(app, guarded) == ["sync RuntimeError", "async KeyError", "fine"]


def test_except_exception_cannot_swallow_a_durable_wait(capp: Conveyor,
                                                        clock: ManualClock) -> None:
    caught: list[BaseException] = []

    @capp.job
    async def swallower(io: Any) -> str:
        try:
            await io.wait("nap", 1, "day")
        except Exception as exc:  # the replay interrupt must not land here
            caught.append(exc)
            return "swallowed"
        except BaseException as exc:
            assert is_internal(exc)
            raise
        return "slept"

    handle = swallower().run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    clock.advance(days=1)
    drain(capp)
    assert (handle.result(timeout=30), caught) == ("slept", [])
    assert not is_internal(RuntimeError("plain"))


def test_reusing_a_task_key_with_other_arguments_is_an_error(app: Conveyor) -> None:
    @app.job
    async def reuse(io: Any) -> None:
        await io.task("k-ü", plain_double, 1)
        await io.task("k-ü", plain_double, 2)

    handle = reuse().run_now()
    drain(app)
    rec = record(app, handle)
    assert rec.state == "failed"
    assert "'k-ü'" in field(rec.error, "message")


def test_filter_values_match_as_json_values_not_python_equality(app: Conveyor) -> None:
    """``True == 1`` in Python, but ``true`` is not the number 1 in a JSON payload."""
    allowed = {"one": [1], "true": [True], "zero": [0], "false": [False], "text": ["1"]}
    for name, values in allowed.items():
        app.job(name, trigger=app.event("flag.set", {"v": values}))(lambda payload: None)
    started = {}
    for value in (1, 1.0, True, 0, False, "1", None):
        event = app.send_event("flag.set", {"v": value})
        started[repr(value)] = sorted(record(app, run).job for run in event.runs)
    assert started == {"1": ["one"], "1.0": ["one"], "True": ["true"], "0": ["zero"],
                       "False": ["false"], "'1'": ["text"], "None": []}
