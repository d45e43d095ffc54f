"""Named parameters of the SQLite claim are bound by position (conveyor.stores.sqlite.flow
.by_position): the same rows as sqlite3's own binding by name, a repeated name once."""

from __future__ import annotations

import sqlite3

from conveyor.stores.sqlite.flow import _numbered, by_position


def test_names_become_numbers_in_order_of_first_use() -> None:
    sql, names = _numbered("SELECT :now, :lease + :now, json_each(:ids) -- '%!.17g'")
    assert (sql, names) == ("SELECT ?1, ?2 + ?1, json_each(?3) -- '%!.17g'",
                            ("now", "lease", "ids"))


def test_bound_by_position_as_by_name() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"x{i}") for i in range(10)])
    sql = "SELECT a, b FROM t WHERE a >= :low AND a < :low + :span AND b != :skip ORDER BY a"
    params = {"low": 3, "span": 4, "skip": "x5", "unused": 1}
    assert by_position(conn, sql, params).fetchall() == conn.execute(sql, params).fetchall()
    assert [a for a, _ in by_position(conn, sql, params)] == [3, 4, 6]
