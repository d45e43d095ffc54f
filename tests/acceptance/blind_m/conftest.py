"""Fixtures of the blind acceptance pass ``blind_m``: an app on SQLite and PostgreSQL
(``app``, ``open_app``, ``url`` from the acceptance conftest) and a CLI app module."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.acceptance.blind_m.support import APP_SOURCE, run_cli


def _app_module(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module ``blindm_jobs_*.py`` defining ``app`` on ``url``, made the CLI's app
    (``$CONVEYOR_APP``, imported from the current directory), its store migrated."""
    name = f"blindm_jobs_{uuid.uuid4().hex[:8]}"  # a fresh import in this process
    module = tmp_path / f"{name}.py"
    module.write_text(APP_SOURCE)
    monkeypatch.setenv("BLINDM_URL", url)
    monkeypatch.setenv("CONVEYOR_APP", f"{name}:app")
    monkeypatch.delenv("CONVEYOR_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return module


@pytest.fixture
def cli_app(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's app on the test's store (SQLite, PostgreSQL)."""
    return _app_module(tmp_path, url, monkeypatch)


@pytest.fixture
def sqlite_cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's app on SQLite, for checks of input the CLI refuses before any store."""
    return _app_module(tmp_path, f"sqlite:///{tmp_path}/jobs.db", monkeypatch)
