"""SPEC §11 on durable runs and workflows: hooks, metrics, log lines and traces."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from conveyor import Conveyor, Retry, chain
from tests.acceptance.blind_g.support import rec, settle
from tests.conformance.helpers import ManualClock, drain
from tests.support import memory_spans


def _hooks(app: Conveyor) -> list[tuple[str, str, str, bool]]:
    """Record (event, job id, stored state, error given) for every hook event."""
    calls: list[tuple[str, str, str, bool]] = []
    for event in ("started", "completed", "failed", "retrying", "cancelled"):
        def hook(record: Any, error: Any = None, event: str = event) -> None:
            stored = app.get_job(record.id)
            calls.append((event, record.job, stored.state if stored else "?", error is not None))
        app.on(event)(hook)
    return calls


def test_a_chain_stopped_by_a_failure_fires_failed_then_cancelled_hooks(app: Conveyor) -> None:
    calls = _hooks(app)

    @app.job(retry=Retry(retries=0))
    def breaks(x: int) -> int:
        raise ValueError("broken link")

    @app.job
    def follows(x: int) -> int:
        return x

    chain(breaks(1), follows(), follows()).run_now()
    drain(app)
    failed = calls.index(("failed", "breaks", "failed", True))
    follows = [i for i, c in enumerate(calls) if c[1] == "follows"]
    assert [calls[i][:3] for i in follows] == [("cancelled", "follows", "cancelled")] * 2
    assert failed < min(follows)


def test_a_durable_run_is_one_attempt_for_its_hooks_across_its_sleeps(
        capp: Conveyor, clock: ManualClock) -> None:
    calls = _hooks(capp)

    @capp.job
    async def sleeper(io: Any) -> str:
        await io.wait("one", 1, "minute")
        await io.wait("two", 1, "minute")
        return "rested"

    h = sleeper().run_now()
    settle(capp, clock, minutes=1)
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == "rested" and rec(capp, h).attempts == 1
    assert [c[0] for c in calls].count("completed") == 1
    assert [c for c in calls if c[0] == "completed"] == [("completed", "sleeper", "completed",
                                                          False)]


def test_a_parent_failed_by_its_child_fires_failed_with_the_error(app: Conveyor) -> None:
    calls = _hooks(app)

    @app.job(retry=Retry(retries=0))
    def kid() -> None:
        raise ValueError("kid broke")

    @app.job(retry=Retry(retries=0))
    async def parent(io: Any) -> Any:
        return await io.run_job("kid", kid())

    parent().run_now()
    drain(app)
    assert ("failed", "kid", "failed", True) in calls
    assert ("failed", "parent", "failed", True) in calls


def _samples(app: Conveyor) -> list[str]:
    text = TestClient(app.asgi()).get("/metrics").text
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _value(samples: list[str], name: str, **labels: str) -> float:
    found = [line for line in samples if line.split("{")[0] == name
             and all(f'{k}="{v}"' in line for k, v in labels.items())]
    return sum(float(line.rsplit(" ", 1)[1]) for line in found)


def test_metrics_show_waiting_and_blocked_jobs_by_state_and_queue(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job(queue="mq-ü")
    async def sleeper(io: Any) -> int:
        await io.wait("nap", 1, "hour")
        return 1

    @capp.job
    def after(x: int) -> int:
        return x

    first = sleeper().run_now()
    after(1).run_now(depends_on=[first])
    drain(capp)
    samples = _samples(capp)
    assert _value(samples, "conveyor_jobs", state="waiting", queue="mq-ü") == 1, samples
    assert _value(samples, "conveyor_jobs", state="blocked", queue="default") == 1, samples
    settle(capp, clock, hours=1)
    samples = _samples(capp)
    assert _value(samples, "conveyor_jobs", state="completed") == 2, samples
    assert _value(samples, "conveyor_jobs", state="waiting") == 0, samples


def test_the_worker_logs_cancelled_dependents_and_failed_members(
        app: Conveyor, caplog: pytest.LogCaptureFixture) -> None:
    @app.job("logged-break", retry=Retry(retries=0))
    def breaks(x: int) -> int:
        raise ValueError("logged reason ✗")

    @app.job("logged-follow")
    def follows(x: int) -> int:
        return x

    with caplog.at_level(logging.DEBUG, logger="conveyor"):
        h = chain(breaks(1), follows()).run_now()
        drain(app)
    lines = [r.getMessage() for r in caplog.records if r.name.split(".")[0] == "conveyor"]
    assert any("logged-break" in m and "logged reason ✗" in m for m in lines), lines
    assert any("logged-break" in m and "start" in m.lower() for m in lines), lines
    assert rec(app, h.id).state == "cancelled"


def test_a_durable_run_and_its_child_stay_in_the_trace_of_the_trigger(
        capp: Conveyor, clock: ManualClock) -> None:
    from opentelemetry import trace

    @capp.job
    def kid(n: int) -> int:
        return n

    @capp.job
    async def parent(io: Any) -> Any:
        await io.wait("nap", 1, "minute")
        return await io.run_job("kid", kid(3))

    with memory_spans() as exporter:
        with trace.get_tracer("blind-g").start_as_current_span("request") as request:
            h = parent().run_now()
        settle(capp, clock, minutes=1)
        drain(capp)
        spans = exporter.get_finished_spans()
    assert h.result(timeout=30) == 3
    trace_id = request.get_span_context().trace_id
    names = {s.name for s in spans if s.context is not None and s.context.trace_id == trace_id}
    assert {"conveyor.trigger parent", "conveyor.run parent", "conveyor.trigger kid",
            "conveyor.run kid"} <= names, [(s.name, s.context) for s in spans]
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    [kid_trigger] = [s for s in spans if s.name == "conveyor.trigger kid"]
    assert kid_trigger.parent is not None
    assert by_id[kid_trigger.parent.span_id].name == "conveyor.run parent", [
        (s.name, s.parent and s.parent.span_id, s.context and s.context.span_id) for s in spans]
    assert kid_trigger.attributes is not None
    assert kid_trigger.attributes["conveyor.run_id"] == rec(capp, h).children[0]


def test_a_cascading_cancel_fires_cancelled_once_for_each_run_it_reaches(
        capp: Conveyor) -> None:
    calls = _hooks(capp)

    @capp.job
    async def kid(n: int, io: Any) -> int:
        await io.wait("nap", 1, "hour")
        return n

    @capp.job
    def after(x: int) -> int:
        return x

    @capp.job
    async def parent(io: Any) -> Any:
        return await io.run_jobs("kids", [kid(1), kid(2)])

    h = parent().run_now()
    drain(capp)
    after(1).run_now(depends_on=[rec(capp, h).children[0]])
    calls.clear()
    assert capp.cancel(h.id, cascade=True)
    drain(capp)
    assert sorted(calls) == sorted([("cancelled", job, "cancelled", False)
                                    for job in ("parent", "kid", "kid", "after")])


def test_run_duration_counts_each_stretch_of_a_durable_run_between_its_waits(
        capp: Conveyor, clock: ManualClock) -> None:
    @capp.job("stretches-ü")
    async def stretches(io: Any) -> str:
        await io.wait("one", 1, "minute")
        await io.wait("two", 1, "minute")
        return "rested"

    def observed() -> float:
        return _value(_samples(capp), "conveyor_run_duration_seconds_count", job="stretches-ü")

    before = observed()  # the metrics of this process count every test's attempts
    h = stretches().run_now()
    settle(capp, clock, minutes=1)
    settle(capp, clock, minutes=1)
    assert h.result(timeout=30) == "rested"
    assert observed() - before == 3
