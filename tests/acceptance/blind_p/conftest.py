"""Fixtures of the blind acceptance pass ``blind_p``: an app on SQLite and PostgreSQL
(``app``, ``open_app``, ``url`` from the acceptance conftest) and a CLI app module."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.acceptance.blind_p.support import APP_SOURCE, run_cli


def _cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app (``$CONVEYOR_APP``, a fresh module in the current directory) on
    ``url``, migrated; returns its ``module:attr``."""
    name = f"blindp_jobs_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(APP_SOURCE)
    monkeypatch.setenv("BLINDP_URL", url)
    monkeypatch.setenv("CONVEYOR_APP", f"{name}:app")
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return f"{name}:app"


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app on the test's store (SQLite, PostgreSQL)."""
    return _cli_app(tmp_path, url, monkeypatch)


@pytest.fixture
def sqlite_cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI's app on SQLite, for checks of SQLite files themselves."""
    return _cli_app(tmp_path, f"sqlite:///{tmp_path}/jobs.db", monkeypatch)
