"""Flow control on the app: global concurrency and rate limits, pause/resume, queues.

Limits are declared in code (``@app.job(concurrency=, rate=, concurrency_key=)``,
``app.queue(name, concurrency=, rate=)``), written to the store when a worker starts, and
enforced by the store when it claims jobs, so every worker on every host applies the same
numbers. Pauses are written at once and honoured by every worker's next claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.errors import ConfigurationError
from conveyor.host import BaseExtension
from conveyor.jobs import system_runs
from conveyor.limits import (
    RATE_UNITS,
    Rate,
    cannot_ship,
    coerce_concurrency,
    coerce_isolation,
    coerce_key_spec,
    concurrency_key,
    parse_rate,
)
from conveyor.maintenance import FLOW_PRUNE_EVERY
from conveyor.records import JobRecord, utc
from conveyor.stores.base import FlowRule, FlowStore, JobFilter, JobRow, ReadStore, Store
from conveyor.stores.flowlogic import job_group, queue_group

if TYPE_CHECKING:
    from conveyor.registry import JobRegistry


class Definition(Protocol):
    """What flow control reads of a job definition (conveyor.jobs.JobDefinition)."""

    @property
    def id(self) -> str: ...

    @property
    def fn(self) -> Callable[..., Any]: ...

    @property
    def kind(self) -> str: ...

    @property
    def wants(self) -> frozenset[str]: ...


class StateCounts(dict[str, int]):
    """Jobs by state; a state without jobs reads 0 (``counts["failed"]``) and is not listed."""

    def __missing__(self, state: str) -> int:
        return 0


@dataclass(frozen=True)
class QueueInfo:
    """A queue as ``app.queues()`` reports it: ``counts`` maps state -> number of jobs (a
    state without jobs reads 0); ``concurrency``/``rate`` as declared (None: no limit);
    ``paused`` whether it is."""

    name: str
    counts: dict[str, int]
    concurrency: int | None
    rate: str | None
    paused: bool


@dataclass(frozen=True)
class Hold:
    """Why a queued job is not running yet, and when it may start (None: unknown)."""

    reason: str
    until: datetime | None = None


class FlowHost(Protocol):
    """What flow control uses of its app."""

    @property
    def jobs(self) -> JobRegistry: ...

    @property
    def store(self) -> FlowControlStore: ...


class FlowControlStore(FlowStore, ReadStore, Protocol):
    """The parts of a store flow control uses."""


class FlowControl:
    """Queues, limits and pauses (``app.flow``): ``queue``, ``pause``, ``resume``,
    ``queues``, ``paused_jobs``, ``paused_counts``, ``declared_limits``, ``hold``."""

    def __init__(self, app: FlowHost) -> None:
        self._app = app
        # app.queue(...) declarations: queue -> (concurrency, rate)
        self.queue_limits: dict[str, tuple[int | None, Rate | None]] = {}

    @property
    def store(self) -> FlowControlStore:
        return self._app.store  # read each time: app.reopen() swaps the store

    @property
    def jobs(self) -> JobRegistry:
        return self._app.jobs

    def queue(self, name: str, *, concurrency: int | None = None,
              rate: str | None = None) -> None:
        """Declare a queue's global limits: ``app.queue("exports", concurrency=5,
        rate="10/second")`` (enforced across all workers once a worker has started)."""
        from conveyor.options import coerce_queue

        self.queue_limits[coerce_queue(name)] = (coerce_concurrency(concurrency),
                                                  parse_rate(rate))

    def pause(self, queue: str | None = None, job: str | Definition | None = None) -> None:
        """Stop every worker from claiming this queue's and/or job's jobs (running attempts
        finish); persisted until :meth:`resume`."""
        for kind, name in self._flow_targets("pause", queue, job):
            self.store.set_paused(kind, name, True)

    def resume(self, queue: str | None = None, job: str | Definition | None = None) -> None:
        """Undo :meth:`pause`."""
        for kind, name in self._flow_targets("resume", queue, job):
            self.store.set_paused(kind, name, False)

    def paused_jobs(self) -> list[str]:
        """Ids of the paused jobs."""
        return sorted(r.name for r in self.store.flow_rules() if r.kind == "job" and r.paused)

    def queues(self) -> list[QueueInfo]:
        """Every queue known from the store or declared in code, with counts by state."""
        stored = {r.name: r for r in self.store.flow_rules() if r.kind == "queue"}
        counts = self.store.queue_counts()
        # conveyor's own jobs (retention cleanup) are left out, as count() leaves them out
        for row in system_runs(self.store):
            by_state = counts.get(row.queue, {})
            by_state[row.state] = by_state.get(row.state, 0) - 1
            if by_state[row.state] <= 0:
                del by_state[row.state]
            if not by_state:
                counts.pop(row.queue, None)
        names = set(counts) | set(stored) | set(self.queue_limits)
        names |= {d.options.queue for d in self.jobs.definitions()}
        found = []
        for name in sorted(names):
            concurrency, rate = self.queue_limits.get(name, (None, None))
            rule = stored.get(name)
            if name not in self.queue_limits and rule is not None:
                concurrency = rule.concurrency
                rate = _stored_rate(rule)
            found.append(QueueInfo(name, StateCounts(counts.get(name, {})), concurrency,
                                   str(rate) if rate else None, bool(rule and rule.paused)))
        return found

    def paused_counts(self) -> dict[str, int]:
        """{queue: queued runs that a pause (of the queue or of their job) holds back}."""
        stored = {r.name: r for r in self.store.flow_rules() if r.kind == "queue"}
        paused_queues = [n for n, r in stored.items() if r.paused]
        held: dict[str, int] = {}
        for name in paused_queues:
            held[name] = self.store.count(JobFilter(states=["queued"], queues=[name]))
        paused_jobs = self.paused_jobs()
        if paused_jobs:
            for row in self.store.list_jobs(JobFilter(states=["queued"], jobs=paused_jobs),
                                            limit=10_000):
                if row.queue not in paused_queues:
                    held[row.queue] = held.get(row.queue, 0) + 1
        return held

    def _flow_targets(self, verb: str, queue: str | None,
                      job: str | Definition | None) -> list[tuple[str, str]]:
        from conveyor.options import coerce_queue

        targets = []
        if queue is not None:
            targets.append(("queue", coerce_queue(queue)))
        if job is not None:
            targets.append(("job", self._job_id(verb, job if isinstance(job, str) else job.id)))
        if not targets:
            raise ConfigurationError(f"{verb}() needs queue='name' or job='job id' (or both)")
        return targets

    def _job_id(self, verb: str, job_id: str) -> str:
        """A job defined here, or one the store knows (defined by another service or an
        older deploy): a paused one may be resumed, one with stored runs paused."""
        if self.jobs.definition(job_id) is None and isinstance(job_id, str) and (
            job_id in self.paused_jobs() if verb == "resume"
            else self.store.count(JobFilter(jobs=[job_id])) > 0
        ):
            return job_id
        return self.jobs[job_id].id  # UnknownJobError naming it

    def declared_limits(self) -> list[FlowRule]:
        """The limits this app declares, for the store (also clears limits removed from
        the code of this app's jobs and queues)."""
        rules = []
        for definition in self.jobs.definitions():
            rate = definition.rate
            rules.append(FlowRule("job", definition.id, definition.concurrency,
                                  rate.limit if rate else None, rate.period if rate else None))
        queues = set(self.queue_limits) | {d.options.queue for d in self.jobs.definitions()}
        for name in sorted(queues):
            concurrency, rate = self.queue_limits.get(name, (None, None))
            rules.append(FlowRule("queue", name, concurrency, rate.limit if rate else None,
                                  rate.period if rate else None))
        return rules

    def hold(self, row: JobRow | JobRecord) -> Hold | None:
        """Why a queued job is held back (a pause or a full limit), else None."""
        if row.state != "queued":
            return None
        rules = {(r.kind, r.name): r for r in self.store.flow_rules()}
        for kind, name in (("job", row.job), ("queue", row.queue)):
            if (rule := rules.get((kind, name))) is not None and rule.paused:
                return Hold(f"paused: the {kind} {name!r} is paused")
        checks: list[tuple[str, FlowRule, str]] = []
        if (rule := rules.get(("job", row.job))) is not None:
            label = f"job {row.job!r}" + (
                f" (key {row.concurrency_key!r})" if row.concurrency_key else "")
            checks.append((job_group(row.job, row.concurrency_key), rule, label))
        if (rule := rules.get(("queue", row.queue))) is not None:
            checks.append((queue_group(row.queue), rule, f"queue {row.queue!r}"))
        usage = self.store.flow_usage([g for g, _, _ in checks]) if checks else {}
        for group, rule, label in checks:
            running, used, first = usage.get(group, (0, 0, None))
            if rule.concurrency is not None and running >= rule.concurrency:
                return Hold(f"waiting for a slot: {running} of {rule.concurrency} attempts of "
                            f"the {label} are running (concurrency limit)")
            if rule.rate_limit is not None and used >= rule.rate_limit:
                return Hold(f"rate limit {_stored_rate(rule)} of the {label} reached",
                            utc(first))
        return None


class FlowUpkeep(BaseExtension):
    """App extension: the maintenance leader deletes rate buckets past their window."""

    slow = True
    every = FLOW_PRUNE_EVERY

    def __init__(self) -> None:
        self.last = 0.0

    def maintain(self, app: object, store: Store, leader: bool) -> None:
        if leader and time.monotonic() - self.last > self.every:
            self.last = time.monotonic()
            store.prune_flow()


def _stored_rate(rule: FlowRule) -> Rate | None:
    if rule.rate_limit is None or rule.rate_period is None:
        return None
    unit = next((u for u, s in RATE_UNITS.items() if s == rule.rate_period), None)
    text = f"{rule.rate_limit}/{unit}" if unit else f"{rule.rate_limit}/{rule.rate_period:g} s"
    return Rate(rule.rate_limit, rule.rate_period, text)


def check_isolated(definition: Definition) -> None:
    """Refuse a job that cannot run in a child process."""
    reason = None
    if definition.wants - {"meta"} or definition.kind != "function":
        reason = ("runs each attempt in a child process, which cannot take io or ctx (a "
                  "durable run) nor run a Reaction-style worker; drop the isolation")
    elif (problem := cannot_ship(definition.fn)) is not None:
        reason = f"runs its function in a child process, and this one {problem}"
    if reason:
        raise ConfigurationError(f"job {definition.id!r}: isolation='process' {reason}")


def job_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validated flow options of ``@app.job(...)`` (keys of JobDefinition)."""
    return {
        "concurrency": coerce_concurrency(options.get("concurrency")),
        "rate": parse_rate(options.get("rate")),
        "concurrency_key": coerce_key_spec(options.get("concurrency_key")),
        "isolation": coerce_isolation(options.get("isolation")),
    }


FLOW_OPTIONS = ("concurrency", "rate", "concurrency_key", "isolation")
__all__ = [
    "FLOW_OPTIONS", "FlowControl", "FlowHost", "Hold", "QueueInfo", "Rate", "concurrency_key",
    "parse_rate",
]
