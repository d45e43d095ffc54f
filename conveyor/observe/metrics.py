"""Prometheus metrics (``prometheus_client``, the ``metrics`` extra).

Workers count attempts in this process (or, with ``PROMETHEUS_MULTIPROC_DIR`` set before
conveyor starts, in files every process of the host shares); job counts and live workers
are read from the store at each scrape. Names are listed in docs/metrics.md.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.observe import observe_once, rescued_event

if TYPE_CHECKING:
    from conveyor.observe import Ended, ObservedApp
    from conveyor.records import JobRecord
    from conveyor.stores.base import ClaimedJob, Outcome, Store


class Conveyor(Protocol):
    """What metrics read from an app (a :class:`conveyor.Conveyor`)."""

    jobs: Any  # the JobRegistry

    @property
    def store(self) -> Store: ...

    def count(self, **filters: Any) -> int: ...

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from sub-millisecond jobs to hour-long ones.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
           float("inf"))
WORKERS_ALIVE_WITHIN = 60.0


def available() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


class _JobTally:
    """One job's attempt figures as plain numbers: counts, histogram buckets and sums."""

    __slots__ = ("counts", "duration", "duration_sum", "latency", "latency_sum")

    def __init__(self) -> None:
        self.counts = [0, 0, 0, 0]  # started, completed, failed, retried
        self.latency = [0] * len(BUCKETS)
        self.duration = [0] * len(BUCKETS)
        self.latency_sum = self.duration_sum = 0.0


class _Tallies:
    """Attempt figures of this process, tallied in place and read by Prometheus at scrape
    time (a collector): an attempt costs a lock and a bisect, not a locked Prometheus
    value per counter and histogram bucket."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_job: dict[str, _JobTally] = {}

    def _of(self, job: str) -> _JobTally:
        tally = self.by_job.get(job)
        if tally is None:
            tally = self.by_job.setdefault(job, _JobTally())
        return tally

    def started(self, job: str, latency: float) -> None:
        tally = self._of(job)
        with self.lock:
            tally.counts[0] += 1
            tally.latency[bisect_left(BUCKETS, latency)] += 1
            tally.latency_sum += latency

    def started_all(self, started: Sequence[tuple[str, float]]) -> None:
        """``started`` for each ``(job, latency)``, under one lock."""
        of = self._of
        with self.lock:
            for job, latency in started:
                tally = of(job)
                tally.counts[0] += 1
                tally.latency[bisect_left(BUCKETS, latency)] += 1
                tally.latency_sum += latency

    def finished(self, job: str, counter: int | None, duration: float | None) -> None:
        tally = self._of(job)
        with self.lock:
            if counter is not None:
                tally.counts[counter] += 1
            if duration is not None:
                tally.duration[bisect_left(BUCKETS, duration)] += 1
                tally.duration_sum += duration

    def finished_all(self, finished: Sequence[tuple[str, int | None, float]]) -> None:
        """``finished`` for each ``(job, counter, duration)``, under one lock."""
        of = self._of
        with self.lock:
            for job, counter, duration in finished:
                tally = of(job)
                if counter is not None:
                    tally.counts[counter] += 1
                tally.duration[bisect_left(BUCKETS, duration)] += 1
                tally.duration_sum += duration

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        with self.lock:
            tallies = [(job, list(t.counts), list(t.latency), t.latency_sum,
                        list(t.duration), t.duration_sum) for job, t in self.by_job.items()]
        counters = [CounterMetricFamily(name, doc, labels=["job"]) for name, doc in _COUNTERS]
        histograms = [HistogramMetricFamily(name, doc, labels=["job"])
                      for name, doc in _HISTOGRAMS]
        for job, counts, latency, latency_sum, duration, duration_sum in tallies:
            for family, value in zip(counters, counts, strict=True):
                family.add_metric([job], value)
            histograms[0].add_metric([job], _cumulative(duration), duration_sum)
            histograms[1].add_metric([job], _cumulative(latency), latency_sum)
        yield from counters
        yield from histograms


def _cumulative(counts: list[int]) -> list[tuple[str, float]]:
    """Per-bucket counts as Prometheus' cumulative ``(le, count)`` pairs."""
    total, pairs = 0, []
    for bound, count in zip(BUCKETS, counts, strict=True):
        total += count
        pairs.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(total)))
    return pairs


_COUNTERS = (("conveyor_attempts_started", "Attempts started"),
             ("conveyor_attempts_completed", "Attempts that completed"),
             ("conveyor_attempts_failed", "Attempts that failed for good"),
             ("conveyor_attempts_retried", "Attempts that failed and were scheduled to retry"))
_HISTOGRAMS = (("conveyor_run_duration_seconds", "Time from an attempt's start to its outcome"),
               ("conveyor_start_latency_seconds",
                "Time from a job being due to its attempt starting"))


class _Shared:
    """Attempt figures as ``prometheus_client`` metrics, which write them to the files of
    ``$PROMETHEUS_MULTIPROC_DIR`` for the host's other processes to sum."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Histogram

        self.counters = [Counter(name, doc, ["job"], registry=registry) for name, doc in _COUNTERS]
        self.histograms = [Histogram(name, doc, ["job"], buckets=BUCKETS, registry=registry)
                           for name, doc in _HISTOGRAMS]
        self.by_job: dict[str, tuple[Any, ...]] = {}

    def _of(self, job: str) -> tuple[Any, ...]:
        children = self.by_job.get(job)
        if children is None:
            children = self.by_job[job] = tuple(
                metric.labels(job) for metric in (*self.counters, *self.histograms))
        return children

    def started(self, job: str, latency: float) -> None:
        children = self._of(job)
        children[0].inc()
        children[5].observe(latency)

    def started_all(self, started: Sequence[tuple[str, float]]) -> None:
        for job, latency in started:
            self.started(job, latency)

    def finished(self, job: str, counter: int | None, duration: float | None) -> None:
        children = self._of(job)
        if counter is not None:
            children[counter].inc()
        if duration is not None:
            children[4].observe(duration)

    def finished_all(self, finished: Sequence[tuple[str, int | None, float]]) -> None:
        for job, counter, duration in finished:
            self.finished(job, counter, duration)


class _Instruments:
    """This process's attempt figures (once per process, shared by every app in it)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=True)
        self.sink: _Tallies | _Shared
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.sink = _Shared(self.registry)
        else:
            self.sink = _Tallies()
            self.registry.register(self.sink)


_instruments: _Instruments | None = None


def instruments() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


class MetricsObserver:
    """Counts attempts for Prometheus (a :class:`conveyor.observe.InlineObserver`: a few
    additions in place, no task per job)."""

    def __init__(self) -> None:
        self.sink = instruments().sink

    def started_now(self, job: ClaimedJob) -> None:
        self.sink.started(job.job, max(0.0, job.started_at + job.waited - job.run_at))

    def finished_now(
        self, job: ClaimedJob, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        if outcome is None:
            return
        duration = max(0.0, outcome.finished_at - job.started_at)  # a durable run: a stretch
        self.sink.finished(job.job, _COUNTER_OF.get(outcome.state), duration)

    def started_all(self, jobs: Sequence[ClaimedJob]) -> None:
        self.sink.started_all([(job.job, max(0.0, job.started_at + job.waited - job.run_at))
                               for job in jobs])

    def finished_all(self, ended: Sequence[Ended]) -> None:
        counter_of = _COUNTER_OF
        self.sink.finished_all([
            (job.job, counter_of.get(outcome.state), max(0.0, outcome.finished_at - job.started_at))
            for job, outcome, _ in ended if outcome is not None])

    def watching_rescues(self) -> bool:
        return True

    def rescued(self, records: list[JobRecord]) -> None:
        """A job rescued from a dead worker: its attempt failed (retried, or failed as a
        poison job)."""
        for record in records:
            counter = _RESCUE_COUNTER.get(rescued_event(record))
            if counter is not None:
                self.sink.finished(record.job, counter, None)


# An outcome's state -> the index of the counter it counts (_COUNTERS)
_COUNTER_OF = {"completed": 1, "failed": 2, "pending": 3}
# A rescue's event (conveyor.observe.rescued_event) -> the index of the counter it counts in
_RESCUE_COUNTER: dict[str | None, int] = {"retrying": 3, "failed": 2}


def install(app: ObservedApp) -> bool:
    """Count this app's attempts (once); False when prometheus_client is missing."""
    return observe_once(app, MetricsObserver, available())


class StoreCollector:
    """Job counts by state and queue, and workers alive, read from the store per scrape."""

    def __init__(self, app: Conveyor) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from conveyor.stores.base import STATES

        jobs = GaugeMetricFamily("conveyor_jobs", "Stored jobs by state and queue",
                                 labels=["state", "queue"])
        # One grouped query per scrape; queues declared in code are reported at zero too.
        counts = self.app.store.queue_counts()
        declared = {self.app.jobs[i].options.queue for i in self.app.jobs} | {"default"}
        for queue in sorted(declared | set(counts)):
            found = counts.get(queue, {})
            for state in STATES:
                jobs.add_metric([state, queue], found.get(state, 0))
        yield jobs
        alive = self.app.store.workers(WORKERS_ALIVE_WITHIN)
        yield GaugeMetricFamily("conveyor_workers_alive",
                                "Workers that sent a heartbeat in the last minute",
                                value=len(alive))


class _Local:
    """This process's attempt metrics, when not shared between processes."""

    def collect(self) -> Iterator[Any]:
        yield from instruments().registry.collect()


def render(app: Conveyor) -> bytes:
    """The Prometheus text exposition for ``app``."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Local())
    registry.register(StoreCollector(app))
    return generate_latest(registry)


def serve(app: Conveyor, port: int, host: str = "0.0.0.0") -> None:
    """Serve ``/metrics`` on ``port`` from a background thread of this process."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404, "only /metrics is served here")
                return
            body = render(app)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    Thread(target=server.serve_forever, name="conveyor-metrics", daemon=True).start()
