"""Numbered ``migrations/NNNN_name.sql`` files, applied once under an advisory lock.

Adding a migration = adding a file: names sort in order, each file runs in its own
transaction, and ``conveyor_migrations`` records what ran. Several processes starting at
once wait on ``pg_advisory_lock`` and only the first applies anything.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from conveyor.errors import StoreError

_TRACKING = (
    "CREATE TABLE IF NOT EXISTS conveyor_migrations ("
    "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)


def available() -> list[tuple[str, str]]:
    """(name, SQL) of every migration file, in order."""
    folder = resources.files("conveyor.stores.postgres") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name[:-4], f.read_text(encoding="utf-8")) for f in files]


def lock_key(schema: str) -> str:
    return f"conveyor-migrate:{schema}"


def apply(
    conn: psycopg.Connection[Any], schema: str | None, upto: int | None = None
) -> list[str]:
    """Apply pending migrations (the first ``upto`` only, if given); returns their names.

    ``conn`` is an autocommit connection whose search_path starts with ``schema``.
    """
    target = schema or _current_schema(conn)
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (lock_key(target),))
    try:
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(_TRACKING)
        done = {r[0] for r in conn.execute("SELECT name FROM conveyor_migrations")}
        applied = []
        for name, text in available()[:upto]:
            if name in done:
                continue
            with conn.transaction():
                conn.execute(text.encode())
                conn.execute("INSERT INTO conveyor_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (lock_key(target),))


def _current_schema(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT current_schema()").fetchone()
    if not row or not row[0]:
        raise StoreError(
            "PostgreSQL has no current schema (empty search_path); give one: ?schema=name"
        )
    return str(row[0])
