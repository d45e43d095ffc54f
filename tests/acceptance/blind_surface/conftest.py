"""Fixtures of the blind acceptance tests of SPEC §6-7 and §9-12 (each test runs on the
memory, SQLite and PostgreSQL stores; CLI tests on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_surface.support import (
    APP_SOURCE,
    app_module,
)


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    """An app on an empty memory, SQLite and PostgreSQL store."""
    with Conveyor(store_url) as application:
        yield application


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module file defining ``app`` on the test's store (SQLite, PostgreSQL); returns it."""
    return app_module(tmp_path, monkeypatch, "blind_jobs.py", APP_SOURCE, "BLIND_URL", url)
