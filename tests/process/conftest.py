"""Fixtures of the process tests: a store URL per store (a SQLite file in the test's
folder, a migrated PostgreSQL schema of its own from the pool) and the test app of
``app.py`` on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from conveyor import Conveyor
from tests.support import store_url

from .app import build
from .fleet import load_fleet


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


@pytest.fixture
def fleet(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fleet app of ``fleet_app.py`` on ``url`` (tests/process/test_fleet_*.py)."""
    yield from load_fleet(url, monkeypatch)


@pytest.fixture
def ticking(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fleet app with its one-second schedule ``tick``."""
    monkeypatch.setenv("CONVEYOR_TEST_TICK", "1")
    yield from load_fleet(url, monkeypatch)
