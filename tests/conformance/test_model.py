"""Model-based test (every store): random sequences of triggers (with dedupe, retry
policies, retention and dependencies), cancels, retries, purges, pauses, events, clock
moves and burst workers, checked after every step against the model in ``jobmodel``:
states, attempts, results, errors, counts, filters, dedupe, pauses, priority order and
aware UTC datetimes. A fresh store per example; time stands still on a FakeClock."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conveyor import ConfigurationError, Conveyor, Fail, Retry, RetryIn
from conveyor.testing import FakeClock
from tests.conformance.jobmodel import (
    DEPENDENCY,
    FINISHED,
    STATES,
    Job,
    Policy,
    World,
    matches,
)

#: Examples per store and steps per example (the whole file stays well under a minute).
EXAMPLES = int(os.environ.get("CONVEYOR_MODEL_EXAMPLES", "25"))
STEPS = 30

T0 = datetime(2030, 1, 1, tzinfo=UTC)
JOBS = ("alpha", "beta")
EVENT_JOB = "signup"
QUEUES = ("default", "q1", "q2")
PRIORITIES = {None: 0, "low": -10, "high": 10, "critical": 20, 3: 3, -1: -1}
KEYS = (None, "a", "b", "", "a\x1f")
# owner as given -> as filters and dedupe match it (7 and "7" alike)
OWNERS: dict[Any, str | None] = {None: None, 0: None, "": None, "u1": "u1", 7: "7", "7": "7",
                                 "\x1fu1": "\x1fu1"}
PUBLIC_PENDING = ["scheduled", "queued", "blocked"]

outcomes = st.lists(st.sampled_from(["ok", "raise", "fail", "later"]), min_size=1, max_size=3)
policies = st.builds(
    Policy, max_attempts=st.integers(1, 3), wait=st.sampled_from([1, 60, 3600]),
    backoff=st.sampled_from(["fixed", "linear", "exponential"]),
    max_wait=st.sampled_from([None, 100]), retention=st.sampled_from([None, 60, 7200]),
    remove_delay=st.sampled_from([None, 0, 30]),
)
filters = st.fixed_dictionaries({}, optional={
    "job": st.sampled_from(JOBS), "queue": st.sampled_from(QUEUES),
    "owner": st.sampled_from(list(OWNERS)), "key": st.sampled_from(KEYS),
    "data": st.sampled_from([{"group": "g1"}, {"group": "g2"}]),
})


def _define(app: Conveyor, ran: list[tuple[int, int]]) -> None:
    def body(spec: dict[str, Any], meta: Any) -> Any:
        ran.append((meta.id, meta.attempt))
        plan = spec["plan"]
        outcome = plan[min(meta.attempt, len(plan)) - 1]
        if outcome == "raise":
            raise RuntimeError(f"boom {spec['tag']} {meta.attempt}")
        if outcome == "fail":
            raise Fail(f"gave up {spec['tag']} {meta.attempt}")
        if outcome == "later":
            raise RetryIn(30)
        return {"tag": spec["tag"], "attempt": meta.attempt}

    for name in JOBS:
        app.job(name)(body)
    app.job(EVENT_JOB, trigger=app.event("user.created", filter={"tier": ["pro"]}))(body)


@dataclass
class Stores:
    """A new empty store of the kind under test for each example (PostgreSQL: a schema
    from the session's pool, given back after the example)."""

    take: Callable[[], str]
    give_back: Callable[[str], None] = lambda url: None


class Machine(RuleBasedStateMachine):
    stores: Stores

    def __init__(self) -> None:
        super().__init__()
        self.url = self.stores.take()
        self.app = Conveyor(self.url, lease=2)
        self.ran: list[tuple[int, int]] = []
        _define(self.app, self.ran)
        self.clock = FakeClock(self.app, start=T0, patch_python=False)
        self.world = World()
        self.paused_queues: set[str] = set()
        self.paused_jobs: set[str] = set()
        self.events: dict[str, list[int]] = {}
        self.tags = itertools.count()
        self.turns = itertools.count()

    def teardown(self) -> None:
        self.clock.stop()
        self.app.close()
        self.stores.give_back(self.url)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def pick(self, index: int) -> int:
        ids = sorted(self.world.jobs) + sorted(self.world.purged)
        return ids[index % len(ids)] if ids else 424242

    def due(self) -> list[Job]:
        return [j for j in self.world.jobs.values()
                if j.state == "pending" and j.run_at <= self.now
                and j.queue not in self.paused_queues and j.job not in self.paused_jobs]

    # -- rules -----------------------------------------------------------------------
    @rule(
        job=st.sampled_from(JOBS), plan=outcomes,
        when=st.one_of(
            st.just(("now", 0)),
            st.tuples(st.just("at"), st.sampled_from([-3600, -1, 0, 1, 600, 86400])),
            st.tuples(st.just("in"), st.sampled_from([0, 1, 30, 3600])),
        ),
        priority=st.sampled_from(list(PRIORITIES)), queue=st.sampled_from((None, *QUEUES)),
        key=st.sampled_from(KEYS), owner=st.sampled_from(list(OWNERS)),
        dedupe=st.sampled_from([None, None, "replace", "unique"]), policy=policies,
        group=st.sampled_from(["g1", "g2"]),
        deps=st.lists(st.integers(0, 100), max_size=2, unique=True),
    )
    def trigger(self, job: str, plan: list[str], when: tuple[str, int], priority: Any,
                queue: str | None, key: str | None, owner: Any, dedupe: str | None,
                policy: Policy, group: str, deps: list[int]) -> None:
        spec = {"plan": plan, "tag": next(self.tags), "group": group}
        depends_on = sorted({self.pick(d) for d in deps if self.world.jobs}
                            & set(self.world.jobs))
        options: dict[str, Any] = {
            "priority": priority, "queue": queue, "key": key, "owner": owner,
            "retention": policy.retention, "remove_delay": policy.remove_delay,
            "retry": Retry(retries=policy.max_attempts - 1, wait=policy.wait,
                           backoff=policy.backoff, max_wait=policy.max_wait),
        }
        if depends_on:  # not with replace= or unique=: refused
            options["depends_on"], when, dedupe = depends_on, ("now", 0), None
        if dedupe:
            options[dedupe] = True
        call = self.app.jobs[job](spec)
        kind, amount = when
        run_at = self.now + timedelta(seconds=amount)
        if kind == "now":
            handle = call.run_now(**options)
        elif kind == "at":
            handle = call.run_at(run_at, **options)
        else:
            handle = call.run_in(amount, "seconds", **options)
        owner_id = OWNERS[owner]
        same = sorted(
            (j for j in self.world.unstarted()
             if j.job == job and j.owner == owner_id and (key is None or j.key == key)),
            key=lambda j: j.id)
        if dedupe == "unique" and same:
            assert handle.id == same[0].id, (handle.id, [j.id for j in same])
            return
        if dedupe == "replace":
            self.world.cancel(same, self.now)
        self.world.add(Job(
            id=handle.id, job=job, queue=queue or "default", priority=PRIORITIES[priority],
            key=key, owner=owner_id, payload=spec, plan=plan, run_at=run_at,
            created_at=self.now, policy=policy, deps=depends_on,
            given_owner=owner if owner_id is not None else None), self.now)

    @rule(pick=st.integers(0, 100))
    def cancel(self, pick: int) -> None:
        job_id = self.pick(pick)
        found = self.world.jobs.get(job_id)
        expected = found is not None and found.state not in FINISHED
        assert self.app.cancel(job_id) is expected
        if found is not None:
            self.world.cancel([found], self.now)

    @rule(pick=st.integers(0, 100))
    def retry(self, pick: int) -> None:
        job_id = self.pick(pick)
        found = self.world.jobs.get(job_id)
        expected = found is not None and found.state in FINISHED
        if expected and self.world.refuses_retry(found):  # type: ignore[arg-type]
            with pytest.raises(ConfigurationError, match="cannot be retried"):
                self.app.retry(job_id)
            return
        assert self.app.retry(job_id) is expected
        if found is not None and expected:
            self.world.retry(found, self.now)

    @rule(flt=filters, state=st.sampled_from(
        [None, "scheduled", "queued", "blocked", ["scheduled", "queued"], "completed"]))
    def cancel_jobs(self, flt: dict[str, Any], state: Any) -> None:
        flt.pop("queue", None)  # not one of cancel_jobs' filters
        states = [state] if isinstance(state, str) else state or PUBLIC_PENDING
        states = [s for s in states if s in PUBLIC_PENDING]
        hit = [j for j in self.world.unstarted()
               if matches(j, self.now, states, flt, OWNERS)]
        flt = {("type" if k == "job" else k): v for k, v in flt.items()}
        assert self.app.cancel_jobs(state=state, **flt) == len(hit)
        self.world.cancel(hit, self.now)

    @rule(flt=filters, state=st.sampled_from([None, "completed", "failed", "cancelled",
                                              "queued"]))
    def purge(self, flt: dict[str, Any], state: str | None) -> None:
        self.reconcile()
        states = [state] if state else list(FINISHED)
        hit = [j for j in self.world.jobs.values()
               if j.state in FINISHED and matches(j, self.now, states, flt, OWNERS)]
        assert self.app.purge(state=state, **flt) == len(hit)
        self.world.purge(hit)

    @rule()
    def purge_expired(self) -> None:
        self.reconcile()
        expired = self.world.expired(self.now)
        assert self.app.purge(expired=True) == len(expired)
        self.world.purge(expired)

    @rule(queue=st.sampled_from(QUEUES), on=st.booleans())
    def pause_queue(self, queue: str, on: bool) -> None:
        (self.app.pause if on else self.app.resume)(queue=queue)
        (self.paused_queues.add if on else self.paused_queues.discard)(queue)

    @rule(job=st.sampled_from([*JOBS, EVENT_JOB]), on=st.booleans())
    def pause_job(self, job: str, on: bool) -> None:
        (self.app.pause if on else self.app.resume)(job=job)
        (self.paused_jobs.add if on else self.paused_jobs.discard)(job)

    @rule(tier=st.sampled_from(["pro", "free"]), event_id=st.sampled_from([None, "e1", "e2"]))
    def send_event(self, tier: str, event_id: str | None) -> None:
        payload = {"plan": ["ok"], "tag": next(self.tags), "group": "g1", "tier": tier}
        record = self.app.send_event("user.created", payload, id=event_id)
        if event_id is not None and event_id in self.events:  # its runs, those not purged
            assert record.runs == [r for r in self.events[event_id] if r in self.world.jobs]
            return
        assert len(record.runs) == (tier == "pro")
        for run in record.runs:
            self.world.add(Job(
                id=run, job=EVENT_JOB, queue="default", priority=0, key=None, owner=None,
                payload=payload, plan=["ok"], run_at=self.now, created_at=self.now,
                policy=Policy()), self.now)
        if event_id is not None:
            self.events[event_id] = record.runs

    @rule(seconds=st.sampled_from([1, 30, 600, 3600, 86400]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds, "seconds")

    @rule(concurrency=st.sampled_from([1, 1, 3]), queue=st.sampled_from([None, None, "q1"]))
    def burst(self, concurrency: int, queue: str | None) -> None:
        now = self.now
        first = {j.id: (-j.priority, j.run_at) for j in self.due()
                 if queue is None or j.queue == queue}
        self.ran.clear()
        self.app.run_worker(burst=True, concurrency=concurrency, queues=queue)
        for job_id, attempt in self.ran:
            job = self.world.jobs[job_id]
            assert job in self.due() and queue in (None, job.queue), (job_id, self.ran)
            self.world.ran(job, attempt, now)
        assert not [j.id for j in self.due() if queue in (None, j.queue)], "all due ran"
        ranks = [first[i] for i, _ in self.ran if i in first]
        if concurrency == 1:
            assert ranks == sorted(ranks), f"priority order: {self.ran} {ranks}"
        assert self.app.count(state="running") == 0

    # -- invariants ------------------------------------------------------------------
    def reconcile(self, listed: list[Any] | None = None) -> None:
        """Workers purge expired jobs within seconds of their time: those may be gone."""
        stored = {r.id for r in (self.app.jobs_list() if listed is None else listed)}
        self.world.purge(j for j in self.world.expired(self.now) if j.id not in stored)

    @invariant()
    def store_agrees(self) -> None:
        listed = self.app.jobs_list()
        self.reconcile(listed)
        self.records_agree(listed)
        self.counts_agree()
        self.pauses_agree()

    def records_agree(self, listed: list[Any]) -> None:
        now = self.now
        records = {r.id: r for r in listed}
        assert list(records) == sorted(records, reverse=True), "newest first"
        assert set(records) == set(self.world.jobs), set(records) ^ set(self.world.jobs)
        for job_id, r in records.items():
            m = self.world.jobs[job_id]
            what = (job_id, r, m)
            assert r.state == m.public_state(now), what
            assert (r.job, r.queue, r.priority, r.key, r.owner, r.depends_on) == (
                m.job, m.queue, m.priority, m.key, m.given_owner, m.deps), what
            assert type(r.owner) is type(m.given_owner), what
            assert r.payload == m.payload and r.args == [m.payload], what
            # RetryIn goes past max_attempts; the record shows the attempts made
            assert (r.attempts, r.max_attempts) == (
                m.attempts, max(m.max_attempts, m.attempts)), what
            assert len(r.history) == m.attempts, what
            assert r.created_at == m.created_at, what
            assert r.finished_at == m.finished_at, what
            if m.state == "pending":
                assert r.run_at is not None and abs(r.run_at - m.run_at) < timedelta(
                    milliseconds=1), what
            if m.state == "completed":
                assert r.result == m.result and r.error is None, what
            elif m.error == DEPENDENCY:
                self.names_a_cause(m, r.error)
            elif m.error is not None and m.state != "pending":
                assert r.error is not None and m.error in r.error["message"], what
            for moment in (r.created_at, r.run_at, r.started_at, r.finished_at,
                           *(a.started_at for a in r.history),
                           *(a.finished_at for a in r.history)):
                assert moment is None or moment.utcoffset() == timedelta(0), what
        for job_id in self.world.purged:
            assert self.app.get_job(job_id) is None

    def names_a_cause(self, m: Job, error: Any) -> None:
        """A job cancelled by its dependencies names one it depends on (directly or not):
        the one that failed or was cancelled (since retried, perhaps)."""
        found = re.match(r"run (\d+)\b", error["message"] if error else "")
        assert found, (m, error)
        cause = int(found[1])
        assert cause in self.world.ancestors(m), (m, error)

    def counts_agree(self) -> None:
        expected = dict.fromkeys(STATES, 0)
        for m in self.world.jobs.values():
            expected[m.public_state(self.now)] += 1
        assert self.app.counts() == expected
        assert self.app.count() == len(self.world.jobs)
        # count(state=) for one state a step, in turn (every state a few steps apart): a
        # query each instead of seven (on PostgreSQL the invariant was most of the time)
        state = STATES[next(self.turns) % len(STATES)]
        assert self.app.count(state=state) == expected[state], state

    @rule(flt=filters, state=st.sampled_from([None, *STATES, ["queued", "failed"]]),
          limit=st.sampled_from([None, 0, 2]), offset=st.sampled_from([0, 1]))
    def query(self, flt: dict[str, Any], state: Any, limit: int | None, offset: int) -> None:
        states = [state] if isinstance(state, str) else state or list(STATES)
        expected = sorted((j.id for j in self.world.jobs.values()
                           if matches(j, self.now, states, flt, OWNERS)), reverse=True)
        assert self.app.count(state=state, **flt) == len(expected)
        listed = self.app.jobs_list(state=state, limit=limit, offset=offset, **flt)
        end = None if limit is None else offset + limit
        assert [r.id for r in listed] == expected[offset:end]

    def pauses_agree(self) -> None:
        assert set(self.app.paused_jobs()) == self.paused_jobs
        for info in self.app.queues():
            if info.name in QUEUES:
                assert info.paused == (info.name in self.paused_queues), info


@pytest.fixture
def stores(store_url: str, tmp_path: Any, request: pytest.FixtureRequest) -> Stores:
    if store_url.startswith("postgres"):
        pool = request.getfixturevalue("pg_schemas")
        return Stores(pool.take, pool.give_back)
    if store_url.startswith("sqlite"):
        numbers = itertools.count()
        return Stores(lambda: f"sqlite:///{tmp_path}/model{next(numbers)}.db")
    return Stores(lambda: store_url)


# 25 examples of 30 steps, each with burst workers: ~20 s alone, several times that on
# a machine loaded by the parallel suite, so it gets more than the default 120 s.
@pytest.mark.timeout(480)
def test_the_public_api_agrees_with_a_model_of_it(stores: Stores) -> None:
    Machine.stores = stores
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
