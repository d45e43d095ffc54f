"""One random sequence of public calls (triggers with hostile-but-valid options, clock
moves, burst workers, cancels, retries, purges, pauses, run-time schedules and queries
with every filter) run on the memory, SQLite and PostgreSQL stores at once: after every
step the three read back the same records, counts and query answers, and the worker ran
the due jobs in SPEC §4's order (higher priority first, then oldest due, then oldest)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conveyor import Conveyor, Retry
from conveyor.testing import enqueued, run_until_idle
from conveyor.testing.conformance.helpers import ManualClock
from tests.acceptance.blind_diff.conftest import Trio
from tests.acceptance.blind_diff.support import (
    JSON,
    KEYS,
    NAMES,
    OWNERS,
    PRIORITIES,
    T0,
    TEXT,
    listing,
    outcome,
    ranks,
    snapshot,
)

#: Examples per run (each opens three stores); CONVEYOR_DIFF_EXAMPLES explores more.
EXAMPLES = int(os.environ.get("CONVEYOR_DIFF_EXAMPLES", "8"))
PHASES = list(Phase)[:3] if os.environ.get("CONVEYOR_DIFF_NO_SHRINK") else list(Phase)
STATES = ["scheduled", "queued", "running", "waiting", "completed", "failed", "cancelled"]
SCHEDULES = ["every 15 minutes", "every day at 2:30 am", "0 2 * * *", "every 90 minutes",
             "every weekday at 9:30 am", "*/20 * * * * *", "every 5 hours"]
WHEN = st.one_of(
    st.just(("now", None)),
    st.tuples(st.just("in"), st.tuples(st.sampled_from([0, 0.5, 1, 90, 3600]),
                                       st.sampled_from(["ms", "seconds", "minute", "days"]))),
    st.tuples(st.just("at"), st.sampled_from([-10**9, -3600, -1e-6, 0, 1e-6, 30, 86400])),
)
FILTERS = st.fixed_dictionaries({}, optional={
    "state": st.sampled_from([*STATES, ["queued", "scheduled"]]),
    "job": st.sampled_from(["work", "side", ["work", "side"]]),
    "queue": NAMES, "owner": OWNERS, "key": KEYS.filter(lambda k: k is not None),
    "data": st.sampled_from([{}, {"tag": "é"}, {"tag": "É"}, {"fail": 0}, {"fail": 0.0}]),
    "text": TEXT.filter(bool),
    "since": st.sampled_from([T0, T0 + timedelta(seconds=1), T0 - timedelta(days=1)]),
    "until": st.sampled_from([T0, T0 + timedelta(seconds=1), T0 + timedelta(days=9)]),
})


def _define(app: Conveyor, ran: list[tuple[int, int]]) -> None:
    @app.job(retry=Retry(retries=2, wait=30, backoff="linear"))
    def work(payload: dict[str, Any], meta: Any) -> Any:
        ran.append((meta.job.id, meta.attempt))
        meta.log.info(f"attempt {meta.attempt} of {payload['tag']}")
        if payload["fail"] >= meta.attempt:
            raise ValueError(f"failing {payload['tag']!r}")
        return payload["value"]

    @app.job("side", queue="side", priority="high")
    def side(payload: Any, meta: Any) -> None:
        ran.append((meta.job.id, meta.attempt))

    @app.job("durable", trigger=app.event("signed.up", filter={"plan": ["pro", 1]}))
    async def durable(payload: Any, io: Any, ctx: Any) -> Any:
        got = await io.task("load", lambda: {"run": "loaded"})
        await io.wait("cool-off", 90, "seconds")
        return got

    app.queue("limited", rate="2/minute")


class Machine(RuleBasedStateMachine):
    trio: Trio

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(T0)
        self.apps = self.trio.open(clock=self.clock, lease=30)
        self.ran: list[list[tuple[int, int]]] = [[] for _ in self.apps]
        for app, ran in zip(self.apps, self.ran, strict=True):
            _define(app, ran)

    def teardown(self) -> None:
        self.trio.close(self.apps)

    def each(self, call: Any) -> Any:
        """``call(app)`` on every store; they must agree; the memory store's answer."""
        found = [outcome(lambda app=app: call(app)) for app in self.apps]
        assert found[1] == found[0] and found[2] == found[0], found
        return found[0]

    def ids(self, pick: int) -> list[int]:
        """The id of the ``pick``-th listed job (by rank) on each store."""
        rows = [sorted(r.id for r in listing(app)) for app in self.apps]
        return [r[pick % len(r)] if r else 10**9 for r in rows]

    @rule(job=st.sampled_from(["work", "work", "side", "durable"]), value=JSON,
          fail=st.integers(0, 3), tag=TEXT, when=WHEN, after=st.none() | st.integers(0, 50),
          options=st.fixed_dictionaries({}, optional={
              "priority": PRIORITIES, "queue": NAMES, "owner": OWNERS, "key": KEYS,
              "replace": st.booleans(), "unique": st.booleans(),
              "retention": st.sampled_from([None, 0, 60, "1 hour"]),
              "remove_delay": st.sampled_from([None, 0, 30]),
              "retry": st.sampled_from([0, 1, Retry(retries=3, wait=1, backoff="exponential")])}))
    def trigger(self, job: str, value: Any, fail: int, tag: str, when: Any, after: int | None,
                options: dict[str, Any]) -> None:
        payload = {"value": value, "fail": fail, "tag": tag}
        how, arg = when
        dependencies = iter(self.ids(after) if after is not None else [])

        def call(app: Conveyor) -> int:
            made = app.jobs[job](payload)
            more = {"depends_on": [next(dependencies)]} if after is not None else {}
            if how == "now":
                handle = made.run_now(**options, **more)
            elif how == "in":
                handle = made.run_in(*arg, **options, **more)
            else:
                handle = made.run_at(self.clock.now() + timedelta(seconds=arg), **options,
                                     **more)
            return ranks(listing(app))[handle.id]

        self.each(call)

    @rule(plan=st.sampled_from(["pro", "PRO", 1, 1.0, True, None]),
          event_id=st.sampled_from([None, "e1", "e2"]))
    def send_event(self, plan: Any, event_id: str | None) -> None:
        self.each(lambda app: len(app.send_event("signed.up", {"plan": plan},
                                                 id=event_id).runs))

    @rule(seconds=st.sampled_from([1e-6, 1, 30, 61, 3600, 86400]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)

    @rule()
    def drain(self) -> None:
        """Burst workers run the same jobs in the same order on every store; the plain
        jobs due at the start (outside the rate-limited queue) in SPEC §4's order."""
        expected, order = [], []
        for app, ran in zip(self.apps, self.ran, strict=True):
            paused = {q.name for q in app.queues() if q.paused} | {"limited"}
            due = [r for r in listing(app) if r.state == "queued" and r.queue not in paused
                   and r.job in ("work", "side") and r.job not in app.paused_jobs()]
            due.sort(key=lambda r: (-int(r.priority), r.run_at, r.id))
            rank = ranks(listing(app))  # as before the drain (some are purged once done)
            ran.clear()
            run_until_idle(app, concurrency=1)
            expected.append([rank[r.id] for r in due])
            order.append([rank.get(i, "new") for i, _ in ran])
        assert order[1] == order[0] and order[2] == order[0], order
        assert expected[1] == expected[0] and expected[2] == expected[0], expected
        # (a retry without a wait is due again at once and runs in the same drain)
        first = [n for n in dict.fromkeys(order[0]) if n in expected[0]]
        assert first == expected[0], (order, expected)

    @rule(pick=st.integers(0, 50), cascade=st.booleans())
    def cancel(self, pick: int, cascade: bool) -> None:
        ids = iter(self.ids(pick))
        self.each(lambda app: app.cancel(next(ids), cascade=cascade))

    @rule(pick=st.integers(0, 50))
    def retry(self, pick: int) -> None:
        ids = iter(self.ids(pick))
        self.each(lambda app: app.retry(next(ids)))

    @rule(flt=FILTERS)
    def cancel_jobs(self, flt: dict[str, Any]) -> None:
        flt = {("type" if k == "job" else k): v for k, v in flt.items()
               if k in ("job", "data", "state", "owner", "key")}
        self.each(lambda app: app.cancel_jobs(**flt))

    @rule(flt=FILTERS)
    def purge(self, flt: dict[str, Any]) -> None:
        self.each(lambda app: app.purge(**flt))

    @rule()
    def purge_expired(self) -> None:
        self.each(lambda app: app.purge(expired=True))

    @rule(which=st.one_of(NAMES.map(lambda q: {"queue": q}),
                           st.sampled_from(["work", "side"]).map(lambda j: {"job": j})),
          on=st.booleans())
    def pause(self, which: dict[str, str], on: bool) -> None:
        self.each(lambda app: (app.pause if on else app.resume)(**which))

    @rule(text=st.sampled_from(SCHEDULES), data=st.sampled_from([{}, {"tag": "é"}]),
          key=st.sampled_from([None, "s"]))
    def schedule(self, text: str, data: dict[str, Any], key: str | None) -> None:
        payload = {"value": text, "fail": 0, "tag": "schedule", **data}

        def call(app: Conveyor) -> int:
            handle = app.schedule_job(type="work", data=payload, schedule=text, key=key)
            return ranks(listing(app))[handle.id]

        self.each(call)

    @rule(flt=FILTERS, limit=st.sampled_from([None, 0, 1, 3]), offset=st.sampled_from([0, 2]),
          newest_first=st.booleans(), below=st.none() | st.integers(0, 50),
          above=st.none() | st.integers(0, 50))
    def query(self, flt: dict[str, Any], limit: int | None, offset: int, newest_first: bool,
              below: int | None, above: int | None) -> None:
        bounds = [{} for _ in self.apps]
        for name, pick in (("before_id", below), ("after_id", above)):
            if pick is not None:
                for bound, i in zip(bounds, self.ids(pick), strict=True):
                    bound[name] = i
        found = iter(bounds)

        def ask(app: Conveyor) -> Any:
            options = {**flt, **next(found)}
            rank = ranks(listing(app))
            hits = app.jobs_list(limit=limit, offset=offset, newest_first=newest_first,
                                 **options)
            every = app.jobs_list(newest_first=newest_first, **options)
            # a page is that slice of every match, newest (highest id) first by default
            assert [r.id for r in every] == sorted((r.id for r in every), reverse=newest_first)
            end = None if limit is None else offset + limit
            assert [r.id for r in hits] == [r.id for r in every][offset:end]
            assert app.count(**options) == len(every)
            return [rank[r.id] for r in hits], len(every)

        self.each(ask)

    @invariant()
    def stores_agree(self) -> None:
        self.each(snapshot)
        for app in self.apps:
            counts = app.counts()
            assert counts == {s: app.count(state=s) for s in counts}, counts
        self.each(lambda app: (app.counts(), app.paused_jobs(), sorted(
            (q.name, sorted(q.counts.items()), q.concurrency, q.rate, q.paused)
            for q in app.queues())))
        self.each(lambda app: [r.payload["tag"] for r in enqueued(app, "work", fail=0)])


def test_every_store_reads_back_the_same_after_any_sequence(trio: Trio) -> None:
    Machine.trio = trio
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), phases=PHASES))
