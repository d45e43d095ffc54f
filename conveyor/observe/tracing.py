"""OpenTelemetry (the ``otel`` extra): a span per trigger and per attempt.

A trigger's span (``conveyor.trigger <job>``, kind PRODUCER) is a child of whatever span
is current where the job is triggered (a web request, say); its context is stored with
the job (W3C ``traceparent`` as JSON), and every attempt's span (``conveyor.run <job>``,
kind CONSUMER, from the attempt's start to its stored outcome) is its child, in whichever
process runs it. Nothing happens until a tracer provider is configured
(``opentelemetry.trace.set_tracer_provider``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.observe import observe_once
from conveyor.observe.safely import tell_each

if TYPE_CHECKING:
    from conveyor.observe import Ended, ObservedApp
    from conveyor.stores.base import ClaimedJob, NewJob, Outcome

_available: bool | None = None
_trace: Any = None  # the opentelemetry.trace module, once imported
TRACER = "conveyor"


def available() -> bool:
    global _available, _trace
    if _available is None:
        try:
            import opentelemetry.propagate
            import opentelemetry.trace
        except ImportError:
            _available = False
        else:
            _available, _trace = True, opentelemetry.trace
    return _available


def enabled() -> bool:
    """Whether spans are recorded: the API is installed and a provider configured."""
    if not available():
        return False
    trace = _trace
    # Asked for every job a worker starts: no provider set (and none to load from the
    # environment, read once) answers without get_tracer_provider's environment lookup.
    if getattr(trace, "_TRACER_PROVIDER", False) is None and not _provider_named():
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


@functools.cache
def _provider_named() -> bool:
    """Whether the environment names a tracer provider for OpenTelemetry to load."""
    return "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def trigger_spans(jobs: Sequence[NewJob]) -> list[Any]:
    """Start one trigger span per job (a child of the current span), each job carrying
    its span's context; end them with :func:`end_trigger_spans` once they are stored."""
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind

    tracer = trace.get_tracer(TRACER)
    spans = []
    for job in jobs:
        span = tracer.start_span(
            f"conveyor.trigger {job.job}", kind=SpanKind.PRODUCER,
            attributes={"conveyor.job": job.job, "conveyor.queue": job.queue,
                        "messaging.system": "conveyor", "messaging.operation": "publish"},
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        job.trace_context = json.dumps(carrier, separators=(",", ":"))
        spans.append(span)
    return spans


def end_trigger_spans(spans: Sequence[Any], ids: Sequence[int],
                      error: BaseException | None = None) -> None:
    """End the spans of :func:`trigger_spans`: with the stored jobs' ids, or failed."""
    from opentelemetry.trace import StatusCode

    for span in spans:
        if error is not None:
            span.record_exception(error)
            span.set_status(StatusCode.ERROR, str(error))
    for span, job_id in zip(spans, ids, strict=False):
        span.set_attribute("conveyor.run_id", job_id)
    for span in spans:
        span.end()


def traced_insert(jobs: Sequence[NewJob], insert: Callable[[], list[int]]) -> list[int]:
    """Run ``insert`` (which stores ``jobs``) inside one trigger span per job, each job
    carrying its span's context."""
    spans = trigger_spans(jobs)
    try:
        ids = insert()
    except BaseException as exc:
        end_trigger_spans(spans, [], exc)
        raise
    end_trigger_spans(spans, ids)
    return ids


class TracingObserver:
    """One span per attempt, a child of the trigger's span (an InlineObserver)."""

    before_run = True  # its span is current while the job runs

    def __init__(self) -> None:
        # By (job id, claim token): a durable run's next execution (the same attempt) may
        # be claimed before the last one's outcome is reported.
        self.spans: dict[tuple[int, int], Any] = {}

    def started_now(self, job: ClaimedJob) -> None:
        if enabled():
            self._start(job)

    def started_all(self, jobs: Sequence[ClaimedJob]) -> None:
        """``started_now`` for a claim's jobs (whether tracing is on: asked once)."""
        if enabled():
            tell_each(self, self._start, zip(jobs, strict=True))

    def finished_all(self, ended: Sequence[Ended]) -> None:
        if self.spans:
            tell_each(self, self.finished_now, ended)

    def _start(self, job: ClaimedJob) -> None:
        from opentelemetry import propagate, trace
        from opentelemetry.trace import SpanKind

        parent = None
        if job.trace_context:
            try:
                parent = propagate.extract(json.loads(job.trace_context))
            except ValueError:
                parent = None
        span = trace.get_tracer(TRACER).start_span(
            f"conveyor.run {job.job}", context=parent, kind=SpanKind.CONSUMER,
            start_time=_ns(job.started_at + job.waited),
            attributes={"conveyor.job": job.job, "conveyor.run_id": job.id,
                        "conveyor.attempt": job.attempt, "conveyor.queue": job.queue,
                        "messaging.system": "conveyor", "messaging.operation": "process"},
        )
        self.spans[(job.id, job.token)] = span

    def finished_now(
        self, job: ClaimedJob, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        if not self.spans:
            return
        span = self.spans.pop((job.id, job.token), None)
        if span is None:
            return
        from opentelemetry.trace import StatusCode

        state = outcome.state if outcome is not None else "lost"
        state = {"pending": "retrying"}.get(state, state)
        span.set_attribute("conveyor.outcome", state)
        if error is not None:
            span.record_exception(error)
        if state in ("failed", "retrying"):
            span.set_status(StatusCode.ERROR, str(error) if error else state)
        elif state == "completed":
            span.set_status(StatusCode.OK)
        span.end(end_time=_ns(outcome.finished_at) if outcome is not None else None)


def current(app: object, job: ClaimedJob) -> contextlib.AbstractContextManager[Any]:
    """The attempt's span as the current one while its job runs (in its task or thread),
    so that the spans the job makes are its children (on every job's path: no generator
    when there is no span)."""
    span = None
    if _trace is not None:
        for observer in getattr(app, "observers", ()):
            if isinstance(observer, TracingObserver) and observer.spans:
                span = observer.spans.get((job.id, job.token))
    if span is None:
        return _NO_SPAN
    manager: contextlib.AbstractContextManager[Any] = _trace.use_span(
        span, record_exception=False, set_status_on_exception=False)
    return manager


_NO_SPAN = contextlib.nullcontext()  # reusable, and reentrant


def install(app: ObservedApp) -> bool:
    """Trace ``app``'s attempts (once); False when OpenTelemetry is not installed."""
    return observe_once(app, TracingObserver, available())
