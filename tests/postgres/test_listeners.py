"""Inserts notify only while a worker waits (conveyor_listeners), and no wake-up is lost:
an insert that looked before a worker registered wakes it once committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from conveyor import Conveyor
from conveyor.stores.postgres.records import ListenWaiter
from tests.conformance.helpers import wait_for, worker_thread
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_url: str) -> Iterator[Conveyor]:
    application = Conveyor(pg_url)

    @application.job
    def ping(n: int = 0) -> int:
        return n

    yield application
    application.close()


def heard(conn: psycopg.Connection[Any], timeout: float) -> bool:
    return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))


def listeners(pg_url: str) -> int:
    with connect(pg_url) as conn:
        row = conn.execute("SELECT count(*) FROM conveyor_listeners").fetchone()
    return int(row[0]) if row else 0


def settled(waiter: ListenWaiter) -> None:
    """Wait until the waiter's registration looks for nothing more (it reports no change)."""
    wait_for(lambda: waiter.wait(0.05) is False, 10, "the registration to settle")


def test_an_insert_notifies_only_while_a_worker_waits(app: Conveyor, pg_url: str) -> None:
    ping = app.jobs["ping"]
    with connect(pg_url) as ear:  # hears what the inserts send
        ear.execute(f'LISTEN "conveyor_{app.store.schema}"')
        ping().run_now()
        assert not heard(ear, 0.2)
        waiter = app.store.open_waiter()
        assert isinstance(waiter, ListenWaiter)
        assert waiter.wait(0.05) is True  # registered: it looks once more
        assert listeners(pg_url) == 1
        settled(waiter)
        ping().run_now()
        assert waiter.wait(5) is True and heard(ear, 5)
        waiter.rest()  # the worker is busy
        assert listeners(pg_url) == 0
        ping().run_now()
        assert not heard(ear, 0.2)
        assert waiter.wait(0.05) is True  # waits again: registers and looks
        waiter.close()
    assert listeners(pg_url) == 0


def test_an_insert_that_looked_before_the_registration_wakes_the_waiter_at_its_commit(
    app: Conveyor, pg_url: str
) -> None:
    with connect(pg_url) as conn:
        conn.autocommit = False
        conn.execute("SELECT 1")  # opens the transaction the insert joins
        app.jobs["ping"]().run_now(connection=conn)  # looked: nobody registered
        waiter = app.store.open_waiter()
        assert waiter.wait(0.05) is True  # registered: it looks (the job is not visible)
        for _ in range(5):
            assert waiter.wait(0.05) is False  # the insert's transaction is still open
        conn.commit()
    wait_for(lambda: waiter.wait(0.05), 10, "a wake-up once the insert committed")
    settled(waiter)
    waiter.close()


def test_an_insert_under_repeatable_read_notifies_without_registrations(
    app: Conveyor, pg_url: str
) -> None:
    with connect(pg_url) as ear, connect(pg_url) as conn:
        ear.execute(f'LISTEN "conveyor_{app.store.schema}"')
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.execute("SELECT 1")  # its snapshot, which may predate a registration
        app.jobs["ping"]().run_now(connection=conn)
        conn.commit()
        assert heard(ear, 5)


def test_an_insert_from_a_session_on_another_search_path_wakes_the_waiter(
    app: Conveyor, pg_url: str
) -> None:
    # The trigger's function names the listeners table with its schema (no SET
    # search_path of its own): an insert from any search_path finds the registration.
    waiter = app.store.open_waiter()
    assert waiter.wait(0.05) is True  # registered
    settled(waiter)
    with connect(pg_url) as conn:
        conn.execute("SET search_path = pg_catalog")
        conn.execute(sql.SQL("INSERT INTO {} (job, state, run_at, created_at) "
                             "VALUES ('ping', 'pending', 0, 0)").format(
            sql.Identifier(app.store.schema, "conveyor_jobs")))
    assert waiter.wait(5) is True
    waiter.close()


def test_registrations_of_ended_sessions_are_forgotten(app: Conveyor, pg_url: str) -> None:
    with connect(pg_url) as conn:
        conn.execute("INSERT INTO conveyor_listeners (pid, since) VALUES (-1, 0)")
    waiter = app.store.open_waiter()
    waiter.wait(0.05)  # registers, forgetting pid -1
    assert listeners(pg_url) == 1
    waiter.close()
    with connect(pg_url) as conn:
        conn.execute("INSERT INTO conveyor_listeners (pid, since) VALUES (-1, 0)")
        conn.execute("SELECT conveyor_forget_listeners()")
    assert listeners(pg_url) == 0


def test_an_idle_worker_starts_every_burst_from_many_connections_without_polling(
    app: Conveyor, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker never polls (600 s) and unregisters as soon as it is busy, so it
    # registers again and again while other connections insert: a wake-up lost in that
    # race would leave a burst's last jobs waiting for the poll.
    monkeypatch.setattr("conveyor.worker.watch.REST_AFTER", 0.001)
    ping = app.jobs["ping"]
    producers, per, rounds = 4, 5, 25
    start = threading.Barrier(producers + 1)
    finish = threading.Barrier(producers + 1)
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with connect(pg_url) as conn:  # each its own session: commits race
                for _ in range(rounds):
                    start.wait(30)
                    for _ in range(per):
                        with conn.transaction():
                            ping().run_now(connection=conn)
                            # Committed a moment after it looked for registrations.
                            conn.execute("SELECT pg_sleep(0.002)")
                    finish.wait(30)
        except BaseException as exc:
            errors.append(exc)
            start.abort()
            finish.abort()

    threads = [threading.Thread(target=produce) for _ in range(producers)]
    with worker_thread(app, poll_interval=600, maintenance_interval=600):
        for t in threads:
            t.start()
        for n in range(1, rounds + 1):
            start.wait(30)
            finish.wait(30)
            wait_for(lambda n=n: app.count(state="completed") == n * producers * per, 30,
                     f"round {n}'s jobs to run, woken (the worker never polls)")
        for t in threads:
            t.join(30)
    assert not errors
