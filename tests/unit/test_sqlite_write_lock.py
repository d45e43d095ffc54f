"""BEGIN IMMEDIATE while another connection holds the SQLite write lock: short naps
until it is free, StoreBusy after the busy timeout, and the connection's own busy
timeout in force for every statement outside a transaction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conveyor.errors import StoreBusy
from conveyor.stores.sqlite import connection


def busy_timeout(conn: object) -> int:
    return int(conn.execute("PRAGMA busy_timeout").fetchone()[0])  # type: ignore[attr-defined]


def _let_go_soon(holder: object) -> threading.Event:
    """Set just before the holder commits: the waiter can take the lock as soon as the
    COMMIT lets go of it, before this thread runs again, so the event cannot come after."""
    letting_go = threading.Event()

    def let_go() -> None:
        time.sleep(0.05)
        letting_go.set()
        holder.execute("COMMIT")  # type: ignore[attr-defined]

    threading.Thread(target=let_go).start()
    return letting_go


def test_the_write_lock_is_taken_once_the_other_connection_lets_go(tmp_path: Path) -> None:
    path = str(tmp_path / "lock.db")
    holder, waiter = connection.connect(path), connection.Locked(connection.connect(path))
    holder.execute("BEGIN IMMEDIATE")
    released = _let_go_soon(holder)
    with waiter.transaction() as conn:
        assert released.is_set()  # it waited for the holder, then took the lock
        assert conn.in_transaction
    with waiter.reading() as conn:
        assert busy_timeout(conn) == int(connection.BUSY_TIMEOUT * 1000)


def test_a_statement_after_a_transaction_waits_for_the_lock(tmp_path: Path) -> None:
    """The busy timeout a transaction turns off (its BEGIN is retried with naps instead)
    is back for the autocommit statements that follow it: a single trigger's INSERT waits
    for another process's write lock, it does not fail at once."""
    path = str(tmp_path / "lock.db")
    holder, db = connection.connect(path), connection.Locked(connection.connect(path))
    db.conn.execute("CREATE TABLE t (x)")
    with db.transaction() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    holder.execute("BEGIN IMMEDIATE")
    released = _let_go_soon(holder)
    with db.reading() as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    assert released.is_set()
    with db.reading() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_lock_held_past_the_busy_timeout_is_store_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.1)
    path = str(tmp_path / "lock.db")
    holder, waiter = connection.connect(path), connection.Locked(connection.connect(path))
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreBusy, match="locked by another process"), waiter.transaction():
        pass
    assert not waiter.conn.in_transaction
    with waiter.reading() as conn:
        assert busy_timeout(conn) == 100  # in force for the statements that follow
    holder.execute("COMMIT")
