"""SQLite reads the hot and dashboard queries through their indexes, not every row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.stores.base import JobFilter
from conveyor.stores.core.filters import where
from conveyor.stores.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore("sqlite:///x", str(tmp_path / "x.db"))
    opened.migrate()
    yield opened
    opened.close()


def plan(store: SQLiteStore, sql: str, params: dict[str, object]) -> str:
    with store.db.reading() as conn:
        return " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("state", ["queued", "scheduled", "waiting"])
def test_counting_an_unfinished_state_reads_the_due_index(store: SQLiteStore, state: str) -> None:
    params = store.d.params()
    condition = where(store.d, JobFilter(states=[state]), params)
    sql = f"SELECT count(*) FROM conveyor_jobs WHERE {condition}"
    assert "USING INDEX conveyor_jobs_due" in plan(store, sql, params)


@pytest.mark.parametrize("name", ["queue_counts", "counts_by_state", "next_due"])
def test_counts_and_the_due_time_never_scan_the_table(store: SQLiteStore, name: str) -> None:
    found = plan(store, store.d.q[name], store.d.params())
    assert "SCAN conveyor_jobs |" not in f"{found} |", found
