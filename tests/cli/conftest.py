"""CLI fixtures: an app file on a fresh SQLite store, and ways to run commands on it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main

APP_SOURCE = textwrap.dedent(
    """
    from conveyor import Conveyor, Fail, Retry

    app = Conveyor()

    @app.job
    def add(a, b):
        return a + b

    @app.job("greet", name="Greeter", version="1.2.0", queue="mail",
             retry=Retry(retries=3, wait=60, backoff="exponential"))
    def greet(payload, meta):
        meta.log.info("greeting %s", payload["name"])
        return "hello " + payload["name"]

    @app.job
    def broken(meta):
        meta.log.warning("about to fail")
        raise Fail("broken on purpose")
    """
)


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "cliapp.py"
    path.write_text(APP_SOURCE)
    return path


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.db"


Invoke = Callable[..., Result]


@pytest.fixture
def invoke(app_file: Path, db_url: str) -> Invoke:
    """Run a conveyor command in-process on the app file and the test's SQLite store."""

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        base = {"CONVEYOR_APP": str(app_file), "CONVEYOR_URL": db_url, "COLUMNS": "200"}
        return runner.invoke(main, list(args), env={**base, **(env or {})})

    return run


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 30, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``conveyor`` in a real subprocess (``prelude``: Python run before it)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    full_env.update(COLUMNS="200", **(env or {}))
    code = f"{prelude}\nfrom conveyor.cli import main\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
