"""A single trigger on a pooled connection goes through the prepared statement
(single.py): it stores what the cursor stored, refuses what it refused with the same
errors, and falls back to the cursor for the caller's own connection, values of other
types and a statement the server no longer has."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import PayloadError, StoreDataError
from conveyor.stores.base import NewJob
from conveyor.stores.postgres import single
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres

COLUMNS = ("job, args, kwargs, payload::text, priority, queue, key, owner, max_attempts, "
           "retry, timeout, retention, remove_delay, CASE WHEN run_at > 1.8e9 THEN run_at ELSE "
           "run_at - created_at END, version, "
           "schedule_id, fire_at, rescheduled_from, event_id, concurrency_key, "
           "trace_context, owner_int, state")


@pytest.fixture
def app(pg_store: str) -> Iterator[Conveyor]:
    app = Conveyor(pg_store, pool_size=1)  # one pooled connection: the one deallocated

    @app.job
    def noop() -> None:
        """Does nothing."""

    yield app
    app.close()


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which path each single insert took: "prepared" or "cursor"."""
    taken: list[str] = []
    real = single.insert_one

    def spy(*args: Any) -> int | None:
        found = real(*args)
        taken.append("cursor" if found is None else "prepared")
        return found

    monkeypatch.setattr("conveyor.stores.postgres.dialect.insert_one", spy)
    return taken


def rows(app: Conveyor, ids: list[int]) -> list[tuple[Any, ...]]:
    with app.store.d.reading() as conn:  # type: ignore[attr-defined]
        return [conn.execute(f"SELECT {COLUMNS} FROM conveyor_jobs WHERE id = %s",
                             (i,)).fetchone() for i in ids]


JOBS = [
    NewJob("a"),
    NewJob("b", '["é☃"]', '{"k": 1}', '{"k": 1}', priority=-3, queue="q", key="k",
           owner="o", max_attempts=4, retry='{"retries": 3}', timeout=2.5, retention=60.0,
           remove_delay=1.0, run_at=1.9e9, version="1.2", concurrency_key="c",
           trace_context='{"t": 1}', owner_int=True),
    NewJob("c", delay=5, timeout=3, retention=0),  # seconds as ints
    NewJob("d", priority=2**40),  # beyond int: refused by the database, as before
]


def test_a_pooled_single_insert_stores_what_the_cursor_stores(
    app: Conveyor, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = [app.store.insert([job])[0] for job in JOBS[:3]]
    assert paths == ["prepared"] * 3
    monkeypatch.setattr(single, "PREPARED", "_not_marked")  # every connection: the cursor
    by_cursor = [app.store.insert([job])[0] for job in JOBS[:3]]
    assert paths[3:] == ["cursor"] * 3
    assert rows(app, prepared) == rows(app, by_cursor)


def test_a_bad_single_insert_fails_as_through_the_cursor(
    app: Conveyor, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [JOBS[3], NewJob("e", key="a\x00b"), NewJob("f", "[\"\\u0000\"]", "{}", '"\\u0000"')]
    errors = []
    for job in bad:
        with pytest.raises((StoreDataError, PayloadError)) as caught:
            app.store.insert([job])
        errors.append(type(caught.value))
    monkeypatch.setattr(single, "PREPARED", "_not_marked")
    for job, error in zip(bad, errors, strict=True):
        with pytest.raises(error):
            app.store.insert([job])
    assert errors == [StoreDataError, StoreDataError, PayloadError]
    assert app.store.insert([NewJob("ok")])  # the connection is still fine
    assert app.count() == 1


def test_the_callers_own_connection_and_a_deallocated_statement_take_the_cursor(
    app: Conveyor, paths: list[str], pg_store: str
) -> None:
    job = app.jobs["noop"]
    job().run_now()
    with connect(pg_store) as conn:
        job().run_now(connection=conn)
    assert paths == ["prepared", "cursor"]
    with app.store.db.connection() as pooled:  # type: ignore[attr-defined]
        pooled.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    job().run_now()  # the cursor this once: the statement is prepared again next time
    job().run_now()
    assert paths[2:] == ["cursor", "prepared"]
    with app.store.db.connection() as pooled:  # type: ignore[attr-defined]
        getattr(pooled, single.PREPARED).clear()  # as after a Ctrl-C during its PREPARE
    job().run_now()  # prepares it again: the server has it already
    assert paths[4:] == ["prepared"]
    assert app.count() == 5


def test_a_group_commit_batch_stores_what_the_cursor_stores(
    app: Conveyor, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    real = single.insert_many

    def spy(*args: Any) -> list[int] | None:
        found = real(*args)
        taken.append("cursor" if found is None else "prepared")
        return found

    monkeypatch.setattr("conveyor.stores.postgres.dialect.insert_many", spy)
    store: Any = app.store
    prepared = store._store_plain(JOBS[:3])  # what GroupCommit stores in one statement
    odd = store._store_plain([NewJob("x", priority=True), NewJob("y", priority=False)])
    with pytest.raises(StoreDataError):
        store._store_plain([NewJob("z"), JOBS[3]])
    monkeypatch.setattr(single, "PREPARED", "_not_marked")
    by_cursor = store._store_plain(JOBS[:3])
    assert taken == ["prepared", "cursor", "cursor"]  # (the refused batch: no result)
    assert prepared == sorted(prepared) and len(prepared) == 3
    assert rows(app, prepared) == rows(app, by_cursor)
    assert [r[4] for r in rows(app, odd)] == [1, 0] and app.count() == 8


def test_prepared_names_carry_the_schema(app: Conveyor) -> None:
    """A pooler sharing server sessions between apps must never run one schema's INSERT
    for another's: the statement's name is tagged with the schema it was prepared in."""
    app.jobs["noop"]().run_now()
    with app.store.d.reading() as conn:  # type: ignore[attr-defined]
        names = [n for (n,) in conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'conveyor_insert%'")]
    schema = app.store.settings.schema  # type: ignore[attr-defined]
    tag = f"_{zlib.crc32(schema.encode()):08x}"
    assert names and all(n.endswith(tag) for n in names), (names, tag)
