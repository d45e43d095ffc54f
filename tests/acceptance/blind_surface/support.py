"""Helpers of the blind acceptance tests of SPEC §6-7 and §9-12."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from conveyor import Conveyor, parse_schedule
from conveyor.cli import main as cli

AFTER = datetime(2030, 1, 4, 8, 7, tzinfo=UTC)  # a Friday


NEW_YORK = ZoneInfo("America/New_York")


def u(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type,misc]


def _next(text: str, after: datetime = AFTER, count: int = 3, tz: str | None = None
          ) -> list[datetime]:
    times = parse_schedule(text, tz=tz).next(after=after, count=count)
    assert all(t.tzinfo is not None for t in times)
    return [t.astimezone(UTC) for t in times]


APP_SOURCE = textwrap.dedent("""
    import os
    from conveyor import Conveyor, Retry

    app = Conveyor(os.environ["BLIND_URL"])
    seen = []

    @app.job("grüße")
    def greet(payload=None, *args, **kwargs):
        return {"payload": payload, "args": list(args), "kwargs": kwargs}

    @app.job
    def explode():
        raise RuntimeError("kaboom")
""")


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str,
               url_variable: str, url: str) -> Path:
    """Writes ``source`` (a module defining ``app`` on the store its ``url_variable``
    names) as ``name`` in ``tmp_path``, makes it the CLI's app there, migrates its store."""
    module = tmp_path / name
    module.write_text(source)
    monkeypatch.setenv(url_variable, url)
    monkeypatch.setenv("CONVEYOR_APP", f"{module}:app")
    monkeypatch.chdir(tmp_path)
    assert run_cli("migrate").exit_code == 0
    return module


def assert_user_error(result: Result, *words: str) -> None:
    """One clear line on stderr naming ``words`` (any case), a non-zero exit, no traceback."""
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


def _run_id(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return int(re.findall(r"\d+", result.stdout)[-1])


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.pop("CONVEYOR_APP", None)
    return env


def _client(app: Conveyor, **options: Any) -> TestClient:
    return TestClient(app.asgi(**options))


def _slug(client: TestClient, job_id: str) -> str:
    jobs = client.get("/api/jobs").json()
    items = jobs if isinstance(jobs, list) else next(v for v in jobs.values()
                                                     if isinstance(v, list))
    return next(str(j["slug"]) for j in items if j.get("id") == job_id)


def _id_in(body: Any) -> int:
    if isinstance(body, dict):
        for key in ("id", "run_id"):
            if isinstance(body.get(key), int):
                return int(body[key])
        for value in body.values():
            if isinstance(value, dict):
                return _id_in(value)
    raise AssertionError(body)


def _items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    return next(v for v in body.values() if isinstance(v, list))
