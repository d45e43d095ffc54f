"""Fixtures of the blind acceptance tests of SPEC §6-7 and §9-12 (each test runs on the
memory, SQLite and PostgreSQL stores; CLI tests on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor import Conveyor
from tests.acceptance.blind_surface.support import (
    APP_SOURCE,
    run_cli,
)


@pytest.fixture
def app(store_url: str) -> Iterator[Conveyor]:
    """An app on an empty memory, SQLite and PostgreSQL store."""
    with Conveyor(store_url) as application:
        yield application


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module file defining ``app`` on the test's store (SQLite, PostgreSQL); returns it."""
    source = tmp_path / "blind_jobs.py"
    source.write_text(APP_SOURCE)
    monkeypatch.setenv("BLIND_URL", url)
    monkeypatch.setenv("CONVEYOR_APP", f"{source}:app")
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return source
