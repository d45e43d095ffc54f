"""A bulk insert stores exactly the rows its jobs stored one at a time would (SQLite's
VALUES row by row for a few jobs and shared-value VALUES for more, PostgreSQL's unnest
INSERT and COPY), ids in order; a bad call in
enqueue_many is refused with its own clear error and stores nothing (every store)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor import Conveyor
from conveyor.errors import PayloadError
from conveyor.stores.base import NewJob
from conveyor.stores.postgres.dialect import COPY_FROM
from conveyor.stores.rows import Alike
from conveyor.testing import FakeClock

# Thousands of single-row commits per test (15 s alone): several times the default
# 120 s timeout on a CI machine loaded by the parallel suite.
pytestmark = pytest.mark.timeout(600)

COLUMNS = (
    "job, args, kwargs, {payload}, state, priority, queue, key, owner, dedupe_key, "
    "max_attempts, retry, timeout, retention, remove_delay, run_at, created_at, version, "
    "schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, trace_context"
)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
maybe_text = st.none() | text
maybe_seconds = st.none() | st.floats(0, 1e6)


@st.composite
def new_jobs(draw: st.DrawFn) -> NewJob:
    """A plain job; each field either the batch's usual value or a drawn one."""
    payload = draw(st.sampled_from(["{}", "[1, 2]", '{"a": "\\\\t\\n"}']) | text.map(repr_json))
    return NewJob(
        draw(st.sampled_from(["a", "b\\c"])), f"[{payload}]", "{}", payload,
        queue=draw(st.sampled_from(["default", "q\tq"])),
        priority=draw(st.sampled_from([0, 0, -3, 7])),
        run_at=draw(st.none() | st.floats(1.9e9, 2e9)),
        delay=draw(st.sampled_from([0.0, 0.0, 2.5, 60.0])),
        key=draw(maybe_text), owner=draw(maybe_text),
        max_attempts=draw(st.sampled_from([1, 1, 4])),
        retry=draw(st.none() | st.just('{"retries": 3}')),
        timeout=draw(maybe_seconds), retention=draw(maybe_seconds),
        remove_delay=draw(maybe_seconds), version=draw(st.none() | st.just("1.2.0")),
        concurrency_key=draw(maybe_text), trace_context=draw(st.none() | st.just('{"t": 1}')),
    )


def repr_json(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def stored(app: Conveyor, ids: list[int]) -> list[tuple[Any, ...]]:
    """The stored columns of ``ids`` (in that order)."""
    postgres = type(app.store).__name__.startswith("Postgres")
    sql = (f"SELECT id, {COLUMNS.format(payload='payload::text' if postgres else 'payload')} "
           f"FROM conveyor_jobs WHERE id IN ({', '.join(map(str, ids))})")
    with app.store.d.reading() as conn:  # type: ignore[attr-defined]
        rows = {r[0]: tuple(r[1:]) for r in conn.execute(sql).fetchall()}
    return [rows[i] for i in ids]


@pytest.fixture
def sql_app(store_url: str) -> Any:
    if store_url.startswith("memory"):
        pytest.skip("the SQL stores' bulk paths")
    app = Conveyor(store_url)
    with FakeClock(app, start=datetime(2031, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
                   patch_python=False):
        yield app
    app.close()


@pytest.mark.parametrize("count", [2, 5, 41, COPY_FROM, 2100])
def test_a_bulk_insert_stores_what_single_inserts_store(sql_app: Conveyor, count: int) -> None:
    jobs = [NewJob("a", f"[{i}]", "{}", str(i), priority=i % 3, key=None if i % 2 else "k",
                   run_at=None if i % 5 else 1.9e9 + i, delay=float(i % 7))
            for i in range(count)]
    bulk = sql_app.store.insert(jobs)
    assert bulk == sorted(bulk) and len(set(bulk)) == count
    single = [sql_app.store.insert([job])[0] for job in jobs]
    assert stored(sql_app, bulk) == stored(sql_app, single)


@pytest.mark.parametrize("count", [2, 5])
def test_seconds_given_as_ints_are_stored_in_bulk_as_alone(sql_app: Conveyor, count: int) -> None:
    # PostgreSQL packs a column's array itself only when all its values are of its type
    jobs = [NewJob("a", "[0]", "{}", "0", delay=5 if i % 2 else 2.5, timeout=3,
                   retention=None if i % 2 else 60, run_at=1_900_000_000 if i == 1 else None,
                   rescheduled_from=None if i % 2 else 7)
            for i in range(count)]
    bulk = sql_app.store.insert(jobs)
    single = [sql_app.store.insert([job])[0] for job in jobs]
    assert stored(sql_app, bulk) == stored(sql_app, single)


def test_many_identical_jobs_are_each_stored(sql_app: Conveyor) -> None:
    jobs = [NewJob("a", delay=5.0) for _ in range(4100)]  # SQLite: statements of 2,000
    bulk = sql_app.store.insert(jobs)
    assert bulk == sorted(bulk) and len(set(bulk)) == len(jobs)
    single = sql_app.store.insert([NewJob("a", delay=5.0)])
    assert set(stored(sql_app, bulk)) == set(stored(sql_app, single))
    assert sql_app.count() == len(jobs) + 1


@settings(max_examples=12, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mix_of_fields_is_stored_alike_in_bulk_and_alone(
    sql_app: Conveyor, data: st.DataObject
) -> None:  # one app for every example: each compares its own ids
    size = data.draw(st.sampled_from([3, COPY_FROM + 5]))
    common = data.draw(new_jobs())
    jobs = [data.draw(st.just(common) | new_jobs()) for _ in range(size)]
    bulk = sql_app.store.insert(jobs)
    assert bulk == sorted(bulk) and len(set(bulk)) == size
    single = [sql_app.store.insert([job])[0] for job in jobs]
    assert stored(sql_app, bulk) == stored(sql_app, single)


@settings(max_examples=8, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(common=new_jobs(), size=st.sampled_from([2, COPY_FROM + 1]), data=st.data())
def test_jobs_alike_but_their_arguments_are_stored_as_each_alone(
    sql_app: Conveyor, common: NewJob, size: int, data: st.DataObject
) -> None:  # enqueue_many's rows of one job (Alike: the other fields read once)
    # Drawn at once: the pool's threads may use `random` meanwhile (Hypothesis warns).
    keys = data.draw(st.lists(maybe_text, min_size=size, max_size=size))
    traces = data.draw(st.lists(st.sampled_from([None, "{}"]), min_size=size, max_size=size))
    varied = [dataclasses.replace(common, args=f"[{n}]", payload=str(n),
                                  concurrency_key=keys[n], trace_context=traces[n])
              for n in range(size)]
    columns = {name: [getattr(job, name) for job in varied] for name in Alike.varying}
    bulk = sql_app.store.insert(Alike(varied[0], size, columns))
    single = [sql_app.store.insert([job])[0] for job in varied]
    assert stored(sql_app, bulk) == stored(sql_app, single)


@pytest.mark.parametrize("count", [3, COPY_FROM + 1])
def test_jobs_of_an_alike_batch_changed_as_objects_are_stored_as_changed(
    app: Conveyor, count: int
) -> None:  # as inline() makes them due now, or tracing sets their trace context
    batch = Alike(NewJob("a", "[0]", "{}", "0", delay=60.0), count,
                  {"args": [f"[{n}]" for n in range(count)],
                   "payload": [str(n) for n in range(count)]})
    for job in batch:
        job.delay = 0.0
    ids = app.store.insert(batch)
    records = app.jobs_list(ids=ids, limit=count, newest_first=False)
    assert [(r.args, r.state) for r in records] == [([n], "queued") for n in range(count)]


@pytest.mark.parametrize("position", [0, 150, 299])
def test_a_bad_call_in_a_bulk_is_named_and_nothing_is_stored(app: Conveyor, position: int) -> None:
    @app.job
    def item(n: Any) -> None: ...

    calls = [item(n) for n in range(300)]
    calls[position] = item({"when": object()})
    with pytest.raises(PayloadError, match=r"payload\[\"when\"\] is an object"):
        app.enqueue_many(calls)
    assert app.count() == 0


def test_depends_on_in_a_bulk_is_refused_saying_how_to_give_it(app: Conveyor) -> None:
    @app.job
    def item(n: int) -> None: ...

    head = item(0).run_now()
    with pytest.raises(ValueError, match=r"enqueue_many does not take depends_on: trigger "
                                         r"each dependent with run_now\(depends_on="):
        app.enqueue_many([item(1), item(2)], depends_on=[head])  # type: ignore[call-arg]
    assert app.count() == 1


def test_copy_uses_the_ids_it_reserved_when_they_are_not_consecutive(sql_app: Conveyor) -> None:
    if not type(sql_app.store).__name__.startswith("Postgres"):
        pytest.skip("PostgreSQL's COPY reserves ids")
    with sql_app.store.d.reading() as conn:  # type: ignore[attr-defined]
        conn.execute("ALTER SEQUENCE conveyor_jobs_id_seq INCREMENT BY 3")  # as if shared

    @sql_app.job
    def item(n: int) -> None: ...

    handles = sql_app.enqueue_many(item(n) for n in range(COPY_FROM + 1))
    ids = [h.id for h in handles]
    assert ids == sorted(ids) and ids[1] - ids[0] == 3
    assert [sql_app.get_job(i).args for i in ids] == [[n] for n in range(COPY_FROM + 1)]  # type: ignore[union-attr]
