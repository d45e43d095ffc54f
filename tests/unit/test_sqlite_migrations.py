"""SQLite migrations: numbered files, user_version, upgrade equals fresh install."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from conveyor.stores.sqlite import SQLiteStore
from conveyor.stores.sqlite.schema import MIGRATIONS, available

ROOT = Path(__file__).resolve().parents[2] / "conveyor" / "stores"

# A released migration is never edited again: add a new file instead. New files are
# added here once released.
RELEASED = {
    "sqlite/migrations/0001_jobs.sql": "c934428fb9fc201e",
    "sqlite/migrations/0002_durable_events.sql": "50deda8cf5d4db18",
    "sqlite/migrations/0003_finished_state_index.sql": "4c460f0a03cfe55a",
    "sqlite/migrations/0004_schedules.sql": "1a2f6397527b2541",
    "postgres/migrations/0001_core.sql": "b8e3e6f484e5ea73",
    "postgres/migrations/0002_durable_events.sql": "4c619e8e57f90ca8",
    "postgres/migrations/0004_schedules.sql": "e1cef2cb1ba02e52",
    "postgres/migrations/0005_finished_state_index.sql": "f910d1a5d39f27c0",
}


def catalog(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return sorted(tuple(" ".join(str(v).split()) for v in row) for row in rows)


def test_files_are_numbered_in_order_and_user_version_is_the_last_number(
    tmp_path: Path,
) -> None:
    numbers = [number for number, _, _ in available()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    store = SQLiteStore("sqlite:///x", str(tmp_path / "x.db"))
    assert store.migrate() == [name for name, _ in MIGRATIONS]
    assert store.migrate() == []
    store.close()
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == numbers[-1]


@pytest.mark.parametrize("step", range(len(available())))
def test_upgraded_database_equals_a_fresh_one(tmp_path: Path, step: int) -> None:
    fresh = SQLiteStore("sqlite:///fresh", str(tmp_path / "fresh.db"))
    fresh.migrate()
    old = SQLiteStore("sqlite:///old", str(tmp_path / "old.db"))
    assert len(old.migrate_to(step)) == step  # a database created by an older release...
    old.migrate()  # ...upgraded by this one
    fresh.close()
    old.close()
    expected = catalog(tmp_path / "fresh.db")
    assert any(row[0] == "index" for row in expected)
    assert catalog(tmp_path / "old.db") == expected


@pytest.mark.parametrize("name", sorted(RELEASED))
def test_a_released_migration_is_never_edited(name: str) -> None:
    digest = hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:16]
    assert digest == RELEASED[name], f"{name} was released: add a new migration instead"


def test_postgres_migration_numbers_are_unique() -> None:
    numbers = [f.name[:4] for f in (ROOT / "postgres" / "migrations").glob("*.sql")]
    assert len(numbers) == len(set(numbers)), sorted(numbers)
