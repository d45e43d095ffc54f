"""Fixtures of the blind acceptance tests of the async API, integrations (§11) and testing
helpers (§12); each test runs on the memory, SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conveyor import Conveyor


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    """An app on an empty memory, SQLite and PostgreSQL store."""
    with Conveyor(store_url, lease=2) as application:
        yield application


@pytest.fixture(params=["sqlite", "postgres"])
def django_db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[dict[str, str]]:
    """A Django DATABASES entry on a new SQLite file or a new PostgreSQL database."""
    pytest.importorskip("django")
    if request.param == "sqlite":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.db")}
        return
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN_URL
    from tests.support import drop_database_later

    request.getfixturevalue("pg_database")  # skips (or fails in CI) without a server
    name = f"blind_django_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": "postgres",
           "HOST": "127.0.0.1", "PORT": "5432"}
    drop_database_later(PG_ADMIN_URL, name)
