"""The PostgreSQL store's pool hands out the idle connection returned last (LifoPool,
overriding psycopg_pool internals: this fails if they change)."""

from __future__ import annotations

import pytest

from conveyor import Conveyor

pytestmark = pytest.mark.postgres


def test_the_pool_hands_out_the_connection_returned_last(pg_url: str) -> None:
    app = Conveyor(pg_url)
    try:
        pool = app.store.db.pool()
        conns = [pool.getconn() for _ in range(3)]
        pids = [conn.info.backend_pid for conn in conns]
        for conn in conns:  # returned in order: the last one returned is pids[2]
            pool.putconn(conn)
        for expected in (pids[2], pids[2], pids[2]):
            with pool.connection() as conn:
                assert conn.info.backend_pid == expected
        first, second = pool.getconn(), pool.getconn()
        assert [first.info.backend_pid, second.info.backend_pid] == [pids[2], pids[1]]
        pool.putconn(second)
        pool.putconn(first)
    finally:
        app.close()
