"""Upgrading a store whose chain members were released before their pipe was cleared on
release (SQLite 0012, PostgreSQL 0016): a retried member is fed its input once."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor import Conveyor, chain
from conveyor.stores.postgres import PostgresStore
from conveyor.stores.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A store migrated up to the migration before the pipe one, and a way to run SQL."""
    if request.param == "sqlite":
        path = tmp_path / "old.db"
        url = f"sqlite:///{path}"
        store: Any = SQLiteStore(url, str(path))
        store.migrate_to(11)

        def run(sql: str, *params: object) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(sql.replace("%s", "?"), params)
    else:
        from tests.postgres.helpers import connect

        url = str(request.getfixturevalue("pg_url"))
        store = PostgresStore(url)
        store.migrate_to(15)

        def run(sql: str, *params: object) -> None:
            with connect(url) as conn:
                conn.execute(sql.encode(), params)
    yield url, (store, run)
    store.close()


def test_a_member_released_then_cancelled_before_the_upgrade_is_fed_once(
    old_store: tuple[str, Any],
) -> None:
    url, (store, run) = old_store
    app = Conveyor(url, migrate=False)

    @app.job
    def ok(x: int) -> int:
        return x

    @app.job
    def plus(v: int, n: int = 1) -> int:
        return v + n

    released = chain(ok(1), plus()).run_now().ids
    blocked = chain(ok(2), plus()).run_now().ids
    complete = "UPDATE conveyor_jobs SET state = 'completed', result = '7', finished_at = %s "
    # Released (given [7]) as its dependency completed, then cancelled before it ran.
    run(complete + "WHERE id = %s", 1.0e9, released[0])
    assert app.cancel(released[1])
    # Cancelled while blocked; its dependency completed afterwards.
    assert app.cancel(blocked[1])
    run(complete + "WHERE id = %s", 4.0e9, blocked[0])
    assert app.get_job(released[1]).args == [7]
    assert app.get_job(blocked[1]).args == []
    store.migrate()
    assert app.retry(released[1]) and app.retry(blocked[1])
    app.run_worker(burst=True)
    for member in (released[1], blocked[1]):
        record = app.get_job(member)
        assert (record.state, record.args, record.result) == ("completed", [7], 8)
    app.close()
