"""SPEC §4 finding as a property: any mix of jobs (queues, owners, keys, due now or later)
and any filter by state, queue, owner and key finds the same jobs on every store, and
``count`` agrees with ``jobs_list``."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor

QUEUES = ["default", "q1", "Q1", "é", "q 1"]
OWNERS = [None, 0, 1, "u", "U", 2**63, -1]
KEYS = [None, "", "k", "K", "ü"]
JOBS = st.lists(st.tuples(st.sampled_from(QUEUES), st.sampled_from(OWNERS),
                          st.sampled_from(KEYS), st.booleans()), min_size=1, max_size=6)
FILTERS = st.fixed_dictionaries({}, optional={
    "state": st.sampled_from(["queued", "scheduled", ["queued", "scheduled"], "completed"]),
    "queue": st.one_of(st.sampled_from(QUEUES), st.lists(st.sampled_from(QUEUES), max_size=2)),
    "owner": st.sampled_from(OWNERS), "key": st.sampled_from([k for k in KEYS if k is not None]),
})


@settings(max_examples=15, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(jobs=JOBS, filters=FILTERS)
def test_every_store_finds_the_same_jobs(every_store: list[Conveyor], jobs: list[Any],
                                         filters: dict[str, Any]) -> None:
    def found(app: Conveyor) -> list[int]:
        if "listed" not in app.jobs:
            @app.job
            def listed(n: int) -> None: ...
        app.cancel_jobs()
        app.purge()
        positions = {}
        for n, (queue, owner, key, later) in enumerate(jobs):
            call = app.jobs["listed"](n)
            options = {"queue": queue, "owner": owner, "key": key}
            handle = call.run_in(1, "hour", **options) if later else call.run_now(**options)
            positions[handle.id] = n
        hits = sorted(positions[r.id] for r in app.jobs_list(**filters))
        assert app.count(**filters) == len(hits)
        return hits

    memory, *others = (found(each) for each in every_store)
    assert all(hits == memory for hits in others), (memory, others)


OPTIONS = st.fixed_dictionaries({}, optional={
    "priority": st.one_of(st.sampled_from(["low", "normal", "medium", "high", "critical"]),
                          st.integers(-(2**31), 2**31 - 1)),
    "queue": st.sampled_from(QUEUES), "owner": st.sampled_from(OWNERS),
    "key": st.sampled_from(KEYS), "retry": st.integers(0, 5),
    "timeout": st.floats(0, 1e6), "retention": st.sampled_from([0, 1.5, "7 days", None]),
})


@settings(max_examples=15, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(options=st.lists(OPTIONS, min_size=1, max_size=4))
def test_every_store_reads_back_the_same_trigger_options(every_store: list[Conveyor],
                                                         options: list[dict[str, Any]]) -> None:
    def stored(app: Conveyor) -> list[Any]:
        if "opted" not in app.jobs:
            app.job("opted")(lambda: None)
        app.cancel_jobs()
        records = [app.get_job(app.jobs["opted"]().run_in(1, "hour", **o).id) for o in options]
        return [(int(r.priority), str(r.priority), r.queue, r.owner, r.key, r.max_attempts,
                 r.state) for r in records if r is not None]

    memory, *others = (stored(each) for each in every_store)
    assert all(found == memory for found in others), (memory, others)
