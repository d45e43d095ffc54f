"""§5 the other ``io`` calls across replays: log lines and sent events happen once per
run, steps retry per their policy, fetches refuse other schemes; event filters compare
values by type."""

from __future__ import annotations

import pytest

from conveyor import Conveyor, Retry
from conveyor.testing import FakeClock, run_until_idle
from tests.acceptance.support import record_of


def test_durable_log_lines_are_stored_once_across_replays(app: Conveyor, clock: FakeClock) -> None:
    @app.job
    async def chatty(io):  # type: ignore[no-untyped-def]
        await io.logger.debug("dbg line")
        await io.logger.info("info line", user="zoë")
        await io.logger.log("log line")
        await io.wait("nap", 1, "hour")
        await io.logger.warn("warn line")
        await io.logger.error("error line")
        return "ok"

    handle = chatty().run_now()
    run_until_idle(app)
    clock.advance(1, "hour")
    run_until_idle(app)
    assert handle.result(timeout=5) == "ok"
    messages = [entry.message for entry in record_of(app, handle.id).logs]
    for line in ("dbg line", "info line", "log line", "warn line", "error line"):
        assert sum(line in m for m in messages) == 1, (line, messages)
    levels = {e.message.split()[0]: e.level.lower() for e in record_of(app, handle.id).logs}
    assert levels["log"] == levels["info"] == "info"
    assert levels["warn"] in ("warn", "warning") and levels["error"] == "error"


def test_an_event_sent_from_a_durable_run_is_sent_once(app: Conveyor, clock: FakeClock) -> None:
    @app.job(trigger=app.event("welcome.sent"))
    async def count_welcomes(payload, io):  # type: ignore[no-untyped-def]
        return payload

    @app.job
    async def sender(io):  # type: ignore[no-untyped-def]
        await io.send_event("sent", "welcome.sent", {"id": 7})
        await io.wait("then", 1, "day")
        return "done"

    handle = sender().run_now()
    run_until_idle(app)
    clock.advance(1, "day")
    run_until_idle(app)
    assert handle.result(timeout=5) == "done"
    assert [r.result for r in app.jobs_list(job="count_welcomes")] == [{"id": 7}]


def test_a_step_retries_per_its_own_policy_then_succeeds_once(
    app: Conveyor, clock: FakeClock
) -> None:
    calls: list[int] = []

    def shaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)}")
        return "fine"

    @app.job(retry=0)
    async def patient(io):  # type: ignore[no-untyped-def]
        return await io.task("shaky", shaky, retry=Retry(retries=3, wait=60))

    handle = patient().run_now()
    for _ in range(6):
        run_until_idle(app)
        if record_of(app, handle.id).state == "completed":
            break
        clock.advance(60, "seconds")
    assert handle.result(timeout=5) == "fine"
    assert len(calls) == 3


def test_a_fetch_of_another_scheme_is_refused(app: Conveyor) -> None:
    @app.job(retry=0)
    async def fetches(url, io):  # type: ignore[no-untyped-def]
        try:
            await io.background_fetch("get", url)
        except Exception as error:
            return [type(error).__name__, str(error)]
        return "fetched"

    handles = [
        fetches(u).run_now() for u in ("file:///etc/passwd", "ftp://example.org/x", "gopher://x")
    ]
    run_until_idle(app)
    for handle, scheme in zip(handles, ("file", "ftp", "gopher"), strict=True):
        name, message = handle.result(timeout=5)
        assert name == "FetchRefused" or "Refused" in name or "Value" in name, name
        assert scheme in message and "http" in message, message


def test_event_filters_compare_values_with_their_types(app: Conveyor) -> None:
    @app.job(trigger=app.event("n.seen", filter={"n": [1], "tag": ["ü"]}))
    async def on_one(payload, io):  # type: ignore[no-untyped-def]
        return payload["label"]

    payloads = [
        {"n": 1, "tag": "ü", "label": "int one"},
        {"n": True, "tag": "ü", "label": "bool true"},
        {"n": "1", "tag": "ü", "label": "text one"},
        {"n": 1, "tag": "u", "label": "plain u"},
        {"n": 10**30, "tag": "ü", "label": "huge"},
    ]
    for payload in payloads:
        app.send_event("n.seen", payload)
    app.send_event("n.seen", ["not", "an", "object"])
    app.send_event("n.seen", None)
    run_until_idle(app)
    assert [r.result for r in app.jobs_list(job="on_one")] == ["int one"]


def test_an_event_nobody_listens_to_starts_nothing(app: Conveyor) -> None:
    @app.job(trigger=app.event("a.b"))
    async def listener(payload, io):  # type: ignore[no-untyped-def]
        return payload

    app.send_event("a.b.c", {"x": 1})
    app.send_event("A.B", {"x": 1})
    with pytest.raises(ValueError):
        app.send_event("", {"x": 1})
    run_until_idle(app)
    assert app.count(job="listener") == 0
