"""The database clock decides due times and leases; enqueue inside the caller's transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
import time_machine

from conveyor import Conveyor
from conveyor.errors import ConfigurationError
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres


def test_store_now_reads_the_database_clock(pg_url: str) -> None:
    app = Conveyor(pg_url)
    with time_machine.travel(datetime(2001, 1, 1, tzinfo=UTC), tick=True):
        db_now = app.store.now()
    assert abs(db_now - time.time()) < 5
    app.close()


def test_a_job_due_by_the_database_clock_runs_when_the_host_clock_lags(pg_url: str) -> None:
    app = Conveyor(pg_url)
    done: list[str] = []

    @app.job
    def work() -> None:
        done.append("ran")

    with time_machine.travel(time.time() - 3600, tick=True):  # this host is an hour behind
        handle = work().run_in(0, "seconds")
        record = app.get_job(handle.id)
        assert record is not None and record.state == "queued"
        app.run_worker(burst=True)
    assert done == ["ran"]
    app.close()


def test_delays_and_leases_count_from_the_database_clock(pg_url: str) -> None:
    app = Conveyor(pg_url, lease=30)

    @app.job
    def work() -> None: ...

    with time_machine.travel(time.time() + 7200, tick=True):  # this host is 2 h ahead
        handle = work().run_in(60, "seconds")
    db_now = app.store.now()
    record = app.get_job(handle.id)
    assert record is not None and record.state == "scheduled"
    assert abs(record.run_at.timestamp() - (db_now + 60)) < 5
    with connect(pg_url) as conn:
        conn.execute("UPDATE conveyor_jobs SET run_at = 0")
    with time_machine.travel(time.time() + 7200, tick=True):
        claimed = app.store.claim("w", None, 1, app.lease)
    assert claimed and abs(claimed[0].started_at - db_now) < 5
    assert app.store.rescue() == 0  # a skewed host does not see the lease as expired
    app.close()


@pytest.fixture
def app(pg_url: str) -> Iterator[Conveyor]:
    """An app with a ``work(n)`` job returning n."""
    application = Conveyor(pg_url)

    @application.job
    def work(n: int) -> int:
        return n

    yield application
    application.close()


def test_a_job_triggered_in_a_committed_transaction_exists(app: Conveyor, pg_url: str) -> None:
    work = app.jobs["work"]
    with connect(pg_url) as conn:
        conn.autocommit = False
        conn.execute("CREATE TABLE orders (id int)")
        conn.execute("INSERT INTO orders VALUES (1)")
        handle = work(1).run_now(connection=conn)
        many = app.enqueue_many([work(2), work(3)], connection=conn)
        assert app.get_job(handle.id) is None  # not visible before the commit
        conn.commit()
    assert app.count() == 3 and [h.id for h in many] == [handle.id + 1, handle.id + 2]
    app.run_worker(burst=True)
    assert handle.result(timeout=30) == 1


def test_a_job_triggered_in_a_rolled_back_transaction_never_exists(
    app: Conveyor, pg_url: str
) -> None:
    with connect(pg_url) as conn:
        conn.autocommit = False
        conn.execute("SET search_path TO public")  # the caller's own search_path is kept
        handle = app.jobs["work"](1).run_in(5, "minutes", connection=conn, unique=True, key="k")
        row = conn.execute("SHOW search_path").fetchone()
        assert row == ("public",)
        conn.rollback()
    assert app.get_job(handle.id) is None and app.count() == 0


def test_connection_must_be_a_psycopg_connection(app: Conveyor) -> None:
    with pytest.raises(ConfigurationError, match="psycopg"):
        app.jobs["work"](1).run_now(connection=object())


def test_sqlite_transactional_enqueue_takes_a_sqlite3_connection(tmp_path: object) -> None:
    import sqlite3

    path = f"{tmp_path}/jobs.db"
    app = Conveyor(f"sqlite:///{path}")

    @app.job
    def work() -> None: ...

    with pytest.raises(ConfigurationError, match=r"must be a sqlite3\.Connection"):
        work().run_now(connection=object())
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    dropped = work().run_now(connection=conn)
    conn.execute("ROLLBACK")
    assert app.get_job(dropped.id) is None
    conn.execute("BEGIN")
    kept = work().run_now(connection=conn)
    conn.execute("COMMIT")
    assert app.get_job(kept.id) is not None
    conn.close()
    app.close()


def test_a_connection_to_another_database_is_refused_clearly(
    app: Conveyor, pg_url: str
) -> None:
    other = pg_url.split("?")[0].rsplit("/", 1)[0] + "/postgres"
    refused = pytest.raises(ConfigurationError, match="without conveyor's tables")
    with psycopg.connect(other) as conn, refused:
        app.jobs["work"](1).run_now(connection=conn)
