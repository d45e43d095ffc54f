"""Fixtures of the blind acceptance pass ``blind_m``: an app on SQLite and PostgreSQL
(``app``, ``open_app``, ``url`` from the acceptance conftest) and a CLI app module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.blind_m.support import cli_app_module


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's app on the test's store (SQLite, PostgreSQL)."""
    return cli_app_module(tmp_path, url, monkeypatch)


@pytest.fixture
def sqlite_cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's app on SQLite, for checks of input the CLI refuses before any store."""
    return cli_app_module(tmp_path, f"sqlite:///{tmp_path}/jobs.db", monkeypatch)
