"""The outcome arrays' own binary dumpers send what psycopg's list dumper sends, and the
server reads back the values given (NULLs, non-ASCII text, extreme floats, empty)."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.adapt import PyFormat, Transformer

from conveyor.stores.postgres.arrays import Float8s, Int8s, Texts
from tests.postgres.helpers import connect

pytestmark = pytest.mark.postgres

CASES: list[tuple[Any, str]] = [
    (Int8s([1, 2, 3, 2**62, -5, 2**63 - 1]), "bigint[]"),
    (Int8s([]), "bigint[]"),
    (Float8s([1.5, None, -0.0, float("inf"), 1e300, 1.7e9 + 0.123456]), "float8[]"),
    (Float8s([0.1, 2.0]), "float8[]"),
    (Float8s([None]), "float8[]"),
    (Float8s([]), "float8[]"),
    (Texts(["a", None, "é☃ \\ \" ,{}", ""]), "text[]"),
    (Texts(["x"]), "text[]"),
    (Texts([None, None]), "text[]"),
    (Texts([]), "text[]"),
]


@pytest.mark.parametrize(("values", "cast"), CASES)
def test_the_server_reads_back_the_values_given(pg_url: str, values: Any, cast: str) -> None:
    with connect(pg_url) as conn:
        row = conn.execute(f"SELECT %(x)b::{cast}, %(y)b::{cast}",  # type: ignore[arg-type]
                           {"x": values, "y": list(values)}).fetchone()
    assert row is not None
    assert row[0] == list(values) == row[1]


@pytest.mark.parametrize(("values", "cast"), [
    (v, c) for v, c in CASES if v and any(x is not None for x in v) and c != "bigint[]"])
def test_the_bytes_are_psycopgs(pg_url: str, values: Any, cast: str) -> None:
    """psycopg sends ints as the smallest type that holds them (the SQL casts them to
    bigint either way), and an array of NULLs without an element type: those differ."""
    with connect(pg_url) as conn:
        tx = Transformer(conn)
        ours = tx.get_dumper(values, PyFormat.BINARY).dump(values)
        theirs = tx.get_dumper(list(values), PyFormat.BINARY).dump(list(values))
    assert ours is not None and theirs is not None
    assert bytes(ours) == bytes(theirs)
