"""Blind acceptance tests of SPEC §5 (durable jobs); every store."""

from __future__ import annotations

import asyncio
from typing import Any

import conveyor
from conveyor import (
    Conveyor,
    FetchRefused,
)
from tests.acceptance.blind_core.support import (
    field,
    record,
)
from tests.conformance.helpers import ManualClock, drain


def test_tasks_run_once_per_run_across_a_durable_wait(capp: Conveyor,
                                                      clock: ManualClock) -> None:
    calls: list[str] = []

    def load(x: str) -> dict[str, str]:
        calls.append(x)
        return {"value": x + "✓"}

    @capp.job
    async def flow(payload: Any, io: Any) -> Any:
        first = await io.task("load-ü", load, payload["id"])
        await io.wait("cool-off", 2.5, "days")
        second = await io.task("load-again", load, "b")
        return [first, second]

    handle = flow({"id": "a"}).run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    clock.advance(days=2.5)
    drain(capp)
    assert handle.result(timeout=30) == [{"value": "a✓"}, {"value": "b✓"}]
    assert calls == ["a", "b"]


def test_reusing_a_task_key_with_other_arguments_is_an_error(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> None:
        await io.task("same", lambda x: x, 1)
        await io.task("same", lambda x: x, 2)

    handle = flow({}).run_now()
    drain(app)
    assert record(app, handle).state == "failed"


def test_except_exception_cannot_swallow_a_durable_wait(capp: Conveyor) -> None:
    caught: list[BaseException] = []

    @capp.job
    async def flow(payload: Any, io: Any) -> str:
        try:
            await io.wait("nap", 1, "week")
        except Exception:
            return "swallowed"
        except BaseException as exc:
            caught.append(exc)
            raise
        return "woke"

    handle = flow(None).run_now()
    drain(capp)
    assert record(capp, handle).state == "waiting"
    assert caught and all(conveyor.is_internal(exc) for exc in caught)
    assert not conveyor.is_internal(RuntimeError("x"))


def test_ctx_carries_version_and_attempt(app: Conveyor) -> None:
    @app.job("ctx-job", version="0.0.1")
    async def flow(payload: Any, io: Any, ctx: Any) -> list[Any]:
        return [ctx.version, ctx.attempt]

    handle = flow([]).run_now()
    drain(app)
    assert handle.result(timeout=30) == ["0.0.1", 1]


def test_durable_logger_try_and_gather(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        await io.logger.info("ünïcode line", n=1)
        await io.logger.log("as info")

        def broken() -> None:
            raise RuntimeError("inner")

        recovered = await io.try_(broken, lambda exc: f"handled {exc}")
        return recovered

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=30) == "handled inner"
    lines = " ".join(str(getattr(line, "message", line)) for line in record(app, handle).logs)
    assert "ünïcode line" in lines and "as info" in lines


def test_gather_of_tasks_is_right_or_refused(app: Conveyor) -> None:
    @app.job
    async def flow(payload: Any, io: Any) -> Any:
        return list(await asyncio.gather(io.task("a", lambda: "A"), io.task("b", lambda: "B")))

    handle = flow({}).run_now()
    drain(app)
    rec = record(app, handle)
    if rec.state == "completed":
        assert rec.result == ["A", "B"]
    else:
        assert rec.state == "failed"
        assert field(rec.error, "message")


def test_background_fetch_refuses_non_http_schemes(app: Conveyor) -> None:
    urls = ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "javascript:alert(1)",
            "HTTP"]

    @app.job
    async def flow(payload: Any, io: Any) -> list[str]:
        outcomes = []
        for n, url in enumerate(urls):
            try:
                await io.background_fetch(f"fetch-{n}", url)
            except FetchRefused:
                outcomes.append("refused")
            else:
                outcomes.append("fetched")
        return outcomes

    handle = flow({}).run_now()
    drain(app)
    assert handle.result(timeout=30) == ["refused"] * len(urls)


def test_events_start_matching_runs_once_per_id(app: Conveyor) -> None:
    got: list[Any] = []

    @app.job("on-signup", trigger=app.event("üser.créated",
                                             filter={"plan": ["pro", "téam"],
                                                     "org": {"tier": [1, 2]}}))
    async def on_signup(payload: Any, io: Any) -> None:
        got.append(payload)

    matching = {"plan": "téam", "org": {"tier": 2, "x": None}, "extra": [1]}
    app.send_event("üser.créated", matching, id="évent-1")
    app.send_event("üser.créated", matching, id="évent-1")
    app.send_event("üser.créated", {"plan": "free", "org": {"tier": 1}})
    app.send_event("üser.created", matching)
    app.send_event("üser.créated", {"plan": "pro", "org": {"tier": 10**40}})
    app.send_event("üser.créated", {"plan": "pro", "org": {"tier": 1e300}})
    app.send_event("üser.créated", {"plan": "pro"})
    drain(app)
    assert got == [matching]
