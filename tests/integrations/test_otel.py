"""OpenTelemetry: a span per trigger and per attempt; the attempt span is a child of the
trigger's span, through the trace context stored with the job (every store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor, Retry
from tests.support import memory_spans

trace = pytest.importorskip("opentelemetry.trace")
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with memory_spans() as exporter:
        yield exporter


def _by_name(exporter: InMemorySpanExporter, prefix: str) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


def test_attempt_spans_are_children_of_the_trigger_span(
    app: Conveyor, spans: InMemorySpanExporter
) -> None:
    @app.job(retry=Retry(retries=1, wait=0))
    def flaky(n: int) -> int:
        if not getattr(flaky, "failed", False):
            flaky.failed = True  # type: ignore[attr-defined]
            raise RuntimeError("first attempt fails")
        return n

    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("web request") as request:
        handle = flaky(5).run_now()
    app.run_worker(burst=True)
    assert handle.result(timeout=30) == 5

    [trigger] = _by_name(spans, "conveyor.trigger flaky")
    assert trigger.kind == SpanKind.PRODUCER
    assert trigger.parent.span_id == request.get_span_context().span_id
    assert trigger.attributes["conveyor.run_id"] == handle.id
    runs = sorted(_by_name(spans, "conveyor.run flaky"),
                  key=lambda s: s.attributes["conveyor.attempt"])
    assert [s.attributes["conveyor.outcome"] for s in runs] == ["retrying", "completed"]
    for run in runs:
        assert run.kind == SpanKind.CONSUMER
        assert run.context.trace_id == trigger.context.trace_id
        assert run.parent.span_id == trigger.context.span_id
        assert run.end_time >= run.start_time
    assert runs[0].status.status_code == StatusCode.ERROR
    assert any(e.name == "exception" for e in runs[0].events)
    assert runs[1].status.status_code == StatusCode.OK


def test_bulk_triggers_get_a_span_each(app: Conveyor, spans: InMemorySpanExporter) -> None:
    @app.job
    def add(a: int, b: int) -> int:
        return a + b

    handles = app.enqueue_many([add(i, 1) for i in range(3)])
    app.run_worker(burst=True)
    triggers = _by_name(spans, "conveyor.trigger add")
    assert sorted(s.attributes["conveyor.run_id"] for s in triggers) == sorted(
        h.id for h in handles)
    runs = _by_name(spans, "conveyor.run add")
    assert {r.parent.span_id for r in runs} == {t.context.span_id for t in triggers}


def test_nothing_is_traced_without_a_provider(app: Conveyor) -> None:
    from conveyor.observe import tracing

    assert not tracing.enabled()

    @app.job
    def noop() -> None: ...

    noop().run_now()
    app.run_worker(burst=True)


def test_overlapping_executions_of_one_attempt_each_end_their_own_span(
    spans: InMemorySpanExporter,
) -> None:
    """A durable run's next execution (the same attempt) may be claimed before the last
    one's outcome is reported: each execution's span ends with its own outcome."""
    from conveyor.observe.tracing import TracingObserver
    from conveyor.stores.base import ClaimedJob, Outcome

    observer = TracingObserver()
    first, second = (ClaimedJob(id=7, job="flow", args="[]", kwargs="{}", attempt=1,
                                token=token, max_attempts=1, retry=None, timeout=None,
                                run_at=1.0, started_at=started)
                     for token, started in ((11, 1.0), (12, 2.0)))
    observer.started_now(first)
    observer.started_now(second)
    observer.finished_now(first, Outcome(7, 11, "waiting", 1.5), None)
    observer.finished_now(second, Outcome(7, 12, "completed", 2.5), None)
    runs = sorted(_by_name(spans, "conveyor.run flow"), key=lambda s: s.start_time)
    assert [s.attributes["conveyor.outcome"] for s in runs] == ["waiting", "completed"]
    assert not observer.spans
