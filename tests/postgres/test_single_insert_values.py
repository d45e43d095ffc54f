"""Any job a trigger may store is stored alike (or refused alike) by every insert path:
the prepared single insert and the prepared insert_many of pooled connections (single.py),
the cursor they fall back to, and the caller's own connection (``connection=``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import astuple
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.stores.base import NewJob
from conveyor.stores.postgres import single
from conveyor.testing.conformance.helpers import ManualClock
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres

COLUMNS = ("job, args, kwargs, payload::text, priority, queue, key, owner, max_attempts, "
           "retry, timeout, retention, remove_delay, run_at, version, schedule_id, fire_at, "
           "rescheduled_from, event_id, concurrency_key, trace_context, owner_int, state, "
           "created_at")

texts = st.text(st.characters(codec="utf-8"), max_size=8)  # NUL and surrogates: refused
ints = st.one_of(st.integers(-3, 3), st.integers(-(2**64), 2**64))  # (bools: refused before)
seconds = st.one_of(st.none(), st.integers(-(2**64), 2**64),
                    st.floats(allow_nan=True, allow_infinity=True))
jobs = st.builds(
    NewJob,
    job=texts,
    args=st.lists(texts, max_size=2).map(json.dumps),
    kwargs=st.dictionaries(texts, texts, max_size=1).map(
        lambda d: json.dumps(d, ensure_ascii=False)),
    payload=st.one_of(st.just("null"), texts.map(lambda t: json.dumps(t, ensure_ascii=False))),
    queue=texts,
    priority=ints,
    run_at=seconds,
    delay=st.one_of(st.integers(-5, 5), st.floats(-1e6, 1e6), st.just(float("nan"))),
    key=st.none() | texts,
    owner=st.none() | texts,
    max_attempts=ints,
    retry=st.none() | st.just('{"retries": 3}'),
    timeout=seconds,
    retention=seconds,
    remove_delay=seconds,
    version=st.none() | texts,
    fire_at=seconds,
    rescheduled_from=st.none() | ints,
    event_id=st.none() | texts,
    concurrency_key=st.none() | texts,
    trace_context=st.none() | st.just('{"t": 1}'),
    owner_int=st.none() | st.booleans(),
)


@pytest.fixture
def app(pg_store: str) -> Iterator[Conveyor]:
    app = Conveyor(pg_store, pool_size=1, clock=ManualClock(datetime(2030, 1, 1, tzinfo=UTC)))
    yield app
    app.close()


@contextmanager
def by_cursor() -> Iterator[None]:
    """Pooled connections as any other: the cursor stores every job."""
    marked = single.PREPARED
    single.PREPARED = "_not_marked"
    try:
        yield
    finally:
        single.PREPARED = marked


def outcome(app: Conveyor, store: Callable[[], list[int]]) -> tuple[Any, ...]:
    """The rows ``store`` stored, or the kind of error it raised."""
    try:
        ids = store()
    except Exception as exc:
        return ("refused", type(exc).__name__)
    with app.store.d.reading() as conn:  # type: ignore[attr-defined]
        found = [conn.execute(f"SELECT {COLUMNS} FROM conveyor_jobs WHERE id = %s",
                              (i,)).fetchone() for i in ids]
    return ("stored", *{repr(row) for row in found})


@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(job=jobs)
def test_every_insert_path_stores_a_job_alike(app: Conveyor, pg_store: str, job: NewJob) -> None:
    store: Any = app.store
    results = {"prepared": outcome(app, lambda: store.insert([job])),
               "prepared_many": outcome(app, lambda: store._store_plain([job, job]))}
    with by_cursor():
        results["cursor"] = outcome(app, lambda: store.insert([job]))
        results["cursor_many"] = outcome(app, lambda: store._store_plain([job, job]))
    first = results["cursor"]
    assert all(found == first for found in results.values()), results
    with connect(pg_store) as conn:  # (its errors are the driver's own)
        own = outcome(app, lambda: store.insert([job], connection=conn))
    assert own[0] == first[0] and (own == first or own[0] == "refused"), (own, first)
    assert store.insert([NewJob("ok")])  # the pooled connection is still fine


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=jobs, second=jobs)
def test_a_batch_of_two_stores_each_job_as_alone(
    app: Conveyor, first: NewJob, second: NewJob
) -> None:
    store: Any = app.store  # a group commit's batch: columns mixing None and values
    batch = outcome(app, lambda: store._store_plain([first, second]))
    with by_cursor():
        alone = [outcome(app, lambda job=job: store.insert([job])) for job in (first, second)]
        by_cursor_batch = outcome(app, lambda: store._store_plain([first, second]))
    assert batch == by_cursor_batch
    if batch[0] == "stored":
        assert set(batch[1:]) == {*alone[0][1:], *alone[1][1:]}, (batch, alone)
    elif all(found[0] == "stored" for found in alone):  # (then GroupCommit stores each
        # alone): only seconds past bigint mixed with floats, which psycopg's list refuses
        assert any(type(v) is int and v not in range(-(2**63), 2**63)
                   for job in (first, second) for v in astuple(job)), (batch, alone)
