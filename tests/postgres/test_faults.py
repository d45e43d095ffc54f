"""Faults: unreachable server, killed connections, lost notifications."""

from __future__ import annotations

import time
from typing import Any

import pytest

from conveyor import Conveyor
from conveyor.errors import StoreError
from conveyor.stores.postgres import PostgresStore
from tests.conformance.helpers import wait_for, worker_thread
from tests.postgres.helpers import connect, terminate_sessions

pytestmark = pytest.mark.postgres


def test_unreachable_database_is_one_clear_store_error() -> None:
    with pytest.raises(StoreError) as caught:
        Conveyor("postgresql://postgres@127.0.0.1:1/nowhere")
    assert str(caught.value) == "cannot reach PostgreSQL at 127.0.0.1:1: connection refused"


def test_a_url_naming_its_host_in_the_query_connects(pg_url: str) -> None:
    # libpq's spelling: postgresql:///db?host=...&port=...&user=...
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    url = (f"postgresql://{parts.path}?host={parts.hostname}&port={parts.port or 5432}"
           f"&user={parts.username}&{parts.query}")
    with Conveyor(url) as app:
        assert app.count() == 0
    with pytest.raises(StoreError, match=r"cannot reach PostgreSQL at 127\.0\.0\.1:1:"):
        Conveyor("postgresql:///nowhere?host=127.0.0.1&port=1")


def test_missing_database_is_named_in_the_error(pg_database: str) -> None:
    url = pg_database.rsplit("/", 1)[0] + "/no_such_db_for_conveyor"
    with pytest.raises(StoreError, match='database "no_such_db_for_conveyor" does not exist'):
        Conveyor(url)


def test_store_calls_recover_after_their_connections_are_killed(pg_url: str) -> None:
    app = Conveyor(pg_url)

    @app.job
    def ping() -> None: ...

    ping().run_now()
    assert terminate_sessions(pg_url) >= 1
    try:
        found = app.count()
    except StoreError as exc:  # the killed pooled connection reports once...
        assert "cannot reach PostgreSQL" in str(exc)
        found = app.count()  # ...and the next call gets a fresh one
    assert found == 1
    app.close()


def test_worker_resumes_after_pg_terminate_backend(pg_url: str) -> None:
    app = Conveyor(pg_url, lease=2)
    done: list[int] = []

    @app.job
    def work(n: int) -> None:
        done.append(n)

    with worker_thread(app, concurrency=4):
        work(1).run_now()
        wait_for(lambda: done == [1], what="the first job")
        terminate_sessions(pg_url)
        time.sleep(0.3)
        for n in range(2, 12):
            once_more_if_killed(lambda n=n: work(n).run_now())
        wait_for(lambda: sorted(done) == list(range(1, 12)), 10, "jobs after the kill")
    app.close()


def test_listen_waiter_wakes_on_insert_and_survives_a_killed_connection(pg_url: str) -> None:
    app = Conveyor(pg_url)

    @app.job
    def ping() -> None: ...

    waiter = app.store.open_waiter()
    assert waiter.wait(0.05) is True  # registers as waiting: looks once
    wait_for(lambda: waiter.wait(0.05) is False, 10, "the registration to settle")
    ping().run_now()
    assert waiter.wait(5) is True
    terminate_sessions(pg_url)
    assert waiter.wait(5) is True  # reports the drop: notifications may have been missed
    waiter.wait(0.05)  # reconnects
    once_more_if_killed(lambda: ping().run_now())
    assert waiter.wait(5) is True
    waiter.close()
    app.close()


def once_more_if_killed(fn: Any) -> None:
    """Call ``fn``; again if it hit a pooled connection that was killed (reported once)."""
    try:
        fn()
    except StoreError:
        fn()


def test_polling_alone_runs_jobs_when_notifications_are_unavailable(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Conveyor(pg_url)
    done: list[int] = []

    @app.job
    def work(n: int) -> None:
        done.append(n)

    def broken() -> Any:
        raise StoreError("LISTEN is not available")

    monkeypatch.setattr(PostgresStore, "open_waiter", lambda self: broken())
    with worker_thread(app, poll_interval=0.1):
        for n in range(5):
            work(n).run_now()
        wait_for(lambda: len(done) == 5, 10, "jobs found by polling")
    app.close()


def test_maintenance_vacuums_the_hot_table_when_dead_rows_pile_up(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.stores.postgres import upkeep

    monkeypatch.setattr(upkeep, "DEAD_ROWS", 100)
    monkeypatch.setattr(upkeep, "CHECK_EVERY", 0.0)
    app = Conveyor(pg_url)

    @app.job
    def ping() -> None: ...

    app.enqueue_many([ping() for _ in range(300)])
    app.run_worker(burst=True)  # 600 dead row versions (claims and completions)
    store = app.store
    assert isinstance(store, PostgresStore)

    def vacuumed() -> bool:
        store.rescue()  # what every maintenance pass calls
        if store.upkeep.running:
            store.upkeep.running.join(10)
        with connect(pg_url) as conn:
            row = conn.execute(
                "SELECT last_vacuum FROM pg_stat_user_tables "
                "WHERE relid = 'conveyor_jobs'::regclass"
            ).fetchone()
        return bool(row and row[0])

    wait_for(vacuumed, 10, "a VACUUM of conveyor_jobs")
    app.close()


def test_the_vacuum_threshold_grows_with_the_table_between_bounds() -> None:
    from conveyor.stores.postgres.upkeep import DEAD_ROWS, MIN_DEAD_ROWS, threshold

    assert threshold(0) == threshold(5_000) == MIN_DEAD_ROWS
    assert threshold(1_000_000) == 100_000
    assert threshold(10**8) == DEAD_ROWS


def test_the_pool_hands_out_the_connection_returned_last(pg_store: str) -> None:
    # one backend keeps a worker's statements (its caches warm), not each in turn
    store = PostgresStore(pg_store)
    try:
        db = store.db
        with db.connection() as a, db.connection() as b, db.connection() as c:
            pids = [conn.info.backend_pid for conn in (a, b, c)]
        for _ in range(3):
            with store.db.connection() as conn:
                assert conn.info.backend_pid == pids[0]  # returned last (outermost)
    finally:
        store.close()
