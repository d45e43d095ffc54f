"""Fixtures of the blind acceptance pass ``blind_p``: an app on SQLite and PostgreSQL
(``app``, ``open_app``, ``url`` from the acceptance conftest) and a CLI app module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.blind_m.support import cli_app_module
from tests.acceptance.blind_p.support import APP_SOURCE


def _cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app (``$CONVEYOR_APP``) on ``url``, migrated; returns its ``module:attr``."""
    module = cli_app_module(tmp_path, url, monkeypatch, source=APP_SOURCE, prefix="blindp")
    return f"{module.stem}:app"


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app on the test's store (SQLite, PostgreSQL)."""
    return _cli_app(tmp_path, url, monkeypatch)


@pytest.fixture
def sqlite_cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app on SQLite, for checks of SQLite files themselves."""
    return _cli_app(tmp_path, f"sqlite:///{tmp_path}/jobs.db", monkeypatch)
