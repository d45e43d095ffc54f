"""§5 durable runs: steps once per key across replays, sleeps that cancel cleanly,
interrupts user code cannot swallow, gather refused, ctx, and events with nested filters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conveyor import Conveyor, is_internal
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of

from .conftest import START


def test_steps_run_once_and_sleep_releases_the_worker(app: Conveyor, clock: FakeClock) -> None:
    calls: list[str] = []

    def load(user_id):  # type: ignore[no-untyped-def]
        calls.append(f"load {user_id}")
        return {"id": user_id, "name": "Zoë ✓"}

    @app.job("welcome", version="1.2.0")
    async def welcome(payload, io, ctx):  # type: ignore[no-untyped-def]
        user = await io.task("load-user", load, payload["id"])
        again = await io.task("load-user", load, payload["id"])  # same args: stored result
        await io.wait("cool-off", 1.5, "days")
        await io.logger.info("sending", user=user["name"])
        return {"user": user, "same": again == user, "ctx": [ctx.run_id, ctx.job_id,
                                                             ctx.version, ctx.attempt]}

    handle = welcome({"id": 7}).run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert record.state == "waiting"
    assert record.run_at == START + timedelta(days=1.5)
    clock.advance(1, "day")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    clock.advance(12, "hours")
    run_until_idle(app)
    assert handle.result(timeout=30) == {
        "user": {"id": 7, "name": "Zoë ✓"}, "same": True,
        "ctx": [handle.id, "welcome", "1.2.0", 1],
    }
    assert calls == ["load 7"]
    assert record_of(app, handle.id).version == "1.2.0"


def test_cancel_during_a_durable_sleep_is_final(app: Conveyor, clock: FakeClock) -> None:
    after: list[str] = []

    @app.job("sleeper")
    async def sleeper(io):  # type: ignore[no-untyped-def]
        await io.wait("nap", 2, "hours")
        after.append("woke")

    handle = sleeper().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    assert app.cancel_jobs(type="sleeper", state="waiting") == 1
    clock.advance(1, "day")
    run_until_idle(app)
    assert record_of(app, handle.id).state == "cancelled"
    assert after == []


def test_except_exception_cannot_swallow_a_durable_interrupt(
    app: Conveyor, clock: FakeClock
) -> None:
    caught: list[bool] = []

    @app.job("careless")
    async def careless(io):  # type: ignore[no-untyped-def]
        try:
            await io.wait("nap", 10, "minutes")
        except Exception:  # the point of the test
            return "swallowed"
        except BaseException as exc:
            caught.append(is_internal(exc))
            raise
        return "slept"

    handle = careless().run_now()
    run_until_idle(app)
    assert record_of(app, handle.id).state == "waiting"
    assert caught == [True]
    assert not is_internal(ValueError("user error"))
    clock.advance(10, "minutes")
    run_until_idle(app)
    assert handle.result(timeout=30) == "slept"


def test_gather_of_steps_is_correct_or_refused(app: Conveyor) -> None:
    @app.job("gatherer")
    async def gatherer(io):  # type: ignore[no-untyped-def]
        return list(await asyncio.gather(io.task("a", str, 1), io.task("b", str, 2)))

    handle = gatherer().run_now()
    run_until_idle(app)
    record = record_of(app, handle.id)
    if record.state == "completed":
        assert record.result == ["1", "2"]
    else:
        assert record.state == "failed"
        assert "'b'" in record.error["message"] or "'a'" in record.error["message"]


def test_task_retry_and_durable_failure(app: Conveyor, clock: FakeClock) -> None:
    from conveyor import Retry

    tries: list[int] = []

    def shaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("flaky network")
        return "fine"

    @app.job("with-retry")
    async def with_retry(io):  # type: ignore[no-untyped-def]
        return await io.task("shaky", shaky, retry=Retry(retries=3, wait=5))

    handle = with_retry().run_now()
    for _ in range(4):
        run_until_idle(app)
        clock.advance(5, "seconds")
    run_until_idle(app)
    assert handle.result(timeout=30) == "fine"
    assert len(tries) == 3


def test_events_start_matching_runs_once_per_id(app: Conveyor) -> None:
    @app.job("on-signup", trigger=app.event(
        "user.created", filter={"plan": ["pro", "team"], "org": {"region": ["eu"]}}))
    async def on_signup(payload, io, ctx):  # type: ignore[no-untyped-def]
        return [payload["name"], ctx.trigger["type"], ctx.trigger["event_id"]]

    app.send_event("user.created", {"plan": "pro", "org": {"region": "eu"}, "name": "a"},
                   id="e-1")
    app.send_event("user.created", {"plan": "pro", "org": {"region": "eu"}, "name": "a"},
                   id="e-1")
    app.send_event("user.created", {"plan": "free", "org": {"region": "eu"}, "name": "b"})
    app.send_event("user.created", {"plan": "team", "org": {"region": "us"}, "name": "c"})
    app.send_event("user.created", {"plan": "team", "name": "d"})
    app.send_event("user.deleted", {"plan": "team", "org": {"region": "eu"}, "name": "e"})
    run_until_idle(app)
    runs = app.jobs_list(job="on-signup")
    assert [r.result for r in runs] == [["a", "event", "e-1"]]


def test_io_helpers_and_a_retry_after_a_finished_sleep(app: Conveyor, clock: FakeClock) -> None:
    from conveyor import Retry

    heard: list[object] = []

    @app.job("listener", trigger=app.event("welcome.sent"))
    async def listener(payload, io):  # type: ignore[no-untyped-def]
        heard.append(payload)

    async def boom() -> None:
        raise ValueError("bad")

    @app.job("helpers", retry=Retry(retries=1, wait=10))
    async def helpers(x, io, meta):  # type: ignore[no-untyped-def]
        handled = await io.try_(boom, lambda exc: f"handled {type(exc).__name__}")
        await io.send_event("sent", "welcome.sent", {"x": x})
        await io.logger.warn("warned", n=1)
        await io.logger.log("logged")
        await io.wait("nap", 5, "minutes")
        if meta.attempt == 1:
            raise RuntimeError("after the nap")
        try:
            await io.background_fetch("fetch", "file:///etc/passwd")
        except Exception as exc:  # the refusal, whatever its type
            return [handled, "file" in str(exc)]
        return [handled, "fetched a file: URL"]

    handle = helpers("ü").run_now()
    run_until_idle(app)
    clock.advance(5, "minutes")
    run_until_idle(app)
    record = record_of(app, handle.id)
    assert (record.state, record.error["message"]) == ("scheduled", "after the nap")
    clock.advance(10, "seconds")
    run_until_idle(app)  # the retry replays: the sleep already happened
    assert handle.result(timeout=30) == ["handled ValueError", True]
    assert heard == [{"x": "ü"}], "the event was sent once across replays and retries"
    messages = [entry.message for entry in record_of(app, handle.id).logs]
    assert sum("warned" in m for m in messages) == 1
    assert sum("logged" in m for m in messages) == 1
