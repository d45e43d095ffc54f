"""BEGIN IMMEDIATE while another connection holds the SQLite write lock: short naps
until it is free, StoreBusy after the busy timeout, and the connection's own busy
timeout kept for every other statement."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conveyor.errors import StoreBusy
from conveyor.stores.sqlite import connection


def busy_timeout(conn: object) -> int:
    return int(conn.execute("PRAGMA busy_timeout").fetchone()[0])  # type: ignore[attr-defined]


def test_the_write_lock_is_taken_once_the_other_connection_lets_go(tmp_path: Path) -> None:
    path = str(tmp_path / "lock.db")
    holder, waiter = connection.connect(path), connection.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def let_go() -> None:
        time.sleep(0.05)
        holder.execute("COMMIT")
        released.set()

    threading.Thread(target=let_go).start()
    connection.begin_immediate(waiter)
    assert released.is_set()  # it waited for the holder, then took the lock
    assert waiter.in_transaction
    waiter.execute("COMMIT")
    assert busy_timeout(waiter) == int(connection.BUSY_TIMEOUT * 1000)


def test_a_lock_held_past_the_busy_timeout_is_store_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "BUSY_TIMEOUT", 0.1)
    path = str(tmp_path / "lock.db")
    holder, waiter = connection.connect(path), connection.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreBusy, match="locked by another process"):
        connection.begin_immediate(waiter)
    assert not waiter.in_transaction
    assert busy_timeout(waiter) == 100  # restored for the statements that follow
    holder.execute("COMMIT")
