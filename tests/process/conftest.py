"""Fixtures of the process tests: a store URL per store (a SQLite file in the test's
folder, a migrated PostgreSQL schema of its own from the pool) and the test app of
``app.py`` on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.support import store_url

from .app import build


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url(request.param, request, tmp_path, "jobs.db", migrated=True)


@pytest.fixture
def lease() -> float:
    """The lease of ``app`` (a test module overrides it)."""
    return 1.0


@pytest.fixture
def app(url: str, lease: float) -> Iterator[Conveyor]:
    application = build(url, lease=lease)
    yield application
    application.close()
