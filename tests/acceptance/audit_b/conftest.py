"""Fixtures for the SPEC §7–12 audit: a CLI runner on the test's store (SQLite file or
PostgreSQL schema, from ``tests/acceptance/conftest.py``'s ``url``) with an app file
whose job ids, queues and payloads are not the happy examples."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main

APP_SOURCE = textwrap.dedent(
    '''
    from conveyor import Conveyor, Fail

    app = Conveyor(timezone="Asia/Kolkata")

    @app.job("ünï job", queue="éxports 📦")
    def uni(payload=None):
        return payload

    @app.job
    def add(a, b=0):
        return a + b

    @app.job
    def broken():
        raise Fail("nope ✗")

    @app.job
    def two_lines():
        raise ValueError("first line\\nsecond ✗ line")
    '''
)
Cli = Callable[..., Result]


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "auditapp.py"
    path.write_text(APP_SOURCE)
    return path


@pytest.fixture
def cli(app_file: Path, url: str) -> Cli:
    """``conveyor ARGS...`` in-process on the app file and the test's store."""

    def run(*args: str) -> Result:
        env = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": url, "COLUMNS": "200"}
        return CliRunner().invoke(main, list(args), env=env)

    return run


def one_error_line(result: Result) -> str:
    """A user error: non-zero exit, one line on stderr, no traceback; returns the line."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
