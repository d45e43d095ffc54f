"""Triggers inside Django's ``transaction.atomic()`` join Django's own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.app import Conveyor


def install(app: Conveyor, alias: str, django_url: str | None) -> None:
    """Store ``app``'s triggers on Django's connection ``alias`` (whose conveyor URL is
    ``django_url``; None: not one conveyor can share) while it is inside an atomic
    block, when both use the same database (PostgreSQL or SQLite)."""
    if django_url is not None and _same(app.url, django_url):
        app.ambient_connection = lambda: atomic_connection(alias)


def _same(a: str, b: str) -> bool:
    def base(url: str) -> str:
        return url.split("?", 1)[0].replace("postgres://", "postgresql://").rstrip("/")

    return base(a) == base(b)


def atomic_connection(alias: str) -> Any:
    """Django's raw driver connection when inside ``transaction.atomic()``, else None."""
    from django.db import connections

    conn = connections[alias]
    if not conn.in_atomic_block:
        return None
    conn.ensure_connection()
    raw = conn.connection
    if conn.vendor == "postgresql":
        # Open Django's transaction now (psycopg starts it lazily), so the trigger joins
        # it instead of committing on its own.
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
    return raw
